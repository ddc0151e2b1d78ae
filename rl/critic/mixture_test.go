package critic

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/eval/dataset"
	"github.com/flexrec/flexrec/mf"
	"github.com/flexrec/flexrec/prompt"
)

// draw samples a gain from m.
func draw(m Mixture, rng *rand.Rand) float64 {
	if rng.Float64() >= m.P {
		return 0
	}
	return math.Max(m.Mu+math.Sqrt(m.Var)*rng.NormFloat64(), 0)
}

func TestMixtureCoverageIsNominalWhenCalibrated(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	var c Calibrator
	for range 40000 {
		m := Mixture{P: rng.Float64(), Mu: 1 + 3*rng.Float64(), Var: 0.2 + rng.Float64()}
		c.AddMixture(draw(m, rng), m)
	}
	got := c.Result()
	// Binomial standard error at 40,000 pairs is at most 0.0025.
	for k, cov := range []float64{got.Coverage50, got.Coverage80, got.Coverage90, got.Coverage95} {
		assert.InDelta(t, levels[k], cov, 0.012, "coverage at %v of draws from the predicted mixtures", levels[k])
	}
}

func TestMixtureHandComputed(t *testing.T) {
	m := Mixture{P: 0.25, Mu: 3, Var: 1}
	atom := 0.75 + 0.25*normCDF(-3)
	assert.InDelta(t, -math.Log(atom), m.LogScore(0), 1e-12, "log score at the atom")
	assert.InDelta(t, -math.Log(0.25)+0.5*math.Log(2*math.Pi)+0.5, m.LogScore(4), 1e-12, "log score at 4")
	assert.InDelta(t, 0.75, m.Mean(), 1e-12, "P·Mu")
	assert.InDelta(t, 0.25+0.25*0.75*9, m.Variance(), 1e-12, "P·Var + P(1−P)Mu²")
	// y = 0: U uniform on [0, atom] ≈ [0, 0.7503]; the 50% interval
	// [0.25, 0.75] holds 0.5/0.7503 of it.
	assert.InDelta(t, 0.5/atom, m.Covered(0, 0.5), 1e-12, "coverage of y = 0 at 50%")
	// y = Mu: F = 0.75 + 0.125 = 0.875, outside [0.25, 0.75], inside [0.05, 0.95].
	assert.Equal(t, 0.0, m.Covered(3, 0.5), "y = Mu at 50%")
	assert.Equal(t, 1.0, m.Covered(3, 0.9), "y = Mu at 90%")
}

func TestCalibratorReliabilityBins(t *testing.T) {
	var c Calibrator
	for k := range 20 {
		v := float64(k + 1)
		c.Add(0, 1, v) // squared error 1
	}
	got := c.Result().Reliability
	require.Len(t, got, ReliabilityBins)
	assert.Equal(t, 2, got[0].Pairs)
	assert.InDelta(t, 1.5, got[0].MeanVariance, 1e-12, "first bin holds variances 1 and 2")
	assert.InDelta(t, 19.5, got[9].MeanVariance, 1e-12, "last bin holds 19 and 20")
	assert.InDelta(t, 1, got[9].MeanSquaredError, 1e-12, "squared error")
	assert.Equal(t, 20.0, got[9].MaxVariance)
}

func TestFitCalibrationRecoversShiftAndScale(t *testing.T) {
	obs := hurdleData(t)
	c, err := trainHurdle(context.Background(), obs, DefaultConfig())
	require.NoError(t, err)
	h := c.(*Hurdle)
	// Held-out positives whose engagement is the inner mean + 0.5 with
	// twice the predicted variance; negatives drawn as the model predicts.
	rng := rand.New(rand.NewPCG(33, 34))
	var held []mf.Rating
	for k := range 6000 {
		u, i := "x1", "i"+string(rune('0'+k%10))
		mu, v := h.inner.Predict(u, i)
		y := 0.0
		if rng.Float64() < h.Interact(u, i) {
			y = mu + 0.5 + math.Sqrt(2*v)*rng.NormFloat64()
		}
		held = append(held, mf.Rating{User: u, Item: i, Value: y})
	}
	cal := fitCalibration(h, held)
	assert.InDelta(t, 0.5, cal.Shift, 0.05, "shift")
	assert.InDelta(t, 2, cal.VarScale, 0.15, "variance scale")
	assert.InDelta(t, 0, cal.A, 0.2, "Platt intercept of a calibrated p")
	assert.InDelta(t, 1, cal.B, 0.2, "Platt slope of a calibrated p")
}

// TestHurdleCalibratedOnSparseMovieLens is the target: on
// ml-latest-small's interest episodes with 10% of the feedback observed,
// the hurdle critic (ensemble, calibrated on half the observed candidates)
// covers the unobserved candidates' gains within ±0.05 of every nominal
// level, with a Gaussian NLL below 1.98 (the uncalibrated critic's).
func TestHurdleCalibratedOnSparseMovieLens(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ml-latest-small episodes and trains the critic twice (about 3 s)")
	}
	ctx := context.Background()
	ds, err := dataset.Load(ctx, dataset.BuiltinMLLatestSmall)
	require.NoError(t, err)
	bc := dataset.DefaultBuildConfig()
	bc.Need, _ = prompt.LookupNeed("interest")
	bc.Sparse = 0.1
	built, err := dataset.Build(ctx, ds, bc)
	require.NoError(t, err)
	eps := make([]*prompt.Episode, len(built.Episodes))
	for k := range built.Episodes {
		eps[k] = &built.Episodes[k]
	}
	obs, err := TrainingPairs(eps, BuiltinRules())
	require.NoError(t, err)
	c, err := TrainHurdle(ctx, obs, DefaultConfig())
	require.NoError(t, err)
	rep, err := EvaluateEpisodes(c, eps, BuiltinRules(), OnUnobserved)
	require.NoError(t, err)
	t.Logf("calibration %+v; unobserved: %+v", c.(*Hurdle).Calibration(), rep.Calibration)
	for k, cov := range []float64{rep.Coverage50, rep.Coverage80, rep.Coverage90, rep.Coverage95} {
		assert.InDelta(t, levels[k], cov, 0.05, "coverage at %v", levels[k])
	}
	assert.Less(t, rep.NLL, 1.98, "Gaussian NLL of the predicted moments")
}
