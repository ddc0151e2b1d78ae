package critic

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/flexrec/flexrec/eval/dataset"
	"github.com/flexrec/flexrec/mf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sparseML loads the embedded ml-latest-small and keeps a seeded 10% of
// the ratings as observed; the other 90% are the held-out pairs. It skips
// under -short.
func sparseML(tb testing.TB) (observed, heldOut []mf.Rating) {
	if testing.Short() {
		tb.Skip("ml-latest-small calibration skipped in -short mode")
	}
	ds, err := dataset.Load(context.Background(), dataset.BuiltinMLLatestSmall)
	require.NoError(tb, err)
	rng := rand.New(rand.NewPCG(2026, 10))
	for _, r := range dataset.Ratings(ds.Interactions) {
		if rng.Float64() < 0.1 {
			observed = append(observed, r)
		} else {
			heldOut = append(heldOut, r)
		}
	}
	return observed, heldOut
}

// TestCalibrationMovieLens trains every kind on 10% of ml-latest-small and
// checks the calibration on the other 90%: the ensemble's 90% interval must
// cover 80–97% of the held-out pairs.
func TestCalibrationMovieLens(t *testing.T) {
	observed, heldOut := sparseML(t)
	var mean, ss float64
	for _, r := range observed {
		mean += r.Value
	}
	mean /= float64(len(observed))
	for _, r := range observed {
		ss += (r.Value - mean) * (r.Value - mean)
	}
	base := Evaluate(constant{mean, ss / float64(len(observed))}, heldOut)
	t.Logf("observed %d pairs, held out %d; global mean and variance: %+v", len(observed), len(heldOut), base)
	for _, kind := range []string{KindEnsemble, KindUserKNN, KindItemKNN} {
		t.Run(kind, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Kind = kind
			c, err := Train(context.Background(), observed, cfg)
			require.NoError(t, err)
			got := Evaluate(c, heldOut)
			t.Logf("%s: %+v variance %+v", kind, got, c.Variance())
			assert.GreaterOrEqual(t, got.Coverage90, 0.80, "90%% coverage")
			assert.LessOrEqual(t, got.Coverage90, 0.97, "90%% coverage")
			assert.Less(t, got.RMSE, base.RMSE, "RMSE against the global mean's")
			assert.Less(t, got.NLL, base.NLL, "NLL against the global Gaussian's")
		})
	}
}
