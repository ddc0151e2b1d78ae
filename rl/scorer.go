package rl

import (
	"fmt"
	"math"
	"slices"
)

// Discount returns the DCG discount of the 1-based position p under the
// cutoff k: d_p = 1/log2(p+1) for 1 <= p <= k, and 0 for p > k or p < 1.
// A cutoff k <= 0 means no cutoff. d_1 = 1, d_2 ≈ 0.631, d_3 = 0.5.
func Discount(p, k int) float64 {
	if p < 1 || (k > 0 && p > k) {
		return 0
	}
	return 1 / math.Log2(float64(p)+1)
}

// IDCG returns the ideal DCG of gains under the cutoff k (k <= 0: none):
// Σ_{p=1}^{min(k,N)} g_(p) d_p with g_(1) >= g_(2) >= ... the gains sorted
// in decreasing order. It is 0 when every gain is 0. It sorts a copy of
// gains: O(N log N) and one allocation; Scorer.Reset reuses its buffer.
func IDCG(gains []float64, k int) float64 {
	sorted := slices.Clone(gains)
	slices.Sort(sorted)
	var sum float64
	for p := range cutoff(len(gains), k) {
		sum += sorted[len(sorted)-1-p] * Discount(p+1, 0)
	}
	return sum
}

// cutoff returns the effective cutoff for n gains: n when k <= 0 or k > n.
func cutoff(n, k int) int {
	if k <= 0 || k > n {
		return n
	}
	return k
}

// Scorer holds what every rollout of one episode shares: its gains, the
// cutoff, the discount table and the IDCG. Reset it once per episode, then
// score any number of permutations of that episode without allocating.
//
// The zero value is an empty Scorer: every method fails until Reset
// succeeds. A Scorer is not safe for concurrent use; give each goroutine
// its own.
type Scorer struct {
	gains  []float64
	disc   []float64 // disc[p] = d_{p+1}, 0 at and past the cutoff
	sorted []float64 // scratch for the IDCG
	idcg   float64
	inv    float64 // 1/IDCG, or 0 when IDCG is 0
	n, cut int
	seen   []uint32 // permutation check: seen[i] == stamp marks index i used
	stamp  uint32
}

// NewScorer returns a Scorer reset to gains and the cutoff k (see Reset).
func NewScorer(gains []float64, k int) (*Scorer, error) {
	s := new(Scorer)
	if err := s.Reset(gains, k); err != nil {
		return nil, err
	}
	return s, nil
}

// Reset points the Scorer at a new episode: gains are the N candidates'
// gains (copied), each finite and >= 0; k is the NDCG cutoff, where k <= 0
// or k >= N means the whole list. It errors (wrapping ErrGains) on empty
// or invalid gains or a negative k, leaving the Scorer unusable.
//
// Cost: O(N log N) for the IDCG; no allocation once the buffers have held
// N gains; the discount table is recomputed only when N or k change.
func (s *Scorer) Reset(gains []float64, k int) error {
	s.n = 0
	if err := checkNonNegative(gains, "gain"); err != nil {
		return err
	}
	if k < 0 {
		return fmt.Errorf("rl: cutoff %d, want >= 0 (0 means the whole list): %w", k, ErrGains)
	}
	n, cut := len(gains), cutoff(len(gains), k)
	if n != len(s.disc) || cut != s.cut {
		s.disc = slices.Grow(s.disc[:0], n)[:n]
		for p := range s.disc {
			s.disc[p] = Discount(p+1, cut)
		}
	}
	s.n, s.cut = n, cut
	s.gains = append(s.gains[:0], gains...)
	s.sorted = append(s.sorted[:0], gains...)
	slices.Sort(s.sorted)
	s.idcg = 0
	for p := range cut {
		s.idcg += s.sorted[n-1-p] * s.disc[p]
	}
	s.inv = 0
	if s.idcg > 0 {
		s.inv = 1 / s.idcg
	}
	if len(s.seen) < n {
		s.seen, s.stamp = make([]uint32, n), 0
	}
	return nil
}

