// Package mf is matrix factorisation for explicit or implicit feedback,
// shared by the critic (package rl), the MF baseline (package eval) and the
// builtin ranking policy (package llm). It sits below all three so that
// none of them imports across the one-way flow of the project.
package mf
