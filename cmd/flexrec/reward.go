package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flexrec/flexrec/rl"
)

type rewardOptions struct {
	rl rlFlags
}

func newRewardCmd(s io3) *cobra.Command {
	o := &rewardOptions{}
	c := &cobra.Command{
		Use:   "reward [FILE]",
		Short: "Score rankings: list reward, item rewards and uncertainty, as JSON Lines",
		Long: `Read one JSON object per line (from FILE, or stdin when FILE is absent or -):

  {"gains":[...], "permutation":[...], "variances":[...], "k":K}

gains are the N candidates' gains (>= 0); permutation lists indices into
gains, best first (distinct; it may be shorter than gains); variances are
the per-candidate gain variances (optional; absent means all observed); k is
the NDCG cutoff (optional; absent or 0 means the whole list). For each line
print one line

  {"list_reward":x, "item_rewards":[...], "u":x}

with list_reward the NDCG (IDCG over all N gains), item_rewards one per
position under --item-reward, and u the rollout uncertainty under
--uncertainty (0 without variances). Any other implementation can be checked
against this one. A malformed line stops the run with an error naming it.

Item rewards: causal-swap (default; mean loss when swapping with each later
position), independent (g_k d_k / IDCG), noncausal-swap (swaps with every
other position), rank-level (DCG from k to the end / IDCG).

A line may carry "repaired":[...] (per position, true for items the parser
appended); --repaired-tail and --format-penalty then apply. A line with
"rollouts":[{"permutation":[...],"repaired":[...],"spans":[{"first":F,
"last":L,"generated":true},...],"tokens":T},...] is a whole group of one
episode: it prints {"rewards", "u", "scales", "sequence_advantages",
"item_rewards", "item_advantages", "token_advantages"} under every switch
below (level, normalisation, uncertainty and scaling, per-item scaling,
other-token rule, format penalty, repaired tail).

Examples:
  echo '{"gains":[3,2,1],"permutation":[2,0,1]}' | flexrec reward
  flexrec reward --item-reward rank-level --uncertainty sum rollouts.jsonl
  echo '{"gains":[3,2,1],"rollouts":[{"permutation":[0,1,2]},{"permutation":[2,1,0],"repaired":[false,true,true]}]}' | flexrec reward --normalize pooled --repaired-tail zero`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReward(cmd.Context(), o, args, s)
		},
	}
	o.addFlags(c.Flags())
	return c
}

func (o *rewardOptions) addFlags(f *pflag.FlagSet) { o.rl.addFlags(f, "") }

// verify turns the flags into an rl.Config.
func (o *rewardOptions) verify() (rl.Config, error) { return o.rl.config("") }

func runReward(ctx context.Context, o *rewardOptions, args []string, s io3) error {
	cfg, err := o.verify()
	if err != nil {
		return err
	}
	in, name := s.in, "stdin"
	if len(args) == 1 && args[0] != "-" {
		f, err := os.Open(args[0])
		if err != nil {
			return fmt.Errorf("reward: %w", err)
		}
		defer f.Close()
		in, name = f, args[0]
	}
	return rl.RewardStreamConfig(ctx, in, s.out, name, cfg)
}
