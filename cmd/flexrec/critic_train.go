package main

import (
	"github.com/flexrec/flexrec/internal/atomicfile"

	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flexrec/flexrec/rl/critic"
)

type criticTrainOptions struct {
	episodes string
	needs    string
	out      string
	hurdle   bool
	cfg      critic.Config // flags write straight into it
}

func newCriticTrainCmd(s io3) *cobra.Command {
	o := &criticTrainOptions{cfg: critic.DefaultConfig()}
	c := &cobra.Command{
		Use:   "train",
		Short: "Train a critic on the observed feedback of episodes",
		Long: `Train a critic on what episodes let it see: every history item's engagement,
plus the gains of the observed candidates (Labels.observed; all candidates in
dense mode) where the gain is the engagement (need interest; need explore
for novel items; trend and search gains are skipped). Unobserved labels are
never read. A seeded --valid-fraction of the ratings fits the variance model
(scale·raw + noise, by Gaussian likelihood); the critic is then refit on all
of them. With --hurdle (the default), a logistic model of whether the user
met the item at all (from the item's and user's rating counts) is fitted on
the observed candidates, since episode gains are 0 for unseen candidates:
the critic then predicts E g = p·μ, Var g = p·σ² + p(1−p)·μ², and the whole
mixture (gain 0 with probability 1 − p) where a consumer can use it. With
--calibration-fraction (default 0.5) that share of the observed candidates is
held out first to fit a calibration (Platt scaling of p, a shift of μ and a
factor on σ²); the critic is then refit on everything and keeps it. Only
observed feedback is used.
Writes the critic as one JSON file (--out) and prints a JSON summary.

Examples:
  flexrec critic train --episodes eps.jsonl --out critic.json
  flexrec critic train --episodes eps.jsonl --kind item-knn --neighbours 20 --out knn.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runCriticTrain(cmd.Context(), o, s) },
	}
	o.addFlags(c.Flags())
	return c
}

func (o *criticTrainOptions) addFlags(f *pflag.FlagSet) {
	c := &o.cfg
	f.StringVar(&o.episodes, "episodes", "", "episodes JSON Lines file (required)")
	f.StringVar(&o.needs, "needs", "", "YAML/JSON file of custom needs, for episodes whose need is not built in")
	f.StringVar(&o.out, "out", "", "write the critic to this JSON file (required)")
	f.BoolVar(&o.hurdle, "hurdle", true, "model gain 0 for candidates the user never met (needs observed candidates with gain 0 and above 0)")
	f.StringVar(&c.Kind, "kind", c.Kind, "ensemble, user-knn or item-knn")
	f.Int64Var(&c.Seed, "seed", c.Seed, "random seed (validation split, bootstrap, MF init)")
	f.IntVar(&c.Models, "models", c.Models, "ensemble: number of bootstrap MF models")
	f.IntVar(&c.MF.Factors, "factors", c.MF.Factors, "ensemble: MF latent factors")
	f.IntVar(&c.MF.Epochs, "epochs", c.MF.Epochs, "ensemble: MF ALS epochs")
	f.Float64Var(&c.MF.Reg, "reg", c.MF.Reg, "ensemble: MF factor regularisation (ALS-WR λ)")
	f.IntVar(&c.Neighbours, "neighbours", c.Neighbours, "knn: neighbourhood size")
	f.Float64Var(&c.Shrink, "shrink", c.Shrink, "knn: similarity shrinkage n/(n+shrink)")
	f.Float64Var(&c.ValidFraction, "valid-fraction", c.ValidFraction, "share of training pairs held out to fit the variance, in (0, 0.5]")
	f.Float64Var(&c.CalibrationFraction, "calibration-fraction", c.CalibrationFraction, "hurdle: share of observed candidates held out to calibrate the mixture, in [0, 0.9); 0: none")
}

func (o *criticTrainOptions) verify() error {
	if o.episodes == "" || o.out == "" {
		return usagef("--episodes and --out are required")
	}
	if err := o.cfg.Validate(); err != nil {
		return usagef("%v", err)
	}
	return nil
}

func runCriticTrain(ctx context.Context, o *criticTrainOptions, s io3) error {
	if err := o.verify(); err != nil {
		return err
	}
	eps, rules, err := criticInputs(ctx, o.episodes, o.needs)
	if err != nil {
		return err
	}
	obs, err := critic.TrainingPairs(eps, rules)
	if err != nil {
		return err
	}
	var c critic.Critic
	if o.hurdle {
		c, err = critic.TrainHurdle(ctx, obs, o.cfg)
	} else {
		c, err = critic.Train(ctx, obs.Ratings, o.cfg)
	}
	if err != nil {
		return err
	}
	if err := writeCritic(o.out, c); err != nil {
		return err
	}
	slog.New(slog.NewTextHandler(s.err, nil)).Info("critic trained", "kind", c.Kind(),
		"episodes", len(eps), "ratings", len(obs.Ratings), "exposures", len(obs.Exposures), "out", o.out)
	sum := map[string]any{"kind": c.Kind(), "episodes": len(eps), "ratings": len(obs.Ratings),
		"exposures": len(obs.Exposures), "variance": c.Variance(), "out": o.out}
	if h, ok := c.(*critic.Hurdle); ok {
		sum["hurdle_weights"] = h.Weights()
		sum["calibration"] = h.Calibration()
	}
	return json.NewEncoder(s.out).Encode(sum)
}

// writeCritic saves c to path atomically.
func writeCritic(path string, c critic.Critic) error {
	f, err := atomicfile.Create(path, 0o644)
	if err != nil {
		return fmt.Errorf("critic: %w", err)
	}
	defer f.Abort()
	if err := critic.Save(f, c); err != nil {
		return err
	}
	return f.Commit()
}
