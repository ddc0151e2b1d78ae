package rl

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bruteNDCG is the oracle: DCG of perm over IDCG, both from the definition.
// idcg < 0 means compute it from gains; otherwise it is held at idcg.
func bruteNDCG(gains []float64, perm []int, k int, idcg float64) float64 {
	disc := func(p int) float64 { // 0-based position
		if k > 0 && p >= k {
			return 0
		}
		return 1 / math.Log2(float64(p)+2)
	}
	if idcg < 0 {
		s := slices.Clone(gains)
		sort.Sort(sort.Reverse(sort.Float64Slice(s)))
		idcg = 0
		for p := range s {
			idcg += s[p] * disc(p)
		}
	}
	if idcg == 0 {
		return 0
	}
	var dcg float64
	for p, i := range perm {
		dcg += gains[i] * disc(p)
	}
	return dcg / idcg
}

// bruteItem computes item rewards by actually swapping positions.
func bruteItem(gains []float64, perm []int, k int, kind ItemReward, idcg float64) []float64 {
	if idcg < 0 {
		idcg = IDCGOracle(gains, k)
		if idcg == 0 {
			return make([]float64, len(perm))
		}
	}
	base := bruteNDCG(gains, perm, k, idcg)
	out := make([]float64, len(perm))
	swapLoss := func(a, b int) float64 {
		q := slices.Clone(perm)
		q[a], q[b] = q[b], q[a]
		return base - bruteNDCG(gains, q, k, idcg)
	}
	for a := range perm {
		var sum, n float64
		switch kind {
		case CausalSwap:
			for b := a + 1; b < len(perm); b++ {
				sum, n = sum+swapLoss(a, b), n+1
			}
		case NonCausalSwap:
			for b := range perm {
				if b != a {
					sum, n = sum+swapLoss(a, b), n+1
				}
			}
		case Independent:
			sum, n = bruteNDCG(gains, perm[a:a+1], 0, idcg)*discAt(a, k), 1
		case RankLevel:
			// DCG of positions a.. only: zero the gains of the others.
			g := slices.Clone(gains)
			for _, i := range perm[:a] {
				g[i] = 0
			}
			sum, n = bruteNDCG(g, perm, k, idcg), 1
		}
		if n > 0 {
			out[a] = sum / n
		}
	}
	return out
}

func discAt(p, k int) float64 {
	if k > 0 && p >= k {
		return 0
	}
	return 1 / math.Log2(float64(p)+2)
}

// IDCGOracle sorts and sums by the definition.
func IDCGOracle(gains []float64, k int) float64 {
	s := slices.Clone(gains)
	sort.Sort(sort.Reverse(sort.Float64Slice(s)))
	var sum float64
	for p := range s {
		sum += s[p] * discAt(p, k)
	}
	return sum
}

type genCase struct {
	gains []float64
	perm  []int
	k     int
}

// genCases draws episodes with ties, zero gains, partial lists and cutoffs.
func genCases(n int) []genCase {
	rng := rand.New(rand.NewPCG(42, 7))
	var out []genCase
	for range n {
		size := 1 + rng.IntN(35)
		gains := make([]float64, size)
		mode := rng.IntN(4)
		for i := range gains {
			switch mode {
			case 0: // heavy ties
				gains[i] = float64(rng.IntN(3))
			case 1: // all zero
			case 2: // ratings
				gains[i] = 0.5 * float64(1+rng.IntN(10))
			default:
				gains[i] = rng.ExpFloat64()
			}
		}
		perm := rng.Perm(size)
		if rng.IntN(4) == 0 {
			perm = perm[:1+rng.IntN(size)]
		}
		k := 0
		if rng.IntN(2) == 0 {
			k = 1 + rng.IntN(size+3)
		}
		out = append(out, genCase{gains, perm, k})
	}
	return append(out, genCase{[]float64{2}, []int{0}, 0}, genCase{[]float64{0, 5}, []int{1, 0}, 1})
}

func TestItemRewardsMatchBruteForce(t *testing.T) {
	for _, kind := range ItemRewards {
		t.Run(string(kind), func(t *testing.T) {
			var sc Scorer
			var dst []float64
			for ci, c := range genCases(400) {
				require.NoError(t, sc.Reset(c.gains, c.k))
				got, err := sc.ItemRewardsInto(dst, c.perm, kind)
				require.NoError(t, err)
				dst = got
				want := bruteItem(c.gains, c.perm, c.k, kind, -1)
				require.Len(t, got, len(want))
				for p := range want {
					assert.InDelta(t, want[p], got[p], 1e-12, "case %d (N=%d K=%d k=%d) position %d", ci, len(c.gains), len(c.perm), c.k, p+1)
				}
			}
		})
	}
}

func TestListRewardMatchesBruteForce(t *testing.T) {
	for ci, c := range genCases(300) {
		got, err := ListReward(c.gains, c.perm, c.k)
		require.NoError(t, err)
		assert.InDelta(t, bruteNDCG(c.gains, c.perm, c.k, -1), got, 1e-12, "case %d", ci)
		assert.InDelta(t, IDCGOracle(c.gains, c.k), IDCG(c.gains, c.k), 1e-12, "IDCG case %d", ci)
	}
}

