package main

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flexrec/flexrec/eval"
	"github.com/flexrec/flexrec/eval/dataset"
	"github.com/flexrec/flexrec/mf"
	"github.com/flexrec/flexrec/pipeline"
	"github.com/flexrec/flexrec/prompt"
)

// evalOptions holds the flags of `flexrec eval`.
type evalOptions struct {
	dataset    string
	needs      []string
	rankers    []string
	episodes   string
	limit      int
	seed       int64
	format     string
	out        string
	resamples  int
	workers    int
	split      string
	candidates int
	sparse     float64
	mfAlgo     string
	backend    backendFlags
	// backendGiven says --backend or --model was given: an LLM ranker of
	// the shared backend flags is asked for.
	backendGiven bool
	temperature  float64
	maxTokens    int
	// llms are the --llm values, one LLM ranker each (see parseLLMSpec).
	llms []string
	// dryRun prints the LLM rankers' requests and estimated cost instead.
	dryRun bool
	// shard evaluates one shard (k/n) into --out/shard.json for flexrec merge.
	shard string
}

func newEvalCmd(s io3) *cobra.Command {
	o := &evalOptions{}
	c := &cobra.Command{
		Use:   "eval",
		Short: "Score rankers on need-specific episodes, with bootstrap intervals",
		Long: `Rank every episode of every need with every ranker and report the mean
NDCG@5/10/30, Recall@5, MRR@5 and HitRate@5, the need diagnostics (novel@5:
share of the top 5 whose genres are new to the user; pop@5 and recent_pop@5:
mean popularity of the top 5) with 95% bootstrap intervals, the latency per
ranking, and for the llm ranker its invalid-output and repair rates and tokens.

Episodes are built from --dataset (as 'flexrec episodes' builds them, one set
per --need) or read from --episodes. Rankers train on the training
interactions of the split only (with --episodes: on the episodes' histories),
never on held-out feedback.

Rankers: random, prompt-order, popularity, recent-popularity, item-knn,
user-knn, mf, oracle (ranks by the true gains: an upper bound), NAME+need for
a scoring ranker adapted to the need (explore: novel items first; trend:
weighted by recent popularity), and LLM rankers, each in the row
llm:MODEL: one per --llm (repeatable, each with its own backend), or llm with
--backend and --model. The API key comes from $OPENAI_API_KEY or
api-key-file=. When two rankers give the same ranking on every episode, the
report says so and why.

Output: a Markdown table on stdout, or JSON with --format json; --out DIR also
writes results.csv, results.json and report.html (a header naming each LLM
ranker's backend and model, a summary table, charts; it opens offline).

Examples:
  flexrec eval --dataset ml-latest-small --need interest --rankers random,popularity,mf
  flexrec eval --need interest,explore,trend --limit 200 --format json
  flexrec eval --episodes explore.jsonl --rankers mf,mf+need,oracle --out report/
  flexrec eval --need interest --rankers mf,llm --backend builtin --model builtin-pl
  OPENAI_BASE_URL=http://127.0.0.1:8000/v1 flexrec eval --need interest,explore \
      --limit 100 --rankers popularity,mf,llm --backend openai --model Qwen/Qwen2.5-3B-Instruct
  flexrec eval --need interest --limit 100 --rankers popularity,mf --out report/ \
      --llm backend=openai,model=gpt-4o-mini,price-in=0.15,price-out=0.6 \
      --llm backend=ollama,model=qwen2.5:3b,base-url=http://127.0.0.1:11434`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("episodes") && cmd.Flags().Changed("dataset") {
				return usagef("--episodes and --dataset: give one")
			}
			if o.episodes != "" && !cmd.Flags().Changed("need") {
				o.needs = nil // every need of the file
			}
			o.backendGiven = cmd.Flags().Changed("backend") || cmd.Flags().Changed("model")
			return runEval(cmd.Context(), o, s)
		},
	}
	o.addFlags(c.Flags())
	return c
}

