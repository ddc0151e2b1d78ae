package eval

import "math"

// Metric scores one ranking of one candidate set. gains[i] and relevant[i]
// describe candidate i (a metric reads only the one it needs, so the other
// may be nil); ranking lists candidate indices, best first; k is the
// cutoff, and k <= 0 or k > len(ranking) means the whole ranking.
//
// Every Metric returns a value in [0, 1] except MeanGain (the mean of the
// gains it reads), never panics and never allocates for k <= 64 and
// candidate sets of at most 256. Ranking entries outside [0, len) and
// repeats of an index already ranked count as irrelevant with gain 0 (a
// ranking should be a permutation; Evaluate rejects anything else). Gains
// are expected to be >= 0; a negative gain counts as 0.
type Metric func(gains []float64, relevant []bool, ranking []int, k int) float64

// maxStackK is the largest cutoff IDCG handles without allocating.
const maxStackK = 64

// discounts[p] is the DCG discount 1/log2(p+2) of the 0-based position p.
// It is computed once and never written after.
var discounts = func() [256]float64 {
	var d [256]float64
	for p := range d {
		d[p] = 1 / math.Log2(float64(p)+2)
	}
	return d
}()

// discount returns 1/log2(p+2) for the 0-based position p.
func discount(p int) float64 {
	if p < len(discounts) {
		return discounts[p]
	}
	return 1 / math.Log2(float64(p)+2)
}

// cutoff returns the number of ranked positions a metric at k reads.
func cutoff(k, n int) int {
	if k <= 0 || k > n {
		return n
	}
	return k
}

// seenSet remembers which candidate indices a metric has counted, so that
// a repeated index counts once. Indices below 256 live in a bit set on the
// stack; larger ones in a map made on first use.
type seenSet struct {
	bits [4]uint64
	big  map[int]bool
}

// first reports whether i is seen for the first time, and marks it.
func (s *seenSet) first(i int) bool {
	if i < 256 {
		w, b := i>>6, uint64(1)<<(i&63)
		if s.bits[w]&b != 0 {
			return false
		}
		s.bits[w] |= b
		return true
	}
	if s.big == nil {
		s.big = map[int]bool{}
	}
	if s.big[i] {
		return false
	}
	s.big[i] = true
	return true
}

// gainAt returns gains[i] clamped at 0, or 0 when i is out of range.
func gainAt(gains []float64, i int) float64 {
	if i < 0 || i >= len(gains) || !(gains[i] > 0) {
		return 0
	}
	return gains[i]
}

// relevantAt reports relevant[i], false when i is out of range.
func relevantAt(relevant []bool, i int) bool {
	return i >= 0 && i < len(relevant) && relevant[i]
}

// DCG returns the discounted cumulative gain of the first k positions:
//
//	DCG@k = Σ_{p=1..min(k,|ranking|)} g_{ranking[p]} / log2(p+1)
//
// with linear gains (method.md §3). It does not allocate.
func DCG(gains []float64, ranking []int, k int) float64 {
	var s float64
	var seen seenSet
	for p, i := range ranking[:cutoff(k, len(ranking))] {
		if g := gainAt(gains, i); g > 0 && seen.first(i) {
			s += g * discount(p)
		}
	}
	return s
}

// IDCG returns the ideal DCG@k over the candidate set: the DCG of the
// candidates sorted by gain, descending, cut at k (k <= 0 means all of
// them). It allocates only when k > 64 and k < len(gains).
func IDCG(gains []float64, k int) float64 {
	k = cutoff(k, len(gains))
	var buf [maxStackK]float64
	var top []float64
	if k <= maxStackK {
		top = buf[:0]
	} else {
		top = make([]float64, 0, k)
	}
	for _, g := range gains {
		if g > 0 {
			top = insertTop(top, g, k)
		}
	}
	var s float64
	for p, g := range top {
		s += g * discount(p)
	}
	return s
}

// insertTop inserts g into top, kept sorted descending and at most k long.
func insertTop(top []float64, g float64, k int) []float64 {
	p := len(top)
	for p > 0 && top[p-1] < g {
		p--
	}
	if p >= k {
		return top
	}
	if len(top) < k {
		top = append(top, 0)
	}
	copy(top[p+1:], top[p:len(top)-1])
	top[p] = g
	return top
}

