package main

import (
	"context"
	"log/slog"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flexrec/flexrec/eval/dataset"
	"github.com/flexrec/flexrec/internal/shard"
	"github.com/flexrec/flexrec/prompt"
)

type episodesOptions struct {
	dataset      string
	need         string
	out          string
	trainOut     string
	cfg          dataset.BuildConfig // flags write straight into it
	threshold    float64
	thresholdSet bool // --threshold given: override the need's
	shard        string
	autoMaxPos   bool // --candidates given without --max-positives: N/3
}

func newEpisodesCmd(s io3) *cobra.Command {
	o := &episodesOptions{cfg: dataset.DefaultBuildConfig()}
	c := &cobra.Command{
		Use:   "episodes",
		Short: "Build need-specific episodes from a dataset, as JSON Lines",
		Long: `Build one episode per user (per query for search) from a dataset: the user's
history before a cut time, a fixed candidate set of held-out positives and
sampled negatives, and dense-truth gains under the need. Writes one
prompt.Episode per line to stdout, or atomically to --out. The same flags
always give byte-identical output. Counts (users, kept, dropped) go to stderr.

--dataset takes the built-in name ml-latest-small or a folder (or .zip) whose
layout is detected from its files: MovieLens 100K/1M/latest, KuaiRec,
kuairec-gcdr-derived, ESCI-style examples.csv+products.csv, or the generic
items.jsonl + interactions.csv|jsonl. --need takes a built-in need id or a
YAML/JSON needs file (its first need).

Examples:
  flexrec episodes --need interest --limit 100 > interest.jsonl
  flexrec episodes --dataset ./ml-100k --need explore --out explore.jsonl
  flexrec episodes --need trend --split temporal --sparse --train-out train.csv
  flexrec episodes --dataset ./esci --need search --candidates 20`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			o.thresholdSet = f.Changed("threshold")
			o.autoMaxPos = f.Changed("candidates") && !f.Changed("max-positives")
			return runEpisodes(cmd.Context(), o, s)
		},
	}
	o.addFlags(c.Flags())
	return c
}

func (o *episodesOptions) addFlags(f *pflag.FlagSet) {
	c := &o.cfg
	f.StringVar(&o.dataset, "dataset", dataset.BuiltinMLLatestSmall, "built-in dataset name, dataset folder or .zip")
	f.StringVar(&o.need, "need", "interest", "built-in need id (interest, explore, trend, search) or a YAML/JSON needs file")
	f.StringVar(&o.out, "out", "", "write episodes to this file (atomically) instead of stdout")
	f.StringVar(&o.trainOut, "train-out", "", "also write the training interactions (before the cut) as CSV user,item,value,time")
	f.StringVar(&c.Split, "split", c.Split, "leave-last-out or temporal")
	f.IntVar(&c.HoldOut, "hold-out", c.HoldOut, "leave-last-out: interactions held out per user")
	f.Int64Var(&c.CutTime, "cut-time", 0, "temporal: cut time in Unix seconds (0: the --cut-quantile of all times)")
	f.Float64Var(&c.CutQuantile, "cut-quantile", c.CutQuantile, "temporal: quantile of interaction times to cut at, in (0,1)")
	f.IntVar(&c.MinHistory, "min-history", c.MinHistory, "fewest interactions before the cut a user needs")
	f.IntVar(&c.HistoryLen, "history", c.HistoryLen, "history length H: last interactions before the cut shown")
	f.IntVar(&c.NumCandidates, "candidates", c.NumCandidates, "candidate set size N")
	f.IntVar(&c.MaxPositives, "max-positives", c.MaxPositives, "at most this many relevant candidates (default N/3 when --candidates is set alone)")
	f.Float64Var(&c.Negatives.HeldOut, "held-out-negatives", c.Negatives.HeldOut, "share of negatives from the user's non-relevant held-out items, in [0,1]")
	f.BoolVar(&c.Negatives.PopularityMatched, "popularity-matched", false, "draw unseen negatives to match the positives' popularity")
	f.Float64Var(&c.LikeAt, "like-at", 0, "like level the need thresholds are scaled by (threshold x like/4); 0: the dataset's")
	f.Float64Var(&o.threshold, "threshold", 0, "relevance threshold: relevant when gain > threshold (default: the need's, scaled)")
	f.Float64Var(&c.Sparse, "sparse", 0, "observed fraction of feedback for training, as --sparse=F; --sparse alone means 0.1")
	f.Lookup("sparse").NoOptDefVal = "0.1"
	f.Int64Var(&c.Seed, "seed", c.Seed, "random seed")
	f.IntVar(&c.Limit, "limit", 0, "keep at most this many episodes (0: all)")
	f.StringVar(&o.shard, "shard", "", "write only shard k of n (k/n, 0 <= k < n): a stable hash of the episode id picks each episode's shard")
}

// config turns the flags into a validated BuildConfig.
func (o *episodesOptions) config() (dataset.BuildConfig, error) {
	cfg := o.cfg
	need, err := prompt.ResolveNeed(o.need)
	if err != nil {
		return cfg, usagef("--need: %v", err)
	}
	cfg.Need = need
	if o.autoMaxPos {
		cfg.MaxPositives = max(1, cfg.NumCandidates/3)
	}
	if o.thresholdSet {
		cfg.Threshold = &o.threshold
	}
	if err := cfg.Validate(); err != nil {
		return cfg, usagef("%v", err)
	}
	return cfg, nil
}

func runEpisodes(ctx context.Context, o *episodesOptions, s io3) error {
	cfg, err := o.config()
	if err != nil {
		return err
	}
	sh, err := shard.Parse(o.shard)
	if err != nil {
		return usagef("--shard: %v", err)
	}
	ds, err := dataset.Load(ctx, o.dataset)
	if err != nil {
		return err
	}
	sp, err := dataset.Build(ctx, ds, cfg)
	if err != nil {
		return err
	}
	slog.New(slog.NewTextHandler(s.err, nil)).Info("episodes built", "dataset", ds.Name, "layout", ds.Layout,
		"need", sp.Need, "users", sp.Users, "episodes", len(sp.Episodes), "dropped", sp.Dropped,
		"skipped", sp.Skipped, "short", sp.Short, "relevant", sp.Relevant, "threshold", sp.Threshold, "train", len(sp.Train), "train_total", sp.TrainTotal)
	if o.trainOut != "" {
		if err := dataset.WriteInteractionsFile(o.trainOut, sp.Train); err != nil {
			return err
		}
	}
	eps := shard.Filter(sh, sp.Episodes, func(e *prompt.Episode) string { return e.ID })
	if o.out != "" {
		return dataset.WriteEpisodesFile(o.out, eps)
	}
	return dataset.WriteEpisodes(s.out, eps)
}
