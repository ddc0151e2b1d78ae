package critic

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"

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

// Calibration summarises how well predictive distributions fit held-out
// values y: Gaussians N(μ, σ²) from a critic's (mean, variance), or a
// Mixture where the critic predicts one (Calibrator.AddMixture).
type Calibration struct {
	// Pairs is the number of pairs evaluated.
	Pairs int `json:"pairs"`
	// RMSE is sqrt(mean (y − μ)²), μ the predicted mean.
	RMSE float64 `json:"rmse"`
	// NLL is the mean Gaussian negative log-likelihood in nats of the
	// predicted mean and variance, ½ log(2πσ²) + (y − μ)²/(2σ²), with σ²
	// floored at 1e-12 (comparable across critics, mixture or not).
	NLL float64 `json:"nll"`
	// LogScore is the mean negative log-likelihood under the predictive
	// distribution itself: NLL for a Gaussian, Mixture.LogScore for a
	// mixture (a probability at the atom y = 0, a density elsewhere).
	LogScore float64 `json:"log_score"`
	// Coverage50, Coverage80, Coverage90 and Coverage95 are the shares of
	// pairs inside the central interval of that level: |y − μ| <= z σ for
	// a Gaussian, Mixture.Covered (randomized PIT) for a mixture. Nominal
	// 0.5, 0.8, 0.9, 0.95.
	Coverage50 float64 `json:"coverage50"`
	// Coverage80 is the 80% interval's coverage.
	Coverage80 float64 `json:"coverage80"`
	// Coverage90 is the 90% interval's coverage.
	Coverage90 float64 `json:"coverage90"`
	// Coverage95 is the 95% interval's coverage.
	Coverage95 float64 `json:"coverage95"`
	// MeanSD is the mean predicted standard deviation σ.
	MeanSD float64 `json:"mean_sd"`
	// Reliability bins the pairs by predicted variance (ReliabilityBins
	// bins of equal count, fewer when pairs are few): per bin, the mean
	// predicted variance and the mean squared error (y − μ)². A calibrated
	// variance has the two equal in every bin.
	Reliability []ReliabilityBin `json:"reliability,omitempty"`
}

// ReliabilityBin is one bin of Calibration.Reliability.
type ReliabilityBin struct {
	// Pairs is the number of pairs in the bin.
	Pairs int `json:"pairs"`
	// MaxVariance is the largest predicted variance in the bin.
	MaxVariance float64 `json:"max_variance"`
	// MeanVariance is the mean predicted variance σ².
	MeanVariance float64 `json:"mean_variance"`
	// MeanSquaredError is the mean (y − μ)².
	MeanSquaredError float64 `json:"mean_squared_error"`
}

// ReliabilityBins is the number of bins of Calibration.Reliability.
const ReliabilityBins = 10

// Coverage levels and their two-sided standard normal quantiles.
var (
	levels = [4]float64{0.5, 0.8, 0.9, 0.95}
	zs     = [4]float64{0.6744897501960817, 1.2815515655446004, 1.6448536269514722, 1.959963984540054}
)

// Calibrator accumulates a Calibration one pair at a time. The zero value
// is empty and ready to use; it is not safe for concurrent use.
type Calibrator struct {
	n, se, nll, ls, sd float64
	cov                [4]float64
	vars, errs         []float64 // per pair, for the reliability bins
}

// Add records one held-out value y against the Gaussian prediction
// (mean, variance).
func (c *Calibrator) Add(y, mean, variance float64) {
	e := y - mean
	v := math.Max(variance, 1e-12)
	sd := math.Sqrt(v)
	nll := 0.5*math.Log(2*math.Pi*v) + e*e/(2*v)
	c.add(e, v, nll, nll)
	for k, z := range zs {
		if math.Abs(e) <= z*sd {
			c.cov[k]++
		}
	}
}

// AddMixture records y against the mixture m: the error, variance and NLL
// from m's mean and variance, the log score and the coverage from m.
func (c *Calibrator) AddMixture(y float64, m Mixture) {
	e := y - m.Mean()
	v := math.Max(m.Variance(), 1e-12)
	c.add(e, v, 0.5*math.Log(2*math.Pi*v)+e*e/(2*v), m.LogScore(y))
	for k, l := range levels {
		c.cov[k] += m.Covered(y, l)
	}
}

func (c *Calibrator) add(e, v, nll, ls float64) {
	c.n++
	c.se += e * e
	c.nll += nll
	c.ls += ls
	c.sd += math.Sqrt(v)
	c.vars = append(c.vars, v)
	c.errs = append(c.errs, e*e)
}

// Result returns the Calibration of the pairs added so far (all zeros when
// none).
func (c *Calibrator) Result() Calibration {
	if c.n == 0 {
		return Calibration{}
	}
	return Calibration{Pairs: int(c.n), RMSE: math.Sqrt(c.se / c.n), NLL: c.nll / c.n, LogScore: c.ls / c.n,
		Coverage50: c.cov[0] / c.n, Coverage80: c.cov[1] / c.n, Coverage90: c.cov[2] / c.n, Coverage95: c.cov[3] / c.n,
		MeanSD: c.sd / c.n, Reliability: c.bins()}
}

// bins sorts the pairs by predicted variance and averages them in
// ReliabilityBins bins of (nearly) equal count.
func (c *Calibrator) bins() []ReliabilityBin {
	idx := make([]int, len(c.vars))
	for k := range idx {
		idx[k] = k
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(c.vars[a], c.vars[b]) })
	nb := min(ReliabilityBins, len(idx))
	out := make([]ReliabilityBin, 0, nb)
	for b := range nb {
		lo, hi := b*len(idx)/nb, (b+1)*len(idx)/nb
		var bin ReliabilityBin
		for _, k := range idx[lo:hi] {
			bin.MeanVariance += c.vars[k]
			bin.MeanSquaredError += c.errs[k]
			bin.MaxVariance = c.vars[k]
		}
		bin.Pairs = hi - lo
		bin.MeanVariance /= float64(bin.Pairs)
		bin.MeanSquaredError /= float64(bin.Pairs)
		out = append(out, bin)
	}
	return out
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
