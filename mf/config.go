package mf

import (
	"fmt"
	"math"
)

// Algorithm names accepted by Config.Algo.
const (
	// AlgoALS is alternating least squares on explicit ratings with user and
	// item biases: r̂ = μ + b_u + b_i + p_u·q_i. It is the default.
	AlgoALS = "als"
	// AlgoBPR is Bayesian personalised ranking on implicit feedback: every
	// rating counts as a positive, whatever its value, and the score
	// b_i + p_u·q_i only orders items for a user.
	AlgoBPR = "bpr"
)

// Config holds the hyperparameters of Train. Train uses the struct as
// given and fills in nothing: build it with DefaultConfig and change fields.
type Config struct {
	// Factors is the number of latent dimensions, >= 1. Default 16.
	Factors int `json:"factors"`
	// Epochs is the number of passes over the data (ALS: alternations of a
	// user sweep and an item sweep), >= 1. Default 15.
	Epochs int `json:"epochs"`
	// Reg is the L2 penalty on the latent factors, >= 0. For ALS it is
	// multiplied by the number of ratings of the user or item being solved
	// (weighted-λ regularisation, ALS-WR), so one value suits both dense
	// and sparse data (0.2 gives held-out RMSE 0.84 on ml-latest-small,
	// against 1.04 for the global mean); for BPR it is the per-update weight
	// decay of factors and item biases. Default 0.2 (ALS), 0.01 (BPR).
	Reg float64 `json:"reg"`
	// BiasReg is the L2 penalty on the user and item biases in ALS, >= 0:
	// an absolute pseudo-count, so a bias computed from n ratings shrinks by
	// about n/(n+BiasReg). BPR ignores it. Default 5.
	BiasReg float64 `json:"bias_reg"`
	// LearnRate is the BPR step size, > 0 for BPR; ALS ignores it.
	// Default 0.05.
	LearnRate float64 `json:"learn_rate"`
	// InitStd is the standard deviation of the Gaussian initial factors,
	// >= 0. Default 0.1.
	InitStd float64 `json:"init_std"`
	// Seed seeds the initial factors and the BPR sampling order; 0 is a
	// valid seed. The same data in the same order with the same Config gives
	// the same model.
	Seed int64 `json:"seed"`
	// Algo is AlgoALS (or "", meaning AlgoALS) or AlgoBPR.
	Algo string `json:"algo"`
}

// DefaultConfig returns the ALS defaults documented on Config: explicit
// ratings with biases, 16 factors, 15 epochs, seed 1.
func DefaultConfig() Config {
	return Config{
		Factors: 16, Epochs: 15, Reg: 0.2, BiasReg: 5,
		LearnRate: 0.05, InitStd: 0.1, Seed: 1, Algo: AlgoALS,
	}
}

// DefaultBPRConfig returns the BPR defaults documented on Config: implicit
// feedback, 16 factors, 30 epochs, weight decay 0.01, step 0.05, seed 1.
func DefaultBPRConfig() Config {
	c := DefaultConfig()
	c.Algo, c.Epochs, c.Reg = AlgoBPR, 30, 0.01
	return c
}

// algo returns the algorithm name with "" meaning AlgoALS.
func (c Config) algo() string {
	if c.Algo == "" {
		return AlgoALS
	}
	return c.Algo
}

// Validate reports the first invalid field of c, naming it.
func (c Config) Validate() error {
	bad := func(v float64) bool { return v < 0 || math.IsNaN(v) || math.IsInf(v, 0) }
	switch {
	case c.Factors < 1:
		return fmt.Errorf("mf: config factors %d, want >= 1", c.Factors)
	case c.Epochs < 1:
		return fmt.Errorf("mf: config epochs %d, want >= 1", c.Epochs)
	case bad(c.Reg):
		return fmt.Errorf("mf: config reg %v, want finite >= 0", c.Reg)
	case bad(c.BiasReg):
		return fmt.Errorf("mf: config bias_reg %v, want finite >= 0", c.BiasReg)
	case bad(c.InitStd):
		return fmt.Errorf("mf: config init_std %v, want finite >= 0", c.InitStd)
	}
	switch c.algo() {
	case AlgoALS:
	case AlgoBPR:
		if bad(c.LearnRate) || c.LearnRate == 0 {
			return fmt.Errorf("mf: config learn_rate %v, want finite > 0 for %s", c.LearnRate, c.algo())
		}
	default:
		return fmt.Errorf("mf: config algo %q, want als or bpr", c.Algo)
	}
	return nil
}
