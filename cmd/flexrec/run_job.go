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
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/flexrec/flexrec/internal/shard"
	"github.com/flexrec/flexrec/llm"
	"github.com/flexrec/flexrec/pipeline"
	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rollout"
)

type runOptions struct {
	config    string
	out       string
	logFormat string
	// job receives the job flags as cobra parses them; flags says which
	// were given (see overrideJob).
	job   pipeline.Job
	flags *pflag.FlagSet
	// failFast and truncate are run-time choices, not job settings.
	failFast, truncate bool
	// shard, dryRun and maxCost are run-time choices too: a shard's job is
	// the whole job's (see pipeline.Options).
	shard   string
	dryRun  bool
	maxCost float64
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
with no duplicate and no gap. Flags override the --config file. One job at a
time per --out: a second is refused, naming the first's pid and host.

An episode whose requests still fail after --retries does not stop the job:
it is listed in failures.jsonl, the job goes on, and ends with exit code 1
and a summary of what failed and why; the same command then retries exactly
those episodes (--fail-fast stops at the first instead).

Outputs under --out: job.json, episodes.jsonl, rollouts.jsonl (+ .meta.json),
critic.json (sparse mode), exports/<format>/ with manifest.json, report/
(results.csv, results.json, report.html), summary.json, failures.jsonl (only
after failures).

Examples:
  flexrec run --out out/quickstart
  flexrec run --config examples/ollama.yaml --out out/ollama
  flexrec run --backend openai --model gpt-4o-mini --limit 50 --out out/openai`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.flags = cmd.Flags()
			return runJob(cmd.Context(), o, s)
		},
	}
	f := c.Flags()
	f.StringVar(&o.config, "config", "", "YAML job file (see examples/); flags override it")
	f.StringVar(&o.out, "out", "", "output folder (required); rerun with the same folder to resume")
	f.StringVar(&o.logFormat, "log-format", "text", "log format on stderr: text or json")
	f.BoolVar(&o.failFast, "fail-fast", false, "end the job at the first episode that fails after retries (default: go on, list failures in failures.jsonl, fail at the end)")
	f.BoolVar(&o.truncate, "truncate-at-damage", false, "cut a damaged rollouts.jsonl at its first damaged line instead of refusing to resume")
	f.StringVar(&o.shard, "shard", "", "roll out and evaluate only shard k of n (k/n, 0 <= k < n): a stable hash of the episode id picks the shard; 'flexrec merge' joins the shards and computes the report")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the requests, estimated tokens and cost at --price-in/--price-out; call no server, write nothing")
	f.Float64Var(&o.maxCost, "max-cost", 0, "stop cleanly once this invocation's rollouts cost this much at the prices (whole groups kept; rerun to go on); 0: no limit")
	jobFlags(f, &o.job)
	return c
}

// jobFlags defines the flags that set job fields, bound to j's fields. It
// is the one place that names, types and maps a job flag: run defines them
// on its command, and again on a private set bound to the job loaded from
// --config, onto which the given flags are replayed (see overrideJob).
func jobFlags(f *pflag.FlagSet, j *pipeline.Job) {
	f.StringVar(&j.Dataset, "dataset", j.Dataset, "built-in dataset name or dataset folder")
	f.StringSliceVar(&j.Needs, "need", j.Needs, "needs: built-in ids or needs files, comma-separated")
	f.IntVar(&j.Episodes.Limit, "limit", j.Episodes.Limit, "episodes per need (0: all)")
	f.Float64Var(&j.Episodes.Sparse, "sparse", j.Episodes.Sparse, "observed fraction of feedback (0: dense); the sparse mode trains a critic")
	addBackendFlags(f, &j.Backend, "OUT/cache")
	f.IntVar(&j.Rollout.Samples, "samples", j.Rollout.Samples, "rollouts per episode (G)")
	f.Int64Var(&j.Rollout.Seed, "seed", j.Rollout.Seed, "base seed of the rollouts")
	f.Var(optFloat{&j.Rollout.Temperature, 1}, "temperature", "sampling temperature")
	f.IntVar(&j.Rollout.MaxTokens, "max-tokens", j.Rollout.MaxTokens, "completion token cap")
	f.StringVar(&j.Rollout.ItemReward, "item-reward", j.Rollout.ItemReward, rlUsage["item-reward"])
	f.IntVar(&j.Rollout.Cutoff, "cutoff", j.Rollout.Cutoff, rlUsage["cutoff"])
	f.StringVar(&j.Rollout.Repair, "repair", j.Rollout.Repair, "repair policy: prompt-order or score (sparse mode: the critic's predictions)")
	r := &j.Rollout
	f.StringVar(&r.Level, "level", r.Level, rlUsage["level"])
	f.StringVar(&r.Normalize, "normalize", r.Normalize, rlUsage["normalize"])
	f.StringVar(&r.Uncertainty, "uncertainty", r.Uncertainty, rlUsage["uncertainty"])
	f.StringVar(&r.Scaling, "scaling", r.Scaling, rlUsage["scaling"])
	f.Float64Var(&r.Eps, "eps", r.Eps, rlUsage["eps"])
	f.Float64Var(&r.ClampMin, "clamp-min", r.ClampMin, rlUsage["clamp-min"])
	f.Float64Var(&r.ClampMax, "clamp-max", r.ClampMax, rlUsage["clamp-max"])
	f.BoolVar(&r.PerItem, "per-item", r.PerItem, rlUsage["per-item"])
	f.Float64Var(&r.Delta, "delta", r.Delta, rlUsage["delta"])
	f.StringVar(&r.OtherTokens, "other-tokens", r.OtherTokens, rlUsage["other-tokens"])
	f.Float64Var(&r.FormatPenalty, "format-penalty", r.FormatPenalty, rlUsage["format-penalty"])
	f.StringVar(&r.RepairedTail, "repaired-tail", r.RepairedTail, rlUsage["repaired-tail"])
	f.StringSliceVar(&j.Exports, "exports", j.Exports, "export formats, comma-separated")
	f.BoolVar(&j.Eval.Skip, "no-eval", j.Eval.Skip, "skip the evaluation report")
	f.Float64Var(&j.Eval.HoldOut, "holdout", j.Eval.HoldOut, "fraction of users held out of the rollouts and exports for the report")
}

// overrideJob sets on job the job flags that were given on the command
// line, through a flag set bound to job, so a flag's value means the same
// whether it came from the command or the config file.
func overrideJob(given *pflag.FlagSet, job *pipeline.Job) error {
	bound := pflag.NewFlagSet("job", pflag.ContinueOnError)
	jobFlags(bound, job)
	var err error
	given.Visit(func(fl *pflag.Flag) {
		dst := bound.Lookup(fl.Name)
		if dst == nil || err != nil {
			return
		}
		if sv, ok := fl.Value.(pflag.SliceValue); ok {
			err = dst.Value.(pflag.SliceValue).Replace(sv.GetSlice())
			return
		}
		err = dst.Value.Set(fl.Value.String())
	})
	return err
}

// optFloat is a flag over an optional float field (nil: the default def).
type optFloat struct {
	p   **float64
	def float64
}

func (v optFloat) String() string {
	if v.p == nil || *v.p == nil {
		return strconv.FormatFloat(v.def, 'g', -1, 64)
	}
	return strconv.FormatFloat(**v.p, 'g', -1, 64)
}

func (v optFloat) Set(s string) error {
	x, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return err
	}
	*v.p = &x
	return nil
}

func (optFloat) Type() string { return "float" }

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
			return job, usageError{err} // the user's file: exit code 2
		}
	}
	if err := overrideJob(o.flags, &job); err != nil {
		return job, usagef("%v", err)
	}
	if err := job.Validate(); err != nil {
		return job, usagef("%v", err)
	}
	for _, n := range job.Needs {
		if _, err := prompt.ResolveNeed(n); err != nil {
			return job, usagef("--need: %v", err)
		}
	}
	return job, nil
}

func runJob(ctx context.Context, o *runOptions, s io3) error {
	job, err := o.verify()
	if err != nil {
		return err
	}
	sh, err := shard.Parse(o.shard)
	if err != nil {
		return usagef("--shard: %v", err)
	}
	if err := checkMaxCost(o.maxCost, job.Backend); err != nil {
		return err
	}
	log := newLogger(s.err, o.logFormat)
	if o.dryRun {
		rep, err := pipeline.DryRun(ctx, job, sh, log)
		if err != nil {
			return err
		}
		return encodeJSON(s, rep)
	}
	prog := newProgress(s.err, o.logFormat == "json", log)
	sum, err := pipeline.Run(ctx, job, o.out, pipeline.Options{Logger: log, Progress: prog.update,
		FailFast: o.failFast, TruncateAtDamage: o.truncate, Shard: sh, MaxCost: o.maxCost})
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
