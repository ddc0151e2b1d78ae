// Package testbed proves FlexRec's credit assignment on a CPU (method.md
// §3–6): it trains a small ranking policy with each advantage estimator
// that package rl computes — sequence-level GRPO, the independent
// contribution, the non-causal and causal swaps, and the causal swap over
// gains a critic fills in under sparse feedback, with and without
// uncertainty scaling — from the same seeds and the same budget of
// sampled rollouts, and measures the policies on held-out users with the
// dense truth.
//
// The policy is linear: candidate i of an episode has the logit w·x_i, with
// x_i its features (matrix-factorisation affinity and predicted rating,
// popularity, recent popularity, genre match and novelty with the history)
// and their interactions with a one-hot of the episode's need. It ranks by
// sampling a permutation autoregressively from a Plackett–Luce model, so
// every position's log-probability and its gradient with respect to w have
// closed forms; training is the clipped policy-gradient update of PPO and
// GRPO with an exact per-position KL term to the initial policy, and Adam.
//
// The testbed is its own package, not part of flexrec's inference and data
// flow: LLM fine-tuning happens outside flexrec, and this CPU trainer
// exists only to show, on real data and in minutes, that the advantages
// flexrec exports carry more learning signal than a list-level reward. It
// sits beside package eval in the one-way flow and does not import it, so
// the ranking metrics it reports come in from the caller as Measures
// (cmd/flexrec passes eval.NDCG and eval.Recall). Package testbed/report
// writes the results: the table, its JSON, the curves and an HTML page.
package testbed
