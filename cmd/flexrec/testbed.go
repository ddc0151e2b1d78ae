package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flexrec/flexrec/eval"
	"github.com/flexrec/flexrec/eval/dataset"
	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/testbed"
	"github.com/flexrec/flexrec/testbed/report"
)

// testbedOptions holds the flags of `flexrec testbed`.
type testbedOptions struct {
	dataset        string
	needs          []string
	exploreOverlap int
	modes          []string
	estimators     []string
	seeds          int
	iters, batch   int
	group, epochs  int
	lr, kl         float64
	entropy        float64
	policies       []string
	normalizations []string
	cutoffs        []int
	ar             testbed.ARInit
	rl             rlFlags
	sparse         float64
	heldOut        float64
	historyLen     int
	limit          int
	k              int
	workers        int
	out, format    string
	quick          bool
	changed        func(string) bool
}

func newTestbedCmd(s io3) *cobra.Command { return newTestbedCmdRunF(s, runTestbed) }

// newTestbedCmdRunF builds the command with runF as its run function, so
// that tests can capture the parsed options.
func newTestbedCmdRunF(s io3, runF func(context.Context, *testbedOptions, io3) error) *cobra.Command {
	o := &testbedOptions{}
	c := &cobra.Command{
		Use:   "testbed",
		Short: "Train small ranking policies with each advantage estimator and compare them",
		Long: `Prove the credit assignment on a CPU with real data: train a ranking policy
(features: MF affinity and predicted rating, popularity, recent popularity,
genre match and novelty, each also crossed with the need) with a clipped
policy-gradient update (PPO/GRPO clip 0.2, exact KL 0.01 to the initial
policy, exact entropy bonus 0.005, Adam), once per advantage estimator and
seed, from the same seeds and the same number of sampled rollouts.

Two policy classes (--policies): linear (Plackett-Luce over w·x, started
from the affinity ranking) and autoregressive (each pick also conditioned on
the prefix: the item's place in a shuffled prompt order, whether it follows
the previous pick in that order, the share of its genres already placed;
started with LLM-like biases, copying the prompt order and preferring early
items, at about 0.375 NDCG@5 on interest). Each policy runs under every
training cutoff (--cutoffs, 0 = the whole list) and every item reward
normalisation (--normalizations position,pooled); sequence-level estimators
run once per cutoff. Estimators:

  grpo                            sequence-level GRPO (every position gets A_i)
  independent                     item level, g_k d_k / IDCG
  noncausal-swap                  item level, swap with every other position
  causal-swap                     item level, swap with later positions (FlexRec)
  causal-swap+critic              sparse mode: unobserved gains from the critic
  causal-swap+critic+uncertainty  ... and uncertainty-scaled advantages (FlexRec)
  (also: rank-level, grpo+critic, causal-swap+user-knn, causal-swap+item-knn,
  and causal-swap/pooled, independent/pooled: normalised over all positions
  of the group instead of per position)

Dense mode trains on every candidate's true gain; sparse mode on the observed
10% only (one mask for candidates and history; estimators without a critic
count the rest as 0; the policy's MF features train on the observed 10%).
Users are split into training and held-out users; per panel (policy, cutoff,
normalisation) the table reports NDCG@k and Recall@k of the greedy policy on
the held-out users' episodes against the dense truth, mean ± std over seeds,
with the initial policy's row, then the paired differences against grpo and
independent (mean ± standard error, seeds positive), then the credit
diagnostics. The rl switch flags (--uncertainty, --scaling, --eps, ...) set
the base rl config every estimator builds on.
The explore need uses at most --explore-overlap familiar genres (default 1:
the strict rule leaves 26 episodes on ml-latest-small).

--out DIR writes curves.csv (learning curves), report.html (table and
inline SVG charts; opens offline), table.md and result.json.

Examples:
  flexrec testbed --quick --out testbed-report/
  flexrec testbed --out testbed-report/     # the full protocol: 10 seeds, minutes
  flexrec testbed --policies autoregressive --cutoffs 5 --normalizations pooled
  flexrec testbed --needs interest --modes dense --seeds 5 --iters 200 --format json
  flexrec testbed --estimators grpo,causal-swap,rank-level --batch 4 --group 4`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.changed = cmd.Flags().Changed
			return runF(cmd.Context(), o, s)
		},
	}
	o.addFlags(c.Flags())
	return c
}

