// Package serve owns flexrec's reward service: the HTTP handler behind
// `flexrec serve` that scores model answers for a trainer with the same
// functions `flexrec parse` and `flexrec reward` use (package rank's
// Parser and Repair, package rl's Group), so a reward computed in training
// equals the one in a rollout record, bit for bit.
//
// Endpoints:
//
//   - POST /v1/score: a batch of items (completion, ground truth, optional
//     item reward rule, cutoff, finish reason and token offsets) → one
//     result per item: list reward, item rewards, permutation, generated
//     flags, the parse report, u and per-token rewards.
//   - POST /get_reward: OpenRLHF's remote reward model protocol (query,
//     prompts, labels → rewards, scores, extra_logs).
//   - GET /healthz and GET /metrics (Prometheus text format).
//
// Bad input gets a 400 whose message names the item index and the field.
// The handler never panics on any body (see FuzzHandler).
package serve