func TestHandComputed(t *testing.T) {
	d2, d3 := 1/math.Log2(3), 0.5
	gains := []float64{3, 2, 1}
	perm := []int{2, 0, 1} // gains 1, 3, 2 at positions 1, 2, 3
	idcg := 3 + 2*d2 + 1*d3
	tests := []struct {
		name string
		k    int
		kind ItemReward
		want []float64
	}{
		{"causal", 0, CausalSwap, []float64{
			((1-3)*(1-d2) + (1-2)*(1-d3)) / 2 / idcg,
			(3 - 2) * (d2 - d3) / idcg,
			0}},
		{"independent", 0, Independent, []float64{1 / idcg, 3 * d2 / idcg, 2 * d3 / idcg}},
		{"noncausal", 0, NonCausalSwap, []float64{
			((1-3)*(1-d2) + (1-2)*(1-d3)) / 2 / idcg,
			((3-1)*(d2-1) + (3-2)*(d2-d3)) / 2 / idcg,
			((2-1)*(d3-1) + (2-3)*(d3-d2)) / 2 / idcg}},
		{"rank-level", 0, RankLevel, []float64{(1 + 3*d2 + 2*d3) / idcg, (3*d2 + 2*d3) / idcg, 2 * d3 / idcg}},
		{"causal@1", 1, CausalSwap, []float64{(1.0 - 3 + 1 - 2) / 2 / 3, 0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ItemRewardsFor(gains, perm, tc.k, tc.kind)
			require.NoError(t, err)
			assert.InDeltaSlice(t, tc.want, got, 1e-12)
		})
	}
	r, err := ListReward(gains, perm, 0)
	require.NoError(t, err)
	assert.InDelta(t, (1+3*d2+2*d3)/idcg, r, 1e-12, "ListReward")
	r, err = ListReward(gains, perm, 1)
	require.NoError(t, err)
	assert.InDelta(t, 1.0/3, r, 1e-12, "ListReward@1")
}

func TestEdgeCases(t *testing.T) {
	t.Run("zero IDCG gives zeros", func(t *testing.T) {
		for _, kind := range ItemRewards {
			got, err := ItemRewardsFor([]float64{0, 0, 0}, []int{1, 2, 0}, 0, kind)
			require.NoError(t, err)
			assert.Equal(t, []float64{0, 0, 0}, got, kind)
		}
		r, err := ListReward([]float64{0, 0}, []int{0, 1}, 0)
		require.NoError(t, err)
		assert.Equal(t, 0.0, r)
	})
	t.Run("K=1", func(t *testing.T) {
		for _, kind := range []ItemReward{CausalSwap, NonCausalSwap} {
			got, err := ItemRewardsFor([]float64{4}, []int{0}, 0, kind)
			require.NoError(t, err)
			assert.Equal(t, []float64{0}, got, kind)
		}
	})
	t.Run("ties give near-zero swaps", func(t *testing.T) {
		got, err := ItemRewardsFor([]float64{2, 2, 2, 2}, []int{3, 1, 0, 2}, 0, CausalSwap)
		require.NoError(t, err)
		for p, x := range got {
			assert.InDelta(t, 0, x, 1e-15, "position %d", p+1)
		}
	})
	t.Run("ideal ranking has non-negative causal rewards", func(t *testing.T) {
		got, err := ItemRewardsFor([]float64{5, 4, 3, 1}, []int{0, 1, 2, 3}, 0, CausalSwap)
		require.NoError(t, err)
		for p, x := range got[:3] {
			assert.Greater(t, x, 0.0, "position %d", p+1)
		}
	})
}

func TestInvalidInput(t *testing.T) {
	tests := []struct {
		name  string
		gains []float64
		perm  []int
		k     int
		err   error
	}{
		{"no gains", nil, []int{0}, 0, ErrGains},
		{"negative gain", []float64{1, -1}, []int{0, 1}, 0, ErrGains},
		{"NaN gain", []float64{math.NaN()}, []int{0}, 0, ErrGains},
		{"Inf gain", []float64{math.Inf(1)}, []int{0}, 0, ErrGains},
		{"negative cutoff", []float64{1}, []int{0}, -1, ErrGains},
		{"empty permutation", []float64{1}, []int{}, 0, ErrPermutation},
		{"too long", []float64{1}, []int{0, 0}, 0, ErrPermutation},
		{"out of range", []float64{1, 2}, []int{0, 2}, 0, ErrPermutation},
		{"negative index", []float64{1, 2}, []int{-1, 0}, 0, ErrPermutation},
		{"repeat", []float64{1, 2, 3}, []int{1, 1, 0}, 0, ErrPermutation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ListReward(tc.gains, tc.perm, tc.k)
			assert.ErrorIs(t, err, tc.err)
			_, err = ItemRewardsFor(tc.gains, tc.perm, tc.k, CausalSwap)
			assert.ErrorIs(t, err, tc.err)
		})
	}
	var zero Scorer
	_, err := zero.ListReward([]int{0})
	assert.Error(t, err, "zero Scorer")
	_, err = ParseItemReward("swap")
	assert.ErrorContains(t, err, "causal-swap")
}

func TestScorerReuseAcrossSizes(t *testing.T) {
	var sc Scorer
	require.NoError(t, sc.Reset([]float64{1, 2, 3, 4, 5}, 3))
	require.NoError(t, sc.Reset([]float64{1, 2}, 0))
	got, err := sc.ListReward([]int{1, 0})
	require.NoError(t, err)
	assert.InDelta(t, 1.0, got, 1e-15, "ideal order after shrinking")
	// Many calls exercise the stamp wrap-around without false repeats.
	sc.stamp = math.MaxUint32 - 2
	for range 5 {
		_, err := sc.ListReward([]int{0, 1})
		require.NoError(t, err)
	}
}

func TestPenalized(t *testing.T) {
	assert.Equal(t, 0.8, Penalized(0.8, 0, 10, 1))
	assert.InDelta(t, 0.8-0.5*3.0/10, Penalized(0.8, 3, 10, 0.5), 1e-15)
	assert.Equal(t, 0.8, Penalized(0.8, 3, 10, 0))
}
