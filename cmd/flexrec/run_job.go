package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/flexrec/flexrec/pipeline"
)

type runOptions struct {
	config    string
	out       string
	logFormat string
	// job holds the flag values; changed says which were given.
	job     pipeline.Job
	temp    float64
	cache   bool
	noEval  bool
	changed func(string) bool
}

func newRunCmd(s io3) *cobra.Command {
	o := &runOptions{job: pipeline.DefaultJob()}
	c := &cobra.Command{
		Use:   "run",
		Short: "Run the main job: dataset → episodes → rollouts → rewards → exports → report",
		Long: `Run the whole job into one folder: build need-specific episodes from a
dataset, sample G rollouts per episode through a backend, score them with the
causal swap rewards and advantages (a critic fills in sparse feedback), write
the trainer exports with their manifests, and an evaluation report.

With no config it runs on the embedded ml-latest-small with --backend builtin,
a Plackett–Luce policy over a matrix-factorisation model (no LLM, offline).
The same command run again after a kill or Ctrl-C resumes where it stopped,
with no duplicate and no gap. Flags override the --config file.

Outputs under --out: job.json, episodes.jsonl, rollouts.jsonl (+ .meta.json),
critic.json (sparse mode), exports/<format>/ with manifest.json, report/
(results.csv, results.json, report.html), summary.json.

Examples:
  flexrec run --out out/quickstart
  flexrec run --config examples/ollama.yaml --out out/ollama
  flexrec run --backend openai --model gpt-4o-mini --limit 50 --out out/openai`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.changed = cmd.Flags().Changed
			return runJob(cmd.Context(), o, s)
		},
	}
	f := c.Flags()
	j := &o.job
	f.StringVar(&o.config, "config", "", "YAML job file (see examples/); flags override it")
	f.StringVar(&o.out, "out", "", "output folder (required); rerun with the same folder to resume")
	f.StringVar(&o.logFormat, "log-format", "text", "log format on stderr: text or json")
	f.StringVar(&j.Dataset, "dataset", j.Dataset, "built-in dataset name or dataset folder")
	f.StringSliceVar(&j.Needs, "need", j.Needs, "needs: built-in ids or needs files, comma-separated")
	f.IntVar(&j.Episodes.Limit, "limit", 0, "episodes per need (0: all)")
	f.Float64Var(&j.Episodes.Sparse, "sparse", 0, "observed fraction of feedback (0: dense); the sparse mode trains a critic")
	f.StringVar(&j.Backend.Kind, "backend", j.Backend.Kind, "builtin, ollama or openai")
	f.StringVar(&j.Backend.Model, "model", "", "model name on the backend")
	f.StringVar(&j.Backend.BaseURL, "base-url", "", "server URL (default $OPENAI_BASE_URL or $OLLAMA_HOST)")
	f.StringVar(&j.Backend.APIKeyFile, "api-key-file", "", "file holding the API key (default $OPENAI_API_KEY)")
	f.IntVar(&j.Backend.Concurrency, "concurrency", j.Backend.Concurrency, "most requests in flight")
	f.BoolVar(&o.cache, "cache", true, "cache LLM responses under --out/cache")
	f.IntVar(&j.Rollout.Samples, "samples", j.Rollout.Samples, "rollouts per episode (G)")
	f.Int64Var(&j.Rollout.Seed, "seed", j.Rollout.Seed, "base seed of the rollouts")
	f.Float64Var(&o.temp, "temperature", 1, "sampling temperature")
	f.StringVar(&j.Rollout.ItemReward, "item-reward", j.Rollout.ItemReward, "causal-swap, independent, noncausal-swap or rank-level")
	f.StringSliceVar(&j.Exports, "exports", j.Exports, "export formats, comma-separated")
	f.BoolVar(&o.noEval, "no-eval", false, "skip the evaluation report")
	f.Float64Var(&j.Eval.HoldOut, "holdout", j.Eval.HoldOut, "fraction of users held out of the rollouts and exports for the report")
	return c
}

