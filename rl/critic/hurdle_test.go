package critic

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/flexrec/flexrec/mf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hurdleData: ratings from synthetic(); exposures of (user, item) where the
// chance of an interaction grows with the item's rating count.
func hurdleData(t *testing.T) Observed {
	train, _ := synthetic(6)
	counts := map[string]float64{}
	for _, r := range train {
		counts[r.Item]++
	}
	rng := rand.New(rand.NewPCG(6, 6))
	var exp []mf.Rating
	for k := range 3000 {
		item := fmt.Sprint("i", rng.IntN(80)) // i60..i79 have no ratings
		p := 1 / (1 + math.Exp(2-0.15*counts[item]))
		v := 0.0
		if rng.Float64() < p {
			v = 3
		}
		exp = append(exp, mf.Rating{User: fmt.Sprint("x", k%50), Item: item, Value: v})
	}
	return Observed{Ratings: train, Exposures: exp}
}

func TestHurdle(t *testing.T) {
	obs := hurdleData(t)
	c, err := TrainHurdle(context.Background(), obs, DefaultConfig())
	require.NoError(t, err)
	h, ok := c.(*Hurdle)
	require.True(t, ok, "exposures with both outcomes give a Hurdle")
	assert.Greater(t, h.Weights()[1], 0.0, "more ratings, more likely met")
	assert.Less(t, h.Interact("u1", "i79"), h.Interact("u1", "i3"), "unrated item less likely met")

	mu, v := h.Inner().Predict("u1", "i3")
	m := h.PredictMixture("u1", "i3")
	cal := h.Calibration()
	want := cal.apply(h.Interact("u1", "i3"), mu, v)
	assert.InDeltaSlice(t, []float64{want.P, want.Mu, want.Var}, []float64{m.P, m.Mu, m.Var}, 1e-12, "the mixture is the calibrated logistic and inner critic")
	p, mu, v := m.P, m.Mu, m.Var
	gm, gv := h.Predict("u1", "i3")
	assert.InDelta(t, p*mu, gm, 1e-12, "E g = p μ")
	assert.InDelta(t, p*v+p*(1-p)*mu*mu, gv, 1e-12, "Var g = p σ² + p(1−p) μ²")

	var buf bytes.Buffer
	require.NoError(t, Save(&buf, h))
	loaded, err := Load(&buf)
	require.NoError(t, err)
	lm, lv := loaded.Predict("u1", "i3")
	assert.Equal(t, [2]float64{gm, gv}, [2]float64{lm, lv}, "after load")
	assert.Equal(t, cal, loaded.(*Hurdle).Calibration(), "the calibration survives Save and Load")
}

func TestHurdleWithoutZerosIsTheInnerCritic(t *testing.T) {
	obs := hurdleData(t)
	for k := range obs.Exposures {
		obs.Exposures[k].Value = 4
	}
	c, err := TrainHurdle(context.Background(), obs, DefaultConfig())
	require.NoError(t, err)
	_, isHurdle := c.(*Hurdle)
	assert.False(t, isHurdle)
}

func TestFitLogisticRecoversWeights(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	want := [3]float64{-1, 0.8, -0.5}
	var xs [][3]float64
	var ys []float64
	for range 20000 {
		x := [3]float64{1, 3 * rng.Float64(), 3 * rng.Float64()}
		y := 0.0
		if rng.Float64() < sigmoid(want[0]+want[1]*x[1]+want[2]*x[2]) {
			y = 1
		}
		xs, ys = append(xs, x), append(ys, y)
	}
	got := fitLogistic(xs, ys)
	for a := range 3 {
		assert.InDelta(t, want[a], got[a], 0.1, "weight %d", a)
	}
}