func (o *testbedOptions) addFlags(f *pflag.FlagSet) {
	d := testbed.DefaultConfig()
	var ests []string
	for _, e := range d.Estimators {
		ests = append(ests, e.Name)
	}
	f.StringVar(&o.dataset, "dataset", dataset.BuiltinMLLatestSmall, "built-in dataset name, dataset folder or .zip")
	f.StringSliceVar(&o.needs, "needs", []string{"interest", "explore"}, "needs trained jointly, comma-separated: built-in ids or YAML/JSON needs files")
	f.IntVar(&o.exploreOverlap, "explore-overlap", 1, "the built-in explore need's max_overlap: familiar genres an item may have and still count as new")
	f.StringSliceVar(&o.modes, "modes", d.Modes, "feedback modes: dense, sparse")
	f.StringSliceVar(&o.estimators, "estimators", ests, "advantage estimators, comma-separated (rows of the table)")
	f.IntVar(&o.seeds, "seeds", len(d.Seeds), "number of seeds (1..N)")
	f.IntVar(&o.iters, "iters", d.Train.Iters, "policy updates per run")
	f.IntVar(&o.batch, "batch", d.Train.Batch, "training episodes per update")
	f.IntVar(&o.group, "group", d.Train.Group, "rollouts per episode (G)")
	f.IntVar(&o.epochs, "epochs", d.Train.Epochs, "gradient steps per batch of rollouts")
	f.Float64Var(&o.lr, "lr", d.Train.LR, "Adam step size")
	f.Float64Var(&o.kl, "kl", d.Train.KL, "coefficient of the KL divergence to the initial policy")
	f.Float64Var(&o.entropy, "entropy", d.Train.Entropy, "coefficient of the entropy bonus")
	f.StringSliceVar(&o.policies, "policies", d.Policies, "policy classes: linear, autoregressive")
	f.StringSliceVar(&o.normalizations, "normalizations", d.Normalizations, "item reward normalisations: position, pooled")
	f.IntSliceVar(&o.cutoffs, "cutoffs", d.Cutoffs, "training reward cutoffs (0: the whole list)")
	f.Float64Var(&o.ar.Affinity, "ar-affinity", d.Train.AR.Affinity, "autoregressive policy: initial weight on affinity")
	f.Float64Var(&o.ar.Early, "ar-early", d.Train.AR.Early, "autoregressive policy: initial weight on showing early")
	f.Float64Var(&o.ar.Next, "ar-next", d.Train.AR.Next, "autoregressive policy: initial weight on following the previous pick in prompt order")
	f.Float64Var(&o.ar.Category, "ar-category", d.Train.AR.Category, "autoregressive policy: initial weight on the share of genres already placed")
	o.rl.addFlags(f, "", "item-reward", "level", "normalize", "cutoff")
	f.Float64Var(&o.sparse, "sparse", d.Sparse, "sparse mode: observed share of each episode's candidates")
	f.Float64Var(&o.heldOut, "held-out", d.HeldOut, "share of users held out for evaluation")
	f.IntVar(&o.historyLen, "history-len", d.Build.HistoryLen, "history items per episode (H)")
	f.IntVar(&o.limit, "limit", 0, "at most this many episodes per need (0: all)")
	f.IntVar(&o.k, "k", 5, "cutoff of the reported NDCG and Recall")
	f.IntVar(&o.workers, "workers", d.Workers, "runs trained at once")
	f.StringVar(&o.out, "out", "", "write curves.csv, report.html, table.md and result.json into this folder")
	f.StringVar(&o.format, "format", "table", "stdout format: table (Markdown) or json")
	f.BoolVar(&o.quick, "quick", false, "small settings for a smoke test (150 episodes per need, 20 updates of 8 episodes, 2 seeds, whole-list cutoff); other flags still apply")
}

