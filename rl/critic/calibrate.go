package critic

import (
	"math"
	"math/rand/v2"

	"github.com/flexrec/flexrec/mf"
	"github.com/flexrec/flexrec/rl"
)

// split holds out a seeded share frac of data (at least one pair), keeping
// the order of data within each part.
func split(data []mf.Rating, frac float64, seed int64) (fit, valid []mf.Rating) {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5ba1))
	nValid := max(1, int(frac*float64(len(data))))
	held := make([]bool, len(data))
	for _, k := range rng.Perm(len(data))[:nValid] {
		held[k] = true
	}
	for k, r := range data {
		if held[k] {
			valid = append(valid, r)
		} else {
			fit = append(fit, r)
		}
	}
	return fit, valid
}

// fitVariance returns the VarianceModel minimising the mean Gaussian NLL of
// the validation residuals: a log-spaced grid over (Scale, Noise), then
// three rounds of a finer grid around the best point. Scale 0 is on the
// grid (the raw uncertainty may carry no signal); Noise >= 1e-6.
func fitVariance(c rawCritic, valid []mf.Rating) VarianceModel {
	e2, raw := make([]float64, len(valid)), make([]float64, len(valid))
	var m2 float64
	for k, r := range valid {
		mean, rv := c.predictRaw(r.User, r.Item)
		e2[k], raw[k] = (r.Value-mean)*(r.Value-mean), rv
		m2 += e2[k]
	}
	m2 = math.Max(m2/float64(len(valid)), 1e-6)
	nll := func(vm VarianceModel) float64 {
		var s float64
		for k := range e2 {
			v := vm.Of(raw[k])
			s += math.Log(v) + e2[k]/v
		}
		return s
	}
	best, bestNLL := VarianceModel{Noise: m2}, math.Inf(1)
	try := func(vm VarianceModel) {
		if v := nll(vm); v < bestNLL {
			best, bestNLL = vm, v
		}
	}
	scales := append([]float64{0}, logspace(1e-2, 1e2, 41)...)
	for _, s := range scales {
		for _, n := range logspace(1e-3*m2, 2*m2, 41) {
			try(VarianceModel{Scale: s, Noise: math.Max(n, 1e-6)})
		}
	}
	for step := 1.5; step > 1.01; step = math.Sqrt(step) {
		c := best
		for _, fs := range logspace(1/step, step, 9) {
			for _, fn := range logspace(1/step, step, 9) {
				try(VarianceModel{Scale: c.Scale * fs, Noise: math.Max(c.Noise*fn, 1e-6)})
			}
		}
	}
	return best
}

// logspace returns n points from lo to hi, evenly spaced in log scale.
func logspace(lo, hi float64, n int) []float64 {
	out := make([]float64, n)
	for k := range out {
		out[k] = lo * math.Pow(hi/lo, float64(k)/float64(n-1))
	}
	return out
}

// Calibration summarises how well predicted Gaussians N(μ, σ²) fit held-out
// values y.
type Calibration struct {
	// Pairs is the number of pairs evaluated.
	Pairs int `json:"pairs"`
	// RMSE is sqrt(mean (y − μ)²).
	RMSE float64 `json:"rmse"`
	// NLL is the mean Gaussian negative log-likelihood in nats,
	// ½ log(2πσ²) + (y − μ)²/(2σ²), with σ² floored at 1e-12.
	NLL float64 `json:"nll"`
	// Coverage50 is the share of pairs with |y − μ| <= 0.6745 σ (nominal
	// 0.5).
	Coverage50 float64 `json:"coverage50"`
	// Coverage90 is the share with |y − μ| <= 1.6449 σ (nominal 0.9).
	Coverage90 float64 `json:"coverage90"`
	// MeanSD is the mean predicted standard deviation σ.
	MeanSD float64 `json:"mean_sd"`
}

// Calibrator accumulates a Calibration one pair at a time. The zero value
// is empty and ready to use; it is not safe for concurrent use.
type Calibrator struct {
	n, se, nll, c50, c90, sd float64
}

// Add records one held-out value y against the prediction (mean, variance).
func (c *Calibrator) Add(y, mean, variance float64) {
	e := y - mean
	v := math.Max(variance, 1e-12)
	sd := math.Sqrt(v)
	c.n++
	c.se += e * e
	c.nll += 0.5*math.Log(2*math.Pi*v) + e*e/(2*v)
	if math.Abs(e) <= 0.6744897501960817*sd {
		c.c50++
	}
	if math.Abs(e) <= 1.6448536269514722*sd {
		c.c90++
	}
	c.sd += sd
}

// Result returns the Calibration of the pairs added so far (all zeros when
// none).
func (c *Calibrator) Result() Calibration {
	if c.n == 0 {
		return Calibration{}
	}
	return Calibration{Pairs: int(c.n), RMSE: math.Sqrt(c.se / c.n), NLL: c.nll / c.n,
		Coverage50: c.c50 / c.n, Coverage90: c.c90 / c.n, MeanSD: c.sd / c.n}
}

// Evaluate returns the calibration of p on pairs, which must not be among
// its training pairs for the figures to mean anything. O(len(pairs))
// predictions.
func Evaluate(p rl.Predictor, pairs []mf.Rating) Calibration {
	var c Calibrator
	for _, r := range pairs {
		m, v := p.Predict(r.User, r.Item)
		c.Add(r.Value, m, v)
	}
	return c.Result()
}