// verify builds the job: defaults, then the config file, then the flags
// that were given.
func (o *runOptions) verify() (pipeline.Job, error) {
	if o.out == "" {
		return pipeline.Job{}, usagef("--out is required")
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		return pipeline.Job{}, usagef("--log-format %q: want text or json", o.logFormat)
	}
	job := pipeline.DefaultJob()
	if o.config != "" {
		var err error
		if job, err = pipeline.LoadJob(o.config); err != nil {
			return job, err
		}
	}
	f := &o.job
	for flag, set := range map[string]func(){
		"dataset": func() { job.Dataset = f.Dataset }, "need": func() { job.Needs = f.Needs },
		"limit": func() { job.Episodes.Limit = f.Episodes.Limit }, "sparse": func() { job.Episodes.Sparse = f.Episodes.Sparse },
		"backend": func() { job.Backend.Kind = f.Backend.Kind }, "model": func() { job.Backend.Model = f.Backend.Model },
		"base-url": func() { job.Backend.BaseURL = f.Backend.BaseURL }, "api-key-file": func() { job.Backend.APIKeyFile = f.Backend.APIKeyFile },
		"concurrency": func() { job.Backend.Concurrency = f.Backend.Concurrency }, "cache": func() { job.Backend.Cache = &o.cache },
		"samples": func() { job.Rollout.Samples = f.Rollout.Samples }, "seed": func() { job.Rollout.Seed = f.Rollout.Seed },
		"temperature": func() { job.Rollout.Temperature = &o.temp }, "item-reward": func() { job.Rollout.ItemReward = f.Rollout.ItemReward },
		"exports": func() { job.Exports = f.Exports }, "no-eval": func() { job.Eval.Skip = o.noEval },
		"holdout": func() { job.Eval.HoldOut = f.Eval.HoldOut },
	} {
		if o.changed(flag) {
			set()
		}
	}
	if err := job.Validate(); err != nil {
		return job, usagef("%v", err)
	}
	return job, nil
}

func runJob(ctx context.Context, o *runOptions, s io3) error {
	job, err := o.verify()
	if err != nil {
		return err
	}
	log := newLogger(s.err, o.logFormat)
	prog := newProgress(s.err, o.logFormat == "json", log)
	sum, err := pipeline.Run(ctx, job, o.out, pipeline.Options{Logger: log, Progress: prog.update})
	prog.finish()
	if sum != nil {
		printSummary(s.out, sum)
	}
	return err
}

func newLogger(w io.Writer, format string) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// progress shows rollout progress: a bar with rate and ETA on a terminal,
// a log line every few seconds otherwise.
type progress struct {
	bar  *progressbar.ProgressBar
	log  *slog.Logger
	last time.Time
}

func newProgress(w io.Writer, structured bool, log *slog.Logger) *progress {
	p := &progress{log: log}
	if f, ok := w.(*os.File); ok && !structured && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(-1, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("rollouts"),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("episodes"),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
	}
	return p
}

func (p *progress) update(done, total int) {
	if p.bar != nil {
		p.bar.ChangeMax(total)
		_ = p.bar.Set(done) // only fails on a closed writer; progress is best effort
		return
	}
	if time.Since(p.last) > 2*time.Second || done == total {
		p.last = time.Now()
		p.log.Info("rollouts", "done", done, "total", total)
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish() // best effort, as above
	}
}

func printSummary(w io.Writer, s *pipeline.Summary) {
	fmt.Fprintf(w, "flexrec run: %s\n", s.Out)
	fmt.Fprintf(w, "  episodes          %d rolled out, %d held out for the report (%d dropped: no relevant candidate)\n", s.Episodes, s.HeldOut, s.Dropped)
	fmt.Fprintf(w, "  rollouts          %d (%d episodes resumed)\n", s.Rollouts, s.Resumed)
	fmt.Fprintf(w, "  invalid outputs   %.1f%%\n", 100*s.InvalidRate)
	fmt.Fprintf(w, "  mean list reward  %.4f\n", s.MeanListReward)
	fmt.Fprintf(w, "  tokens            %d in, %d out; cost %.4f\n", s.PromptTokens, s.CompletionTokens, s.Cost)
	if len(s.Exports) > 0 {
		fmt.Fprintf(w, "  exports           %s\n", strings.Join(s.Exports, ", "))
	}
	if s.Report != "" {
		fmt.Fprintf(w, "  report            %s\n", s.Report)
	}
	fmt.Fprintf(w, "  time              %.1fs\n", s.Seconds)
}
