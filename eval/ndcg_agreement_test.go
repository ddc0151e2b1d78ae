package eval

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/rl"
)

// TestNDCGAgreesWithRL ties the two NDCG kernels together: eval's metric
// (which also tolerates partial, duplicated or out-of-range rankings) and
// rl's list reward (which accepts valid permutations only) must give the
// same number on every valid permutation of non-negative gains, ties,
// zeros, all-zero sets and every cutoff included.
func TestNDCGAgreesWithRL(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	var sc rl.Scorer
	for trial := range 20000 {
		n := 1 + rng.IntN(40)
		gains := make([]float64, n)
		for i := range gains {
			switch rng.IntN(4) {
			case 0: // zero gain
			case 1:
				gains[i] = float64(1 + rng.IntN(5)) // ties
			default:
				gains[i] = rng.Float64() * 5
			}
		}
		if trial%50 == 0 {
			clear(gains) // no positive gain: both are 0
		}
		k := rng.IntN(n + 3) // 0 (whole list) .. past the end
		perm := rng.Perm(n)
		require.NoError(t, sc.Reset(gains, k), "rl Scorer.Reset")
		want, err := sc.ListReward(perm)
		require.NoError(t, err, "rl ListReward")
		got := NDCG(gains, nil, perm, k)
		require.InDelta(t, want, got, 1e-12, "trial %d: NDCG(gains=%v, perm=%v, k=%d): eval %v, rl %v", trial, gains, perm, k, got, want)
	}
}
