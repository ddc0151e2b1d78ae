package main

import (
	"context"
	"encoding/json"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flexrec/flexrec/rl/critic"
)

type criticEvalOptions struct {
	critic   string
	episodes string
	needs    string
	on       string
}

func newCriticEvalCmd(s io3) *cobra.Command {
	o := &criticEvalOptions{}
	c := &cobra.Command{
		Use:   "eval",
		Short: "Report a critic's calibration on episodes' held-out labels",
		Long: `Predict every candidate's gain with the critic (its labels hidden) and compare
with the episodes' true gains on the candidates chosen by --on: unobserved
(default; the held-out pairs of the sparse mode), observed, or all. Prints
one JSON object: pairs, rmse, nll (mean Gaussian negative log-likelihood of
the predicted mean and variance, nats), log_score (the same under the
predictive distribution itself: for a hurdle critic the mixture with a mass
at gain 0), coverage50, coverage80, coverage90 and coverage95 (share of true
gains inside the central interval of that level; for the mixture by the
randomized probability integral transform; calibrated near 0.5, 0.8, 0.9,
0.95), mean_sd, reliability (10 bins of equal count by predicted variance:
mean predicted variance against mean squared error), episodes, skipped (no
labels, or the search need, which a critic cannot predict), and positive (the
same on the pairs with a true gain above 0; conditioning on the outcome, its
coverage is not expected to be nominal).

Examples:
  flexrec critic eval --critic critic.json --episodes eps.jsonl
  flexrec critic eval --critic critic.json --episodes eps.jsonl --on all`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runCriticEval(cmd.Context(), o, s) },
	}
	o.addFlags(c.Flags())
	return c
}

func (o *criticEvalOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.critic, "critic", "", "critic JSON file from `flexrec critic train` (required)")
	f.StringVar(&o.episodes, "episodes", "", "episodes JSON Lines file (required)")
	f.StringVar(&o.needs, "needs", "", "YAML/JSON file of custom needs, for episodes whose need is not built in")
	f.StringVar(&o.on, "on", critic.OnUnobserved, "candidates to evaluate on: unobserved, observed or all")
}

func (o *criticEvalOptions) verify() error {
	if o.critic == "" || o.episodes == "" {
		return usagef("--critic and --episodes are required")
	}
	if o.on != critic.OnUnobserved && o.on != critic.OnObserved && o.on != critic.OnAll {
		return usagef("--on %q: want unobserved, observed or all", o.on)
	}
	return nil
}

func runCriticEval(ctx context.Context, o *criticEvalOptions, s io3) error {
	if err := o.verify(); err != nil {
		return err
	}
	c, err := critic.LoadFile(o.critic)
	if err != nil {
		return err
	}
	eps, rules, err := criticInputs(ctx, o.episodes, o.needs)
	if err != nil {
		return err
	}
	rep, err := critic.EvaluateEpisodes(c, eps, rules, o.on)
	if err != nil {
		return err
	}
	return json.NewEncoder(s.out).Encode(rep)
}