// checkNonNegative reports an empty slice or an entry < 0 or not finite.
func checkNonNegative(xs []float64, what string) error {
	if len(xs) == 0 {
		return fmt.Errorf("rl: no %ss: %w", what, ErrGains)
	}
	for i, x := range xs {
		if !(x >= 0) || math.IsInf(x, 1) {
			return fmt.Errorf("rl: %s %d is %v, want finite >= 0: %w", what, i, x, ErrGains)
		}
	}
	return nil
}

// N returns the number of candidates of the current episode (0 before a
// successful Reset).
func (s *Scorer) N() int { return s.n }

// IDCG returns the ideal DCG of the current episode's gains under its
// cutoff; 0 when every gain within reach is 0.
func (s *Scorer) IDCG() float64 { return s.idcg }

// check validates perm: 1 <= len(perm) <= N, every index in [0, N) and
// none repeated. O(K) and allocation-free: it stamps a reused array instead
// of clearing it.
func (s *Scorer) check(perm []int) error {
	if s.n == 0 {
		return fmt.Errorf("rl: scorer used before a successful Reset: %w", ErrGains)
	}
	if len(perm) == 0 || len(perm) > s.n {
		return fmt.Errorf("rl: permutation of length %d for %d candidates: %w", len(perm), s.n, ErrPermutation)
	}
	s.stamp++
	if s.stamp == 0 { // wrapped: old stamps could collide
		clear(s.seen)
		s.stamp = 1
	}
	for p, i := range perm {
		if i < 0 || i >= s.n {
			return fmt.Errorf("rl: permutation position %d: index %d out of range [0,%d): %w", p+1, i, s.n, ErrPermutation)
		}
		if s.seen[i] == s.stamp {
			return fmt.Errorf("rl: permutation position %d: index %d repeated: %w", p+1, i, ErrPermutation)
		}
		s.seen[i] = s.stamp
	}
	return nil
}

// ListReward returns the list reward of perm (method.md §3), NDCG under the
// episode's gains and cutoff:
//
//	R = Σ_{p=1}^{K} g[perm[p-1]] · d_p / IDCG
//
// where K = len(perm) <= N and IDCG runs over all N candidates' gains, so a
// partial list cannot score 1 unless the best items are in it. R is in
// [0, 1]; R = 0 when IDCG = 0 (every gain zero). perm must be a list of
// distinct indices into the gains (ErrPermutation otherwise). O(K), no
// allocation.
func (s *Scorer) ListReward(perm []int) (float64, error) {
	if err := s.check(perm); err != nil {
		return 0, err
	}
	return s.listReward(perm), nil
}

func (s *Scorer) listReward(perm []int) float64 {
	var dcg float64
	for p, i := range perm[:min(len(perm), s.cut)] {
		dcg += s.gains[i] * s.disc[p]
	}
	return dcg * s.inv
}

// ListReward returns the NDCG of perm under gains with cutoff k (k <= 0:
// the whole list); see Scorer.ListReward for the formula and edge cases.
// It allocates a Scorer: O(N log N). Use a Scorer to score many
// permutations of one episode.
func ListReward(gains []float64, perm []int, k int) (float64, error) {
	s, err := NewScorer(gains, k)
	if err != nil {
		return 0, err
	}
	return s.ListReward(perm)
}

// Penalized returns the list reward after the format penalty for repaired
// rollouts: R − penalty · repaired/K, where repaired is how many of the K
// positions the parser had to fill in (never generated). A penalty of 0
// returns R; with penalty 1 a fully repaired rollout scores at most 0.
func Penalized(r float64, repaired, k int, penalty float64) float64 {
	if repaired <= 0 || k <= 0 || penalty == 0 {
		return r
	}
	return r - penalty*float64(repaired)/float64(k)
}
