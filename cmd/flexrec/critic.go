package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/flexrec/flexrec/eval/dataset"
	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rl/critic"
)

func newCriticCmd(s io3) *cobra.Command {
	c := &cobra.Command{
		Use:   "critic",
		Short: "Train and evaluate the reward critic on episodes' observed feedback",
		Long: `The critic predicts the mean and variance of a user's engagement with any item
from the observed feedback only (method.md §4); rewards use it for the
candidates whose feedback is unobserved. Kinds: ensemble (bootstrap MF
ensemble, the default), user-knn and item-knn (the paper's ablation).

Examples:
  flexrec episodes --need interest --sparse 0.1 --out eps.jsonl
  flexrec critic train --episodes eps.jsonl --out critic.json
  flexrec critic eval --critic critic.json --episodes eps.jsonl`,
		Args: cobra.NoArgs,
	}
	for _, sub := range []*cobra.Command{newCriticTrainCmd(s), newCriticEvalCmd(s)} {
		sub.Long += exitCodesHelp
		c.AddCommand(sub)
	}
	return c
}

// criticInputs reads the episodes and the gain rules: the built-in needs
// plus, when needsFile is set, the custom needs of that file.
func criticInputs(ctx context.Context, episodes, needsFile string) ([]*prompt.Episode, critic.Rules, error) {
	rules := critic.BuiltinRules()
	if needsFile != "" {
		needs, err := prompt.LoadNeeds(needsFile)
		if err != nil {
			return nil, nil, err
		}
		for _, n := range needs {
			rules[n.ID] = n.Gain
		}
	}
	eps, err := dataset.ReadEpisodesFile(ctx, episodes)
	if err != nil {
		return nil, nil, err
	}
	if len(eps) == 0 {
		return nil, nil, fmt.Errorf("critic: %s holds no episodes", episodes)
	}
	ptrs := make([]*prompt.Episode, len(eps))
	for k := range eps {
		ptrs[k] = &eps[k]
	}
	return ptrs, rules, nil
}
