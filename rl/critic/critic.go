// Package critic owns FlexRec's critic (method.md §4): a reward model that
// predicts, for any user–item pair, the mean and variance of the user's
// engagement from the observed (sparse) feedback only. Three kinds share
// one interface and one file format: a bootstrap ensemble of matrix
// factorisations (package mf), and user-KNN and item-KNN estimates for the
// paper's ablation. Each kind's variance is calibrated on a validation
// split of its own training pairs, never on the pairs it is evaluated on.
package critic

import (
	"context"
	"fmt"
	"math"

	"github.com/flexrec/flexrec/mf"
)

// Critic kinds.
const (
	// KindEnsemble is a bootstrap ensemble of biased MF models: the mean is
	// the members' average, the raw variance their disagreement.
	KindEnsemble = "ensemble"
	// KindUserKNN predicts from the residuals of the most similar users who
	// rated the item.
	KindUserKNN = "user-knn"
	// KindItemKNN predicts from the user's residuals on the most similar
	// items they rated.
	KindItemKNN = "item-knn"
)

// Critic predicts a user's engagement with an item as a Gaussian. Every
// implementation is immutable after Train or Load and safe for concurrent
// use; it satisfies rl.Predictor.
type Critic interface {
	// Predict returns the predicted mean engagement and its variance
	// (> 0, finite) for any pair, known or not: unknown users and items
	// fall back to biases and the global mean, with a wider variance.
	Predict(user, item string) (mean, variance float64)
	// Kind returns one of KindEnsemble, KindUserKNN, KindItemKNN.
	Kind() string
	// Variance returns the fitted variance model.
	Variance() VarianceModel
}

// VarianceModel turns a kind's raw uncertainty r (ensemble disagreement,
// neighbour spread) into a predictive variance: Scale·r + Noise. Both are
// fitted by Gaussian maximum likelihood on the validation split.
type VarianceModel struct {
	// Scale multiplies the raw uncertainty, >= 0.
	Scale float64 `json:"scale"`
	// Noise is the irreducible variance (rating noise and model bias), > 0.
	Noise float64 `json:"noise"`
}

// Of returns Scale·raw + Noise.
func (v VarianceModel) Of(raw float64) float64 { return v.Scale*raw + v.Noise }

