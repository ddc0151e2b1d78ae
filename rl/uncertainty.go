package rl

import (
	"fmt"
	"math"
	"slices"
)

// Uncertainty names how a rollout's uncertainty u_i is computed from the
// gain variances σ² of its items (method.md §4). The zero value ""
// means Propagated.
type Uncertainty string

const (
	// Propagated (the default) is the variance of the list reward
	// propagated from independent gain variances, IDCG held fixed:
	//	u = Σ_{p=1}^{K} (d_p / IDCG)² σ²[perm[p-1]].
	Propagated Uncertainty = "propagated"
	// PlainSum is Σ σ² over the positions within the cutoff. Over the
	// whole list every rollout holds the same items, so it is the same for
	// the whole group and the scaling has no effect after renormalisation.
	PlainSum Uncertainty = "sum"
	// NoUncertainty disables the scaling: every c_i is 1.
	NoUncertainty Uncertainty = "none"
)

// Variance returns the uncertainty u of perm from the per-candidate gain
// variances (index-aligned with the Scorer's gains; observed candidates
// have variance 0) under rule kind; see the Uncertainty constants for the
// formulas. u = 0 when IDCG = 0 (Propagated) or variances is nil. Errors
// wrap ErrGains (variances not aligned, negative or not finite) or
// ErrPermutation. O(K), no allocation.
func (s *Scorer) Variance(perm []int, variances []float64, kind Uncertainty) (float64, error) {
	if err := s.check(perm); err != nil {
		return 0, err
	}
	if err := s.checkVariances(variances); err != nil {
		return 0, err
	}
	return s.variance(perm, variances, kind), nil
}

func (s *Scorer) checkVariances(variances []float64) error {
	if variances == nil {
		return nil
	}
	if len(variances) != s.n {
		return fmt.Errorf("rl: %d variances for %d gains: %w", len(variances), s.n, ErrGains)
	}
	return checkNonNegative(variances, "variance")
}

func (s *Scorer) variance(perm []int, variances []float64, kind Uncertainty) float64 {
	if variances == nil {
		return 0
	}
	var u float64
	switch kind {
	case Propagated, "":
		for p, i := range perm[:min(len(perm), s.cut)] {
			w := s.disc[p] * s.inv
			u += w * w * variances[i]
		}
	case PlainSum:
		for _, i := range perm[:min(len(perm), s.cut)] {
			u += variances[i]
		}
	}
	return u
}

// ItemVariancesInto writes into dst[:K] the variance of each item reward of
// perm under rule kind, propagated from independent gain variances with
// IDCG held fixed, and returns it (grown only when cap(dst) < K). It serves
// per-item uncertainty scaling. Every rule is linear in the gains, so the
// variance is exact: for CausalSwap, with m = K − k and sums over j > k,
//
//	Var r_k = ((m d_k − D_k)/(m IDCG))² σ_k² + Σ_j (d_k − d_j)² σ_j² / (m IDCG)²
//
// where Σ_j (d_k − d_j)² σ_j² = d_k² S0 − 2 d_k S1 + S2 with suffix sums
// S0 = Σ σ_j², S1 = Σ d_j σ_j², S2 = Σ d_j² σ_j² (clamped at 0 against
// rounding). NonCausalSwap uses the totals and m = K − 1 in the
// denominator, Independent gives (d_k/IDCG)² σ_k², RankLevel the suffix sum
// of (d_p/IDCG)² σ_p². A nil variances gives zeros. O(K), no allocation.
func (s *Scorer) ItemVariancesInto(dst []float64, perm []int, variances []float64, kind ItemReward) ([]float64, error) {
	if err := s.check(perm); err != nil {
		return dst, err
	}
	if err := s.checkVariances(variances); err != nil {
		return dst, err
	}
	dst = slices.Grow(dst[:0], len(perm))[:len(perm)]
	if variances == nil {
		clear(dst)
		return dst, nil
	}
	switch kind {
	case CausalSwap, "":
		s.causalVar(dst, perm, variances)
	case NonCausalSwap:
		s.nonCausalVar(dst, perm, variances)
	case Independent:
		for p, i := range perm {
			w := s.disc[p] * s.inv
			dst[p] = w * w * variances[i]
		}
	case RankLevel:
		var sum float64
		for p := len(perm) - 1; p >= 0; p-- {
			w := s.disc[p] * s.inv
			sum += w * w * variances[perm[p]]
			dst[p] = sum
		}
	default:
		_, err := ParseItemReward(string(kind))
		return dst, err
	}
	return dst, nil
}

// swapVar is the variance of (1/(m·IDCG)) Σ_j (g_k − g_j)(d_k − d_j) given
// own = m d_k − Σ_j d_j and the sums s0, s1, s2 of σ_j², d_j σ_j², d_j² σ_j².
func (s *Scorer) swapVar(d, v, m, own, s0, s1, s2 float64) float64 {
	w := s.inv / m
	others := math.Max(d*d*s0-2*d*s1+s2, 0)
	return w * w * (own*own*v + others)
}

func (s *Scorer) causalVar(dst []float64, perm []int, variances []float64) {
	var sd, s0, s1, s2 float64
	last := len(perm) - 1
	for p := last; p >= 0; p-- {
		d, v := s.disc[p], variances[perm[p]]
		if m := float64(last - p); m > 0 {
			dst[p] = s.swapVar(d, v, m, m*d-sd, s0, s1, s2)
		} else {
			dst[p] = 0
		}
		sd += d
		s0 += v
		s1 += d * v
		s2 += d * d * v
	}
}

func (s *Scorer) nonCausalVar(dst []float64, perm []int, variances []float64) {
	k := len(perm)
	if k == 1 {
		dst[0] = 0
		return
	}
	var td, s0, s1, s2 float64
	for p, i := range perm {
		d, v := s.disc[p], variances[i]
		td += d
		s0 += v
		s1 += d * v
		s2 += d * d * v
	}
	// The j = k term of Σ_j (d_k − d_j)² σ_j² is 0, so the totals serve.
	for p, i := range perm {
		d, v := s.disc[p], variances[i]
		dst[p] = s.swapVar(d, v, float64(k-1), float64(k)*d-td, s0, s1, s2)
	}
}