func (o *evalOptions) addFlags(f *pflag.FlagSet) {
	bc := dataset.DefaultBuildConfig()
	f.StringVar(&o.dataset, "dataset", dataset.BuiltinMLLatestSmall, "built-in dataset name, dataset folder or .zip")
	f.StringSliceVar(&o.needs, "need", []string{"interest"}, "needs to evaluate, comma-separated: built-in ids or YAML/JSON needs files (with --episodes: default every need in the file)")
	f.StringSliceVar(&o.rankers, "rankers", eval.Baselines, "rankers to evaluate, comma-separated")
	f.StringVar(&o.episodes, "episodes", "", "read labelled episodes from this JSONL file instead of building them")
	f.IntVar(&o.limit, "limit", 0, "at most this many episodes per need (0: all)")
	f.Int64Var(&o.seed, "seed", 1, "seed of the episodes, the rankers' tie-breaks and prompts, and the bootstrap")
	f.StringVar(&o.format, "format", "markdown", "stdout format: markdown or json")
	f.StringVar(&o.out, "out", "", "also write results.csv, results.json and report.html into this folder")
	f.IntVar(&o.resamples, "resamples", 1000, "bootstrap resamples per interval (0: no intervals)")
	f.IntVar(&o.workers, "workers", runtime.GOMAXPROCS(0), "rankings run at once")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the LLM rankers' requests, estimated tokens and cost at their prices; call no server, write nothing")
	f.StringVar(&o.shard, "shard", "", "evaluate only shard k of n (k/n, 0 <= k < n) of the episodes into --out/shard.json; 'flexrec merge' computes the whole report")
	f.StringVar(&o.split, "split", bc.Split, "building: leave-last-out or temporal")
	f.IntVar(&o.candidates, "candidates", bc.NumCandidates, "building: candidate set size N")
	f.Float64Var(&o.sparse, "sparse", 0, "building: observed fraction of feedback for training; --sparse alone means 0.1")
	f.Lookup("sparse").NoOptDefVal = "0.1"
	f.StringVar(&o.mfAlgo, "mf-algo", eval.DefaultRankerConfig().MF.Algo, "mf ranker: bpr (implicit, ranking) or als (explicit ratings)")
	o.backend.addFlags(f)
	f.Float64Var(&o.temperature, "temperature", 0, "llm ranker: sampling temperature (0: greedy)")
	f.IntVar(&o.maxTokens, "max-tokens", 0, "llm ranker: completion cap (0: the server's default)")
	f.StringArrayVar(&o.llms, "llm", nil, "an LLM ranker with its own backend, repeatable: backend=openai,model=gpt-4o-mini[,base-url=URL,api-key-file=F,temperature=T,max-tokens=N,price-in=P,price-out=P,name=NAME]; its row is llm:MODEL (or NAME)")
}

// verify turns the flags into the packages' typed configs.
func (o *evalOptions) verify() (dataset.BuildConfig, eval.Config, []prompt.Need, error) {
	bc := dataset.DefaultBuildConfig()
	bc.Split, bc.NumCandidates, bc.MaxPositives = o.split, o.candidates, max(1, o.candidates/3)
	bc.Sparse, bc.Seed, bc.Limit = o.sparse, o.seed, o.limit
	ec := eval.DefaultConfig()
	ec.Resamples, ec.Seed, ec.Workers = o.resamples, o.seed, o.workers
	if o.format != "markdown" && o.format != "json" {
		return bc, ec, nil, usagef("--format %q: want markdown or json", o.format)
	}
	if err := ec.Validate(); err != nil {
		return bc, ec, nil, usagef("%v", err)
	}
	var needs []prompt.Need
	for _, id := range o.needs {
		n, err := prompt.ResolveNeed(strings.TrimSpace(id))
		if err != nil {
			return bc, ec, nil, usagef("--need: %v", err)
		}
		needs = append(needs, n)
	}
	if (len(needs) == 0 && o.episodes == "") || len(o.rankers) == 0 {
		return bc, ec, nil, usagef("--need and --rankers must name at least one each")
	}
	if o.episodes == "" {
		bc.Need = needs[0]
		if err := bc.Validate(); err != nil {
			return bc, ec, nil, usagef("%v", err)
		}
	}
	return bc, ec, needs, nil
}

