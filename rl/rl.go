// Package rl owns FlexRec's reinforcement-learning signal (method.md §3–5):
// the list reward (NDCG of a ranking under a need's gains), the item
// rewards (causal swap and its ablations), the rollout uncertainty
// propagated from a critic's gain variances, and the group-normalised
// sequence-, item- and token-level advantages. Filling an episode's gains
// from a critic lives here too (Fill); the critics themselves live in
// package rl/critic.
//
// Everything here is pure arithmetic over explicit inputs. The hot paths
// (Scorer, Group) reuse their buffers, so a steady-state training loop
// allocates nothing.
package rl
