package critic

import (
	"context"
	"fmt"
	"math"

	"github.com/flexrec/flexrec/mf"
)

// Hurdle is a two-part critic for engagement that is 0 when the user never
// met the item, as episode gains are for unseen candidates. A logistic
// model gives the probability that the user interacted,
//
//	p = σ(w₀ + w₁ log(1+n_i) + w₂ log(1+n_u)),
//
// with n_i and n_u the item's and user's numbers of observed ratings; the
// inner critic gives the engagement N(μ, σ²) given an interaction. The
// gain g is then 0 with probability 1 − p, else the engagement (a
// Mixture, after the HurdleCalibration fitted on held-out observed
// candidates):
//
//	E g = p μ,  Var g = p σ² + p(1 − p) μ².
//
// It is immutable and safe for concurrent use.
type Hurdle struct {
	inner        Critic
	w            [3]float64
	items, users map[string]float64
	cal          HurdleCalibration
}

// TrainHurdle trains the inner critic of cfg.Kind on obs.Ratings (as
// Train does) and fits the hurdle's logistic model on obs.Exposures (gain 0:
// no interaction; above 0: interaction), counting n_i and n_u in
// obs.Ratings without the exposure's own rating (leave-one-out, so that
// training counts match those of unseen pairs). When the exposures are
// all 0 or all above 0 there is nothing to fit and it returns the inner
// critic alone.
//
// With cfg.CalibrationFraction > 0 it first holds out that seeded share of
// the exposures (and their ratings), trains the same hurdle on the rest,
// and fits a HurdleCalibration on the held-out exposures (fitCalibration:
// Platt scaling of p, a mean shift and a variance factor of the
// engagement); it then retrains on everything and keeps the calibration.
// Only observed feedback is used: the held-out exposures are observed
// candidates. Errors are Train's.
func TrainHurdle(ctx context.Context, obs Observed, cfg Config) (Critic, error) {
	cal := IdentityCalibration()
	if cfg.CalibrationFraction > 0 {
		fit, held := splitExposures(obs.Exposures, cfg.CalibrationFraction, cfg.Seed)
		drop := map[[2]string]bool{}
		for _, e := range held {
			drop[[2]string{e.User, e.Item}] = true
		}
		var ratings []mf.Rating
		for _, r := range obs.Ratings {
			if !drop[[2]string{r.User, r.Item}] {
				ratings = append(ratings, r)
			}
		}
		c, err := trainHurdle(ctx, Observed{Ratings: ratings, Exposures: fit}, cfg)
		if err != nil {
			return nil, err
		}
		if h, ok := c.(*Hurdle); ok {
			cal = fitCalibration(h, held)
		}
	}
	c, err := trainHurdle(ctx, obs, cfg)
	if h, ok := c.(*Hurdle); ok {
		h.cal = cal
	}
	return c, err
}

// trainHurdle is TrainHurdle without the calibration.
func trainHurdle(ctx context.Context, obs Observed, cfg Config) (Critic, error) {
	inner, err := Train(ctx, obs.Ratings, cfg)
	if err != nil {
		return nil, err
	}
	h := &Hurdle{inner: inner, items: map[string]float64{}, users: map[string]float64{}, cal: IdentityCalibration()}
	for _, r := range obs.Ratings {
		h.items[r.Item]++
		h.users[r.User]++
	}
	xs, ys := make([][3]float64, len(obs.Exposures)), make([]float64, len(obs.Exposures))
	var pos float64
	for k, e := range obs.Exposures {
		own := 0.0
		if e.Value > 0 {
			own, ys[k] = 1, 1
			pos++
		}
		xs[k] = h.features(e.User, e.Item, own)
	}
	if pos == 0 || pos == float64(len(ys)) {
		return inner, nil
	}
	h.w = fitLogistic(xs, ys)
	return h, nil
}

// features returns (1, log(1+n_i), log(1+n_u)) with own subtracted from
// both counts.
func (h *Hurdle) features(user, item string, own float64) [3]float64 {
	return [3]float64{1, math.Log1p(math.Max(h.items[item]-own, 0)), math.Log1p(math.Max(h.users[user]-own, 0))}
}

