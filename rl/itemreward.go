package rl

import (
	"fmt"
	"slices"
)

// ItemReward names a rule that turns a ranking into one reward per
// position (method.md §3). The zero value "" means CausalSwap.
type ItemReward string

// The item reward rules. In every formula g_p is the gain of the item at
// 1-based position p of the permutation, d_p its discount (0 past the
// cutoff), K the permutation length and IDCG the episode's ideal DCG; every
// reward is 0 when IDCG is 0.
const (
	// CausalSwap (the default, FlexRec's reward) is the mean loss of list
	// reward when the item at k is swapped with a later one, the items
	// still available when position k was chosen:
	//	r_k = 1/(K−k) Σ_{j>k} (g_k − g_j)(d_k − d_j) / IDCG,  r_K = 0.
	CausalSwap ItemReward = "causal-swap"
	// Independent is the item's own share of the DCG: r_k = g_k d_k / IDCG.
	// The rewards sum to the list reward.
	Independent ItemReward = "independent"
	// NonCausalSwap swaps with every other position, earlier ones included:
	//	r_k = 1/(K−1) Σ_{j≠k} (g_k − g_j)(d_k − d_j) / IDCG,  0 when K = 1.
	NonCausalSwap ItemReward = "noncausal-swap"
	// RankLevel is the DCG from k to the end (reward-to-go, in the style of
	// Rank-GRPO): r_k = Σ_{p>=k} g_p d_p / IDCG, so r_1 is the list reward.
	RankLevel ItemReward = "rank-level"
)

// ItemRewards lists the rules, default first.
var ItemRewards = []ItemReward{CausalSwap, Independent, NonCausalSwap, RankLevel}

// ParseItemReward returns the rule named s ("" gives CausalSwap), or an
// error listing the valid names.
func ParseItemReward(s string) (ItemReward, error) {
	if s == "" {
		return CausalSwap, nil
	}
	if r := ItemReward(s); slices.Contains(ItemRewards, r) {
		return r, nil
	}
	return "", fmt.Errorf("rl: unknown item reward %q (causal-swap, independent, noncausal-swap, rank-level)", s)
}

// ItemRewardsInto writes the item reward of every position of perm under
// rule kind into dst[:K] and returns it; dst is grown only when its
// capacity is below K, so passing the previous result back makes the call
// allocation-free. perm is checked as in ListReward.
//
// Closed forms replace the O(K²) swapping: with suffix sums over positions
// after k, D_k = Σ d_j, G_k = Σ g_j, (GD)_k = Σ g_j d_j and m = K − k,
//
//	Σ_{j>k} (g_k − g_j)(d_k − d_j) = m g_k d_k − g_k D_k − d_k G_k + (GD)_k,
//
// and NonCausalSwap uses the totals over all positions with m = K. Every
// rule costs O(K) and agrees with brute-force swapping to rounding (about
// 1e-15 relative; tied gains give ±1e-17 rather than exact zeros). K = 1
// gives 0 for both swap rules.
func (s *Scorer) ItemRewardsInto(dst []float64, perm []int, kind ItemReward) ([]float64, error) {
	if err := s.check(perm); err != nil {
		return dst, err
	}
	dst = slices.Grow(dst[:0], len(perm))[:len(perm)]
	switch kind {
	case CausalSwap, "":
		s.causal(dst, perm)
	case Independent:
		for p, i := range perm {
			dst[p] = s.gains[i] * s.disc[p] * s.inv
		}
	case NonCausalSwap:
		s.nonCausal(dst, perm)
	case RankLevel:
		var sum float64
		for p := len(perm) - 1; p >= 0; p-- {
			sum += s.gains[perm[p]] * s.disc[p]
			dst[p] = sum * s.inv
		}
	default:
		_, err := ParseItemReward(string(kind))
		return dst, err
	}
	return dst, nil
}

// causal is the O(K) causal swap: one backward pass carrying the suffix
// sums of d, g and g·d over the positions after p.
func (s *Scorer) causal(dst []float64, perm []int) {
	var sd, sg, sgd float64
	last := len(perm) - 1
	for p := last; p >= 0; p-- {
		g, d := s.gains[perm[p]], s.disc[p]
		if m := float64(last - p); m > 0 {
			dst[p] = (g*(m*d-sd) - d*sg + sgd) * s.inv / m
		} else {
			dst[p] = 0
		}
		sd += d
		sg += g
		sgd += g * d
	}
}

// nonCausal is the O(K) non-causal swap: totals first, then one pass.
func (s *Scorer) nonCausal(dst []float64, perm []int) {
	k := len(perm)
	if k == 1 {
		dst[0] = 0
		return
	}
	var td, tg, tgd float64
	for p, i := range perm {
		g, d := s.gains[i], s.disc[p]
		td += d
		tg += g
		tgd += g * d
	}
	m, scale := float64(k), s.inv/float64(k-1)
	for p, i := range perm {
		g, d := s.gains[i], s.disc[p]
		dst[p] = (g*(m*d-td) - d*tg + tgd) * scale
	}
}

// ItemRewardsFor returns the item rewards of perm under gains, cutoff k
// (k <= 0: whole list) and rule kind, in a new slice; see
// Scorer.ItemRewardsInto for formulas and edge cases. It allocates a
// Scorer: O(N log N). Use a Scorer and ItemRewardsInto in loops.
func ItemRewardsFor(gains []float64, perm []int, k int, kind ItemReward) ([]float64, error) {
	s, err := NewScorer(gains, k)
	if err != nil {
		return nil, err
	}
	return s.ItemRewardsInto(nil, perm, kind)
}

// CausalSwapInto writes the causal swap rewards of perm into dst, as
// Scorer.ItemRewardsInto does with CausalSwap, using a caller-owned
// Scorer sc for its buffers: it resets sc to gains and k (O(N log N) for
// the IDCG), so call sc.ItemRewardsInto directly when scoring several
// permutations of one episode. Steady-state calls allocate nothing.
func CausalSwapInto(dst []float64, sc *Scorer, gains []float64, perm []int, k int) ([]float64, error) {
	if err := sc.Reset(gains, k); err != nil {
		return dst, err
	}
	return sc.ItemRewardsInto(dst, perm, CausalSwap)
}