// NDCG is the normalised DCG, with the ideal ranking taken over every
// candidate of the set (not just the ranked ones):
//
//	NDCG@k = DCG@k / IDCG@k,  and 0 when IDCG@k = 0 (no positive gain).
//
// It reads gains only.
func NDCG(gains []float64, _ []bool, ranking []int, k int) float64 {
	idcg := IDCG(gains, k)
	if idcg == 0 {
		return 0
	}
	return DCG(gains, ranking, k) / idcg
}

// Recall is the share of the relevant candidates found in the top k:
//
//	Recall@k = |{relevant} ∩ top k| / |{relevant}|,  and 0 when no
//	candidate is relevant.
//
// It reads relevant only.
func Recall(_ []float64, relevant []bool, ranking []int, k int) float64 {
	total := 0
	for _, r := range relevant {
		if r {
			total++
		}
	}
	if total == 0 {
		return 0
	}
	return float64(hits(relevant, ranking, k)) / float64(total)
}

// hits counts the relevant candidates among the top k of ranking.
func hits(relevant []bool, ranking []int, k int) int {
	n := 0
	var seen seenSet
	for _, i := range ranking[:cutoff(k, len(ranking))] {
		if relevantAt(relevant, i) && seen.first(i) {
			n++
		}
	}
	return n
}

// MRR is the reciprocal rank of the first relevant candidate in the top k:
//
//	MRR@k = 1 / p*,  p* the 1-based position of the first relevant
//	candidate if p* <= k, else 0.
//
// Averaged over episodes it is the mean reciprocal rank. It reads relevant
// only.
func MRR(_ []float64, relevant []bool, ranking []int, k int) float64 {
	for p, i := range ranking[:cutoff(k, len(ranking))] {
		if relevantAt(relevant, i) {
			return 1 / float64(p+1)
		}
	}
	return 0
}

// HitRate is 1 when at least one relevant candidate is in the top k:
//
//	HitRate@k = 1[|{relevant} ∩ top k| > 0].
//
// It reads relevant only.
func HitRate(_ []float64, relevant []bool, ranking []int, k int) float64 {
	if hits(relevant, ranking, k) > 0 {
		return 1
	}
	return 0
}

// Precision is the share of the top k that is relevant:
//
//	Precision@k = |{relevant} ∩ top k| / min(k, |ranking|),  and 0 for an
//	empty ranking.
//
// Applied to the novelty mask (see Novelty) it is the novel-genre share of
// the top k, the explore diagnostic. It reads relevant only.
func Precision(_ []float64, relevant []bool, ranking []int, k int) float64 {
	c := cutoff(k, len(ranking))
	if c == 0 {
		return 0
	}
	return float64(hits(relevant, ranking, k)) / float64(c)
}

// MeanGain is the mean gain of the top k:
//
//	MeanGain@k = Σ_{p=1..c} g_{ranking[p]} / c,  c = min(k, |ranking|),
//	and 0 for an empty ranking.
//
// Applied to candidate popularity it is the mean popularity of the top k,
// the popularity diagnostic; its unit is the unit of the gains. It reads
// gains only.
func MeanGain(gains []float64, _ []bool, ranking []int, k int) float64 {
	c := cutoff(k, len(ranking))
	if c == 0 {
		return 0
	}
	var s float64
	var seen seenSet
	for _, i := range ranking[:c] {
		if g := gainAt(gains, i); g > 0 && seen.first(i) {
			s += g
		}
	}
	return s / float64(c)
}

// isPermutation reports whether ranking holds every index of 0..n-1 once.
// seen is scratch of at least n entries; it is cleared on return.
func isPermutation(ranking []int, n int, seen []bool) bool {
	if len(ranking) != n {
		return false
	}
	ok := true
	for _, i := range ranking {
		if i < 0 || i >= n || seen[i] {
			ok = false
			break
		}
		seen[i] = true
	}
	clear(seen[:n])
	return ok
}