// Interact returns the logistic model's probability p that user
// interacted with item, before the calibration (PredictMixture's P is
// after it).
func (h *Hurdle) Interact(user, item string) float64 {
	x := h.features(user, item, 0)
	return sigmoid(h.w[0]*x[0] + h.w[1]*x[1] + h.w[2]*x[2])
}

// PredictMixture returns the calibrated predictive distribution of the
// gain: P from Interact, Mu and Var from the inner critic, then the
// HurdleCalibration. O(inner) plus two map look-ups.
func (h *Hurdle) PredictMixture(user, item string) Mixture {
	mu, v := h.inner.Predict(user, item)
	return h.cal.apply(h.Interact(user, item), mu, v)
}

// PredictHurdle returns PredictMixture's P, Mu and Var as plain numbers:
// it satisfies rl.HurdlePredictor, so rl.Fill computes exact gain moments
// under the mixture.
func (h *Hurdle) PredictHurdle(user, item string) (p, mean, variance float64) {
	m := h.PredictMixture(user, item)
	return m.P, m.Mu, m.Var
}

// Predict returns the mixture's moments E g = p μ and
// Var g = p σ² + p(1 − p) μ² (floored at 1e-12).
func (h *Hurdle) Predict(user, item string) (float64, float64) {
	m := h.PredictMixture(user, item)
	return m.Mean(), math.Max(m.Variance(), 1e-12)
}

// Calibration returns the fitted HurdleCalibration (the identity when
// none was fitted).
func (h *Hurdle) Calibration() HurdleCalibration { return h.cal }

// Kind returns the inner critic's kind.
func (h *Hurdle) Kind() string { return h.inner.Kind() }

// Variance returns the inner critic's variance model.
func (h *Hurdle) Variance() VarianceModel { return h.inner.Variance() }

// Inner returns the critic of engagement given an interaction.
func (h *Hurdle) Inner() Critic { return h.inner }

// Weights returns the logistic weights (w₀, w₁, w₂).
func (h *Hurdle) Weights() [3]float64 { return h.w }

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// fitLogistic fits ridge-penalised (λ = 1e-3) logistic regression by 50
// Newton steps at most.
func fitLogistic(xs [][3]float64, ys []float64) [3]float64 {
	var w [3]float64
	for range 50 {
		var g [3]float64
		var hm [3][3]float64
		for k, x := range xs {
			p := sigmoid(w[0]*x[0] + w[1]*x[1] + w[2]*x[2])
			for a := range 3 {
				g[a] += (ys[k] - p) * x[a]
				for b := range 3 {
					hm[a][b] += p * (1 - p) * x[a] * x[b]
				}
			}
		}
		for a := range 3 {
			g[a] -= 1e-3 * w[a]
			hm[a][a] += 1e-3
		}
		step := solve3(hm, g)
		for a := range 3 {
			w[a] += step[a]
		}
		if math.Abs(step[0])+math.Abs(step[1])+math.Abs(step[2]) < 1e-10 {
			break
		}
	}
	return w
}

// solve3 solves A x = b for a symmetric positive definite 3×3 A by
// Gaussian elimination.
func solve3(a [3][3]float64, b [3]float64) [3]float64 {
	for c := range 3 {
		for r := c + 1; r < 3; r++ {
			f := a[r][c] / a[c][c]
			for k := c; k < 3; k++ {
				a[r][k] -= f * a[c][k]
			}
			b[r] -= f * b[c]
		}
	}
	var x [3]float64
	for r := 2; r >= 0; r-- {
		s := b[r]
		for k := r + 1; k < 3; k++ {
			s -= a[r][k] * x[k]
		}
		x[r] = s / a[r][r]
	}
	return x
}

// hurdleFile is the hurdle's part of the critic file.
type hurdleFile struct {
	Weights [3]float64         `json:"weights"`
	Items   map[string]float64 `json:"item_counts"`
	Users   map[string]float64 `json:"user_counts"`
	// Calibration is absent in files from before calibration: the
	// identity.
	Calibration *HurdleCalibration `json:"calibration,omitempty"`
}

func (f *hurdleFile) check() error {
	for _, w := range f.Weights {
		if math.IsNaN(w) || math.IsInf(w, 0) {
			return fmt.Errorf("critic: load: hurdle weights %v not finite", f.Weights)
		}
	}
	return nil
}