// verify turns the flags into a testbed.Config.
func (o *testbedOptions) verify() (testbed.Config, error) {
	cfg := testbed.DefaultConfig()
	if o.quick {
		cfg = testbed.QuickConfig()
	}
	if o.format != "table" && o.format != "json" {
		return cfg, usagef("--format %q: want table or json", o.format)
	}
	if o.seeds < 1 || o.k < 1 {
		return cfg, usagef("--seeds %d and --k %d: want >= 1", o.seeds, o.k)
	}
	var err error
	if cfg.Needs, err = o.resolveNeeds(); err != nil {
		return cfg, err
	}
	if cfg.Estimators, err = lookupEstimators(o.estimators); err != nil {
		return cfg, err
	}
	cfg.Modes = trimAll(o.modes)
	if cfg.Train.RL, err = o.rl.config(""); err != nil {
		return cfg, err
	}
	o.applyChanged(&cfg)
	k := fmt.Sprint(o.k)
	cfg.Measures = []testbed.Measure{
		{Name: "ndcg@" + k, Metric: testbed.Metric(eval.NDCG), K: o.k},
		{Name: "recall@" + k, Metric: testbed.Metric(eval.Recall), K: o.k},
	}
	if err := cfg.Validate(); err != nil {
		return cfg, usagef("%v", err)
	}
	return cfg, nil
}

// applyChanged copies the numeric flags into cfg: all of them, except
// under --quick, where only the flags given on the command line override
// the quick settings.
func (o *testbedOptions) applyChanged(cfg *testbed.Config) {
	set := func(name string) bool { return !o.quick || (o.changed != nil && o.changed(name)) }
	t := &cfg.Train
	for name, apply := range map[string]func(){
		"iters": func() { t.Iters = o.iters }, "batch": func() { t.Batch = o.batch },
		"group": func() { t.Group = o.group }, "epochs": func() { t.Epochs = o.epochs },
		"lr": func() { t.LR = o.lr }, "kl": func() { t.KL = o.kl }, "entropy": func() { t.Entropy = o.entropy },
		"policies": func() { cfg.Policies = trimAll(o.policies) }, "normalizations": func() { cfg.Normalizations = trimAll(o.normalizations) },
		"cutoffs": func() { cfg.Cutoffs = o.cutoffs }, "ar-affinity": func() { t.AR.Affinity = o.ar.Affinity },
		"ar-early": func() { t.AR.Early = o.ar.Early }, "ar-next": func() { t.AR.Next = o.ar.Next },
		"ar-category": func() { t.AR.Category = o.ar.Category },
		"sparse":      func() { cfg.Sparse = o.sparse }, "held-out": func() { cfg.HeldOut = o.heldOut },
		"history-len": func() { cfg.Build.HistoryLen = o.historyLen }, "limit": func() { cfg.Build.Limit = o.limit },
		"workers": func() { cfg.Workers = o.workers },
		"seeds": func() {
			cfg.Seeds = cfg.Seeds[:0]
			for s := range o.seeds {
				cfg.Seeds = append(cfg.Seeds, int64(s+1))
			}
		},
	} {
		if set(name) {
			apply()
		}
	}
}

// resolveNeeds resolves --needs; the built-in explore gets
// --explore-overlap.
func (o *testbedOptions) resolveNeeds() ([]prompt.Need, error) {
	var needs []prompt.Need
	for _, id := range trimAll(o.needs) {
		n, err := prompt.ResolveNeed(id)
		if err != nil {
			return nil, usagef("--needs: %v", err)
		}
		if id == "explore" {
			n = testbed.ExploreNeed()
			n.Gain.MaxOverlap = o.exploreOverlap
		}
		needs = append(needs, n)
	}
	return needs, nil
}

func lookupEstimators(names []string) ([]testbed.Estimator, error) {
	var out []testbed.Estimator
	for _, name := range trimAll(names) {
		e, err := testbed.LookupEstimator(name)
		if err != nil {
			return nil, usagef("--estimators: %v", err)
		}
		out = append(out, e)
	}
	return out, nil
}

func trimAll(xs []string) []string {
	var out []string
	for _, x := range xs {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func runTestbed(ctx context.Context, o *testbedOptions, s io3) error {
	cfg, err := o.verify()
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(s.err, nil))
	ds, err := dataset.Load(ctx, o.dataset)
	if err != nil {
		return err
	}
	p, err := testbed.Prepare(ctx, ds, cfg, log)
	if err != nil {
		return err
	}
	res, err := testbed.Run(ctx, p, cfg, log)
	if err != nil {
		return err
	}
	if o.out != "" {
		if err := report.WriteDir(o.out, res); err != nil {
			return err
		}
		log.Info("report written", "dir", o.out)
	}
	if o.format == "json" {
		return report.WriteJSON(s.out, res)
	}
	return report.WriteTable(s.out, res)
}