// Config holds a critic's training settings. Build it with DefaultConfig.
type Config struct {
	// Kind is KindEnsemble (default), KindUserKNN or KindItemKNN.
	Kind string `json:"kind"`
	// Seed seeds the validation split, the bootstrap samples and the MF
	// initialisations; 0 is a valid seed. Default 1.
	Seed int64 `json:"seed"`
	// Models is the ensemble size B, >= 2. Default 8.
	Models int `json:"models"`
	// MF configures every ensemble member (its Seed is replaced by
	// Seed + member). Default mf.DefaultConfig() with 8 factors, Reg 0.5
	// and BiasReg 3, the best held-out RMSE on 10% of ml-latest-small
	// (where the biases carry most of the signal).
	MF mf.Config `json:"mf"`
	// Neighbours is the KNN neighbourhood size k, >= 1. Default 40.
	Neighbours int `json:"neighbours"`
	// Shrink shrinks a similarity computed from n co-ratings by
	// n/(n+Shrink), >= 0. Default 5.
	Shrink float64 `json:"shrink"`
	// Prior is the pseudo-weight pulling a KNN estimate towards the
	// baseline, > 0. Default 1.
	Prior float64 `json:"prior"`
	// BiasReg is the pseudo-count shrinking the KNN baseline's user and
	// item biases, >= 0. Default 5.
	BiasReg float64 `json:"bias_reg"`
	// ValidFraction is the share of the training pairs held out to fit the
	// VarianceModel, in (0, 0.5]. Default 0.2.
	ValidFraction float64 `json:"valid_fraction"`
	// CalibrationFraction is the share of the observed candidates
	// (Observed.Exposures) TrainHurdle holds out to fit its
	// HurdleCalibration, in [0, 0.9); 0 fits none. Default 0.5.
	CalibrationFraction float64 `json:"calibration_fraction"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	m := mf.DefaultConfig()
	m.Factors, m.Reg, m.BiasReg = 8, 0.5, 3
	return Config{Kind: KindEnsemble, Seed: 1, Models: 8, MF: m, Neighbours: 40,
		Shrink: 5, Prior: 1, BiasReg: 5, ValidFraction: 0.2, CalibrationFraction: 0.5}
}

// Validate reports the first invalid field of c, naming it.
func (c Config) Validate() error {
	switch {
	case c.Kind != KindEnsemble && c.Kind != KindUserKNN && c.Kind != KindItemKNN:
		return fmt.Errorf("critic: config kind %q, want ensemble, user-knn or item-knn", c.Kind)
	case c.Kind == KindEnsemble && c.Models < 2:
		return fmt.Errorf("critic: config models %d, want >= 2", c.Models)
	case c.Neighbours < 1:
		return fmt.Errorf("critic: config neighbours %d, want >= 1", c.Neighbours)
	case !(c.Shrink >= 0) || math.IsInf(c.Shrink, 1):
		return fmt.Errorf("critic: config shrink %v, want finite >= 0", c.Shrink)
	case !(c.Prior > 0) || math.IsInf(c.Prior, 1):
		return fmt.Errorf("critic: config prior %v, want finite > 0", c.Prior)
	case !(c.BiasReg >= 0) || math.IsInf(c.BiasReg, 1):
		return fmt.Errorf("critic: config bias_reg %v, want finite >= 0", c.BiasReg)
	case !(c.ValidFraction > 0 && c.ValidFraction <= 0.5):
		return fmt.Errorf("critic: config valid_fraction %v, want in (0, 0.5]", c.ValidFraction)
	case !(c.CalibrationFraction >= 0 && c.CalibrationFraction < 0.9):
		return fmt.Errorf("critic: config calibration_fraction %v, want in [0, 0.9)", c.CalibrationFraction)
	}
	if c.Kind == KindEnsemble {
		if err := c.MF.Validate(); err != nil {
			return fmt.Errorf("critic: config mf: %w", err)
		}
		if c.MF.Algo == mf.AlgoBPR {
			return fmt.Errorf("critic: config mf: algo bpr predicts no engagement, want als")
		}
	}
	return nil
}

// Train fits a critic of cfg.Kind to the observed pairs data. It holds out
// a seeded ValidFraction of data, trains on the rest, fits the
// VarianceModel on the held-out part, then retrains on all of data with the
// fitted VarianceModel. The same data in the same order with the same cfg
// gives the same critic. It needs at least 10 pairs; values must be finite.
// It checks ctx between models. Cost: about Models+1 MF trainings for the
// ensemble (under a second for 10k ratings), and O(n log n) plus the
// validation predictions for KNN.
func Train(ctx context.Context, data []mf.Rating, cfg Config) (Critic, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(data) < 10 {
		return nil, fmt.Errorf("critic: %d training pairs, want >= 10", len(data))
	}
	for k, r := range data {
		if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
			return nil, fmt.Errorf("critic: pair %d (user %q, item %q) has value %v", k, r.User, r.Item, r.Value)
		}
	}
	fit, valid := split(data, cfg.ValidFraction, cfg.Seed)
	c, err := build(ctx, fit, cfg, VarianceModel{Scale: 1, Noise: 1})
	if err != nil {
		return nil, err
	}
	vm := fitVariance(c, valid)
	return build(ctx, data, cfg, vm)
}

// build trains the kind's model on data with a given variance model.
func build(ctx context.Context, data []mf.Rating, cfg Config, vm VarianceModel) (rawCritic, error) {
	if cfg.Kind == KindEnsemble {
		return trainEnsemble(ctx, data, cfg, vm)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return newKNN(data, cfg, vm), nil
}

// rawCritic is a Critic that also exposes its raw uncertainty, which the
// variance fit needs.
type rawCritic interface {
	Critic
	predictRaw(user, item string) (mean, raw float64)
}
