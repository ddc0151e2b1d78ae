package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/flexrec/flexrec/llm"
	"github.com/flexrec/flexrec/pipeline"
	"github.com/flexrec/flexrec/rollout"
)

type runOptions struct {
	config    string
	out       string
	logFormat string
	// job holds the flag values; changed says which were given.
	job    pipeline.Job
	temp   float64
	cache  bool
	noEval bool
	// failFast and truncate are run-time choices, not job settings.
	failFast, truncate bool
	changed            func(string) bool
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
	f.IntVar(&j.Backend.Concurrency, "concurrency", j.Backend.Concurrency, "most requests in flight, across episodes")
	f.IntVar(&j.Backend.Retries, "retries", j.Backend.Retries, "retries of a transient failure before an episode fails")
	f.Float64Var(&j.Backend.TimeoutSeconds, "timeout", j.Backend.TimeoutSeconds, "per-request timeout in seconds")
	f.Float64Var(&j.Backend.RequestsPerSecond, "rps", 0, "requests per second limit (0: none)")
	f.Float64Var(&j.Backend.TokensPerMinute, "tpm", 0, "tokens per minute limit (0: none)")
	f.Float64Var(&j.Backend.PriceInput, "price-in", 0, "price per million prompt tokens, for the cost summary")
	f.Float64Var(&j.Backend.PriceOutput, "price-out", 0, "price per million completion tokens")
	f.IntVar(&j.Rollout.MaxTokens, "max-tokens", j.Rollout.MaxTokens, "completion token cap")
	f.BoolVar(&o.failFast, "fail-fast", false, "end the job at the first episode that fails after retries (default: go on, list failures in failures.jsonl, fail at the end)")
	f.BoolVar(&o.truncate, "truncate-at-damage", false, "cut a damaged rollouts.jsonl at its first damaged line instead of refusing to resume")
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
		"retries": func() { job.Backend.Retries = f.Backend.Retries }, "timeout": func() { job.Backend.TimeoutSeconds = f.Backend.TimeoutSeconds },
		"rps": func() { job.Backend.RequestsPerSecond = f.Backend.RequestsPerSecond }, "tpm": func() { job.Backend.TokensPerMinute = f.Backend.TokensPerMinute },
		"price-in": func() { job.Backend.PriceInput = f.Backend.PriceInput }, "price-out": func() { job.Backend.PriceOutput = f.Backend.PriceOutput },
		"max-tokens": func() { job.Rollout.MaxTokens = f.Rollout.MaxTokens },
		"samples":    func() { job.Rollout.Samples = f.Rollout.Samples }, "seed": func() { job.Rollout.Seed = f.Rollout.Seed },
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
	sum, err := pipeline.Run(ctx, job, o.out, pipeline.Options{Logger: log, Progress: prog.update,
		FailFast: o.failFast, TruncateAtDamage: o.truncate})
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
// a log record every few seconds otherwise (text or JSON), each with
// requests/s, tokens/s, the ETA, the cost so far and the limit that is
// throttling, if any.
type progress struct {
	bar   *progressbar.ProgressBar
	log   *slog.Logger
	start time.Time
	last  time.Time
	// base are the counts found done at the start, so rates count this
	// invocation's work only.
	base *rollout.Stats
}

func newProgress(w io.Writer, structured bool, log *slog.Logger) *progress {
	p := &progress{log: log, start: time.Now()}
	if f, ok := w.(*os.File); ok && !structured && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(-1, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("rollouts"),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("episodes"),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
	}
	return p
}

// rates are the live figures of a progress line.
type rates struct {
	reqPerSec, tokPerSec float64
	eta                  time.Duration
	cost                 float64
	throttle             string
}

func (p *progress) rates(st rollout.Stats, b *pipeline.Opened) rates {
	if p.base == nil {
		base := st
		p.base = &base
	}
	var r rates
	el := time.Since(p.start).Seconds()
	done := st.Episodes + st.Failed - p.base.Episodes - p.base.Failed
	if el > 0 {
		r.reqPerSec = float64(st.Rollouts-p.base.Rollouts) / el
		r.tokPerSec = float64(st.PromptTokens+st.CompletionTokens-p.base.PromptTokens-p.base.CompletionTokens) / el
	}
	if left := st.Total - st.Episodes - st.Failed; done > 0 && left > 0 {
		r.eta = time.Duration(float64(left) * el / float64(done) * float64(time.Second)).Round(time.Second)
	}
	if b != nil && b.Stack != nil {
		sp := b.Stack.Progress()
		r.cost = sp.Cost
		if sp.Throttle != llm.ThrottleNone {
			r.throttle = string(sp.Throttle)
		}
	}
	return r
}

func (p *progress) update(pr pipeline.Progress) {
	st := pr.Stats
	r := p.rates(st, pr.Backend)
	if p.bar != nil {
		p.bar.ChangeMax(st.Total)
		desc := fmt.Sprintf("rollouts %.1f req/s %.0f tok/s $%.4f", r.reqPerSec, r.tokPerSec, r.cost)
		if r.throttle != "" {
			desc += " [throttled: " + r.throttle + "]"
		}
		p.bar.Describe(desc)
		_ = p.bar.Set(st.Episodes) // only fails on a closed writer; progress is best effort
		return
	}
	if time.Since(p.last) > 2*time.Second || st.Episodes+st.Failed == st.Total {
		p.last = time.Now()
		p.log.Info("rollouts", "done", st.Episodes, "failed", st.Failed, "total", st.Total,
			"req_per_s", round1(r.reqPerSec), "tok_per_s", round1(r.tokPerSec), "eta", r.eta.String(),
			"cost", r.cost, "throttled_by", r.throttle)
	}
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish() // best effort, as above
	}
}

func printSummary(w io.Writer, s *pipeline.Summary) {
	fmt.Fprintf(w, "flexrec run: %s (%s)\n", s.Out, s.Status)
	fmt.Fprintf(w, "  episodes          %d of %d rolled out, %d held out for the report (%d dropped: no relevant candidate)\n",
		s.RolledOut, s.Episodes, s.HeldOut, s.Dropped)
	if s.Failed > 0 {
		fmt.Fprintf(w, "  failed            %d episodes after retries (%s); see failures.jsonl, rerun to retry them\n", s.Failed, reasonList(s.FailureReasons))
	}
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
	if s.Status != pipeline.StatusComplete {
		fmt.Fprintf(w, "  not complete      %s; the same command resumes it\n", s.Status)
	}
	fmt.Fprintf(w, "  time              %.1fs\n", s.Seconds)
}

func reasonList(m map[string]int) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
