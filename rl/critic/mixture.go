package critic

import (
	"math"
	"math/rand/v2"

	"github.com/flexrec/flexrec/mf"
)

// Mixture is the predictive distribution of a gain that is 0 when the user
// never met the item: g = 0 with probability 1 − P, else g = max(X, 0)
// with X ~ N(Mu, Var) the engagement given an interaction (gains are never
// negative, so the Gaussian's negative tail joins the atom at 0). Hurdle
// predicts one per pair. Mean and Variance are those of P·X, the moments
// Hurdle.Predict reports (the rectification changes them by P·Φ(−Mu/σ)
// terms, negligible for ratings).
type Mixture struct {
	// P is the probability of an interaction, in [0, 1].
	P float64 `json:"p"`
	// Mu is the mean engagement given an interaction.
	Mu float64 `json:"mu"`
	// Var is the engagement variance given an interaction, > 0.
	Var float64 `json:"var"`
}

// Mean returns E g = P·Mu.
func (m Mixture) Mean() float64 { return m.P * m.Mu }

// Variance returns Var g = P·Var + P(1 − P)·Mu².
func (m Mixture) Variance() float64 { return m.P*m.Var + m.P*(1-m.P)*m.Mu*m.Mu }

// cdf returns P(g < y) (left) and P(g <= y) (right): they differ only at
// y = 0, where the mass 1 − P + P·Φ(−Mu/σ) sits.
func (m Mixture) cdf(y float64) (left, right float64) {
	if y < 0 {
		return 0, 0
	}
	c := 1 - m.P + m.P*normCDF((y-m.Mu)/math.Sqrt(m.Var))
	if y == 0 {
		return 0, c
	}
	return c, c
}

// LogScore returns the negative log-likelihood of y >= 0 under m in nats:
// −log(1 − P + P·Φ(−Mu/σ)) for y = 0 (a probability: the atom), else
// −log(P · N(y; Mu, Var)) (a density). It is the proper log score of the
// mixed distribution; it is not comparable with a Gaussian NLL, which
// scores y = 0 by a density too. Probabilities are floored at 1e-12.
func (m Mixture) LogScore(y float64) float64 {
	if y <= 0 {
		_, atom := m.cdf(0)
		return -math.Log(math.Max(atom, 1e-12))
	}
	e := y - m.Mu
	return -math.Log(math.Max(m.P, 1e-12)) + 0.5*math.Log(2*math.Pi*m.Var) + e*e/(2*m.Var)
}

// Covered returns the probability that y falls in the central interval of
// level c of m, under the randomized probability integral transform: with
// F the CDF, U is uniform on [F(y−), F(y)] (a point when F is continuous at
// y), and the interval is U ∈ [(1−c)/2, (1+c)/2]. For a calibrated
// predictive distribution, mixed or not, the mean over pairs is c; it is
// the interval coverage of a distribution with an atom (Czado, Gneiting
// and Held 2009), which a Gaussian central interval cannot have.
func (m Mixture) Covered(y, c float64) float64 {
	lo, hi := (1-c)/2, (1+c)/2
	a, b := m.cdf(y)
	if b-a < 1e-15 {
		if a >= lo && a <= hi {
			return 1
		}
		return 0
	}
	return math.Max(0, math.Min(b, hi)-math.Max(a, lo)) / (b - a)
}

func normCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

// HurdleCalibration is the recalibration TrainHurdle fits on a held-out
// split of the observed candidates: Platt scaling of the interaction
// probability, a shift of the engagement mean and a factor on its
// variance,
//
//	p' = σ(A + B·logit p),  μ' = μ + Shift,  σ'² = VarScale·σ².
//
// The identity is {A: 0, B: 1, Shift: 0, VarScale: 1}.
type HurdleCalibration struct {
	// A is the Platt intercept.
	A float64 `json:"a"`
	// B is the Platt slope.
	B float64 `json:"b"`
	// Shift is added to the engagement mean.
	Shift float64 `json:"shift"`
	// VarScale multiplies the engagement variance, > 0.
	VarScale float64 `json:"var_scale"`
}

// IdentityCalibration returns the calibration that changes nothing.
func IdentityCalibration() HurdleCalibration { return HurdleCalibration{B: 1, VarScale: 1} }

// apply returns the recalibrated mixture.
func (c HurdleCalibration) apply(p, mu, v float64) Mixture {
	p = min(max(p, 1e-9), 1-1e-9)
	z := c.A + c.B*math.Log(p/(1-p))
	return Mixture{P: sigmoid(z), Mu: mu + c.Shift, Var: math.Max(c.VarScale*v, 1e-12)}
}

// fitCalibration fits a HurdleCalibration of h on held-out exposures:
// Platt's A and B by logistic regression of "interacted" on logit p; Shift
// and VarScale by Gaussian likelihood on the positive exposures
// (Shift = mean residual, VarScale = mean squared shifted residual over
// the predicted variance). Too few exposures of either outcome (under 10)
// leave the corresponding part at the identity.
func fitCalibration(h *Hurdle, held []mf.Rating) HurdleCalibration {
	cal := IdentityCalibration()
	var xs [][3]float64
	var ys []float64
	var pos, neg int
	var res, vs []float64
	for _, e := range held {
		p := min(max(h.Interact(e.User, e.Item), 1e-9), 1-1e-9)
		xs = append(xs, [3]float64{1, math.Log(p / (1 - p)), 0})
		y := 0.0
		if e.Value > 0 {
			y = 1
			pos++
			mu, v := h.inner.Predict(e.User, e.Item)
			res, vs = append(res, e.Value-mu), append(vs, v)
		} else {
			neg++
		}
		ys = append(ys, y)
	}
	if pos >= 10 && neg >= 10 {
		w := fitLogistic(xs, ys)
		cal.A, cal.B = w[0], w[1]
	}
	if pos >= 10 {
		var s float64
		for _, r := range res {
			s += r
		}
		cal.Shift = s / float64(len(res))
		var q float64
		for k, r := range res {
			q += (r - cal.Shift) * (r - cal.Shift) / vs[k]
		}
		cal.VarScale = q / float64(len(res))
	}
	return cal
}

// splitExposures holds out a seeded share frac of exposures for
// calibration.
func splitExposures(exp []mf.Rating, frac float64, seed int64) (fit, held []mf.Rating) {
	rng := rand.New(rand.NewPCG(uint64(seed), 0xca1b))
	for _, e := range exp {
		if rng.Float64() < frac {
			held = append(held, e)
		} else {
			fit = append(fit, e)
		}
	}
	return fit, held
}