func runEval(ctx context.Context, o *evalOptions, s io3) error {
	bc, ec, needs, err := o.verify()
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(s.err, nil))
	suite, err := o.suite(ctx, needs, bc, log)
	if err != nil {
		return err
	}
	specs, err := o.llmSpecs()
	if err != nil {
		return err
	}
	if o.dryRun {
		return evalDryRun(ctx, suite.Episodes, needs, specs, s)
	}
	rc, opened, err := o.rankerConfig(ctx, suite, needs, specs, log)
	if err != nil {
		return err
	}
	rankers, err := eval.NewRankers(ctx, rankerNames(o.rankers, specs), rc)
	if errors.Is(err, eval.ErrRankerName) {
		return usagef("--rankers: %v", err)
	} else if err != nil {
		return err
	}
	if o.shard != "" {
		return o.runShard(ctx, rankers, suite.Episodes, ec, func(rep *eval.Report) { o.evalMeta(rep, needs, specs, opened) }, s)
	}
	rep, err := eval.Evaluate(ctx, rankers, suite.Episodes, ec)
	if err != nil {
		return err
	}
	o.evalMeta(rep, needs, specs, opened)
	if o.out != "" {
		if err := eval.WriteDir(o.out, rep); err != nil {
			return err
		}
		log.Info("report written", "dir", o.out)
	}
	if o.format == "json" {
		return eval.WriteJSON(s.out, rep)
	}
	return eval.WriteMarkdown(s.out, rep)
}

// suite builds or reads the episodes and the training interactions.
func (o *evalOptions) suite(ctx context.Context, needs []prompt.Need, bc dataset.BuildConfig, log *slog.Logger) (*eval.Suite, error) {
	if o.episodes != "" {
		var ids []string
		for _, n := range needs {
			ids = append(ids, n.ID)
		}
		suite, err := eval.ReadSuite(ctx, o.episodes, ids, o.limit)
		if err == nil {
			log.Info("episodes read", "file", o.episodes, "episodes", len(suite.Episodes), "train", len(suite.Train))
		}
		return suite, err
	}
	ds, err := dataset.Load(ctx, o.dataset)
	if err != nil {
		return nil, err
	}
	suite, err := eval.BuildSuite(ctx, ds, needs, bc)
	if err != nil {
		return nil, err
	}
	for _, sp := range suite.Splits {
		log.Info("episodes built", "dataset", ds.Name, "need", sp.Need, "episodes", len(sp.Episodes),
			"dropped", sp.Dropped, "skipped", sp.Skipped, "train", len(sp.Train))
	}
	return suite, nil
}

// rankerConfig builds the rankers' configuration, with a backend opened
// for each LLM ranker.
func (o *evalOptions) rankerConfig(ctx context.Context, suite *eval.Suite, needs []prompt.Need, specs []llmSpec, log *slog.Logger) (eval.RankerConfig, []*pipeline.Opened, error) {
	rc := eval.DefaultRankerConfig()
	rc.Seed, rc.Train, rc.Needs = o.seed, suite.Train, needs
	switch o.mfAlgo {
	case mf.AlgoBPR:
	case mf.AlgoALS:
		rc.MF = mf.DefaultConfig() // ALS's own regularisation, not BPR's
	default:
		return rc, nil, usagef("--mf-algo %q: want als or bpr", o.mfAlgo)
	}
	if err := rc.MF.Validate(); err != nil {
		return rc, nil, usagef("--mf-algo: %v", err)
	}
	var opened []*pipeline.Opened
	var err error
	rc.LLMs, opened, err = o.openLLMs(ctx, specs, rc, log)
	return rc, opened, err
}

// wantsLLM reports whether the ranker list names the llm ranker.
func wantsLLM(names []string) bool {
	for _, n := range names {
		if strings.TrimSpace(n) == eval.RankerLLM {
			return true
		}
	}
	return false
}
