package critic

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/flexrec/flexrec/mf"
)

// Ensemble is a bootstrap ensemble of biased MF models. For a pair it
// predicts the mean of the members' scores (each clipped to the range of
// the training values) with variance VarianceModel.Of(disagreement), the
// disagreement being the members' sample variance (divisor B − 1). It is
// immutable and safe for concurrent use.
type Ensemble struct {
	cfg    Config
	vm     VarianceModel
	lo, hi float64
	models []*mf.Model
}

// trainEnsemble fits cfg.Models members, member b on a bootstrap sample
// (len(data) draws with replacement) with MF seed cfg.Seed + b.
func trainEnsemble(ctx context.Context, data []mf.Rating, cfg Config, vm VarianceModel) (*Ensemble, error) {
	e := &Ensemble{cfg: cfg, vm: vm}
	e.lo, e.hi = valueRange(data)
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0xb007))
	sample := make([]mf.Rating, len(data))
	for b := range cfg.Models {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for k := range sample {
			sample[k] = data[rng.IntN(len(data))]
		}
		mc := cfg.MF
		mc.Seed = cfg.Seed + int64(b)
		m, err := mf.Train(ctx, sample, mc)
		if err != nil {
			return nil, fmt.Errorf("critic: ensemble member %d: %w", b, err)
		}
		e.models = append(e.models, m)
	}
	return e, nil
}

// valueRange returns the smallest and largest value of data.
func valueRange(data []mf.Rating) (float64, float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range data {
		lo, hi = min(lo, r.Value), max(hi, r.Value)
	}
	return lo, hi
}

// Kind returns KindEnsemble.
func (e *Ensemble) Kind() string { return KindEnsemble }

// Variance returns the fitted variance model.
func (e *Ensemble) Variance() VarianceModel { return e.vm }

// Members returns the number of models.
func (e *Ensemble) Members() int { return len(e.models) }

// Predict returns the ensemble mean and the calibrated variance
// Scale·disagreement + Noise. O(B·Factors).
func (e *Ensemble) Predict(user, item string) (float64, float64) {
	m, raw := e.predictRaw(user, item)
	return m, e.vm.Of(raw)
}

func (e *Ensemble) predictRaw(user, item string) (float64, float64) {
	var s, s2 float64
	for _, m := range e.models {
		x := min(max(m.Score(user, item), e.lo), e.hi)
		s += x
		s2 += x * x
	}
	b := float64(len(e.models))
	mean := s / b
	return mean, math.Max(s2-b*mean*mean, 0) / (b - 1)
}
