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
	itemReward  string
	uncertainty string
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

Examples:
  echo '{"gains":[3,2,1],"permutation":[2,0,1]}' | flexrec reward
  flexrec reward --item-reward rank-level --uncertainty sum rollouts.jsonl`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReward(cmd.Context(), o, args, s)
		},
	}
	o.addFlags(c.Flags())
	return c
}

func (o *rewardOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.itemReward, "item-reward", string(rl.CausalSwap), "causal-swap, independent, noncausal-swap or rank-level")
	f.StringVar(&o.uncertainty, "uncertainty", string(rl.Propagated), "u: propagated (Σ (d_p/IDCG)² σ²) or sum (Σ σ² within the cutoff)")
}

// verify turns the flags into the rl types.
func (o *rewardOptions) verify() (rl.ItemReward, rl.Uncertainty, error) {
	kind, err := rl.ParseItemReward(o.itemReward)
	if err != nil {
		return "", "", usagef("--item-reward: %v", err)
	}
	unc := rl.Uncertainty(o.uncertainty)
	if unc != rl.Propagated && unc != rl.PlainSum {
		return "", "", usagef("--uncertainty %q: want propagated or sum", o.uncertainty)
	}
	return kind, unc, nil
}

func runReward(ctx context.Context, o *rewardOptions, args []string, s io3) error {
	kind, unc, err := o.verify()
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
	return rl.RewardStream(ctx, in, s.out, name, kind, unc)
}
