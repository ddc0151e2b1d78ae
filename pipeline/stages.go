package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/flexrec/flexrec/eval"
	"github.com/flexrec/flexrec/export"
	"github.com/flexrec/flexrec/internal/shard"
	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rank"
	"github.com/flexrec/flexrec/rl"
	"github.com/flexrec/flexrec/rl/critic"
	"github.com/flexrec/flexrec/rollout"
)

// trainCritic fits the sparse mode's critic on the episodes' observed
// feedback (with the hurdle for never-met items) and saves it to
// dir/critic.json.
func trainCritic(ctx context.Context, job Job, dir string, eps []prompt.Episode, log *slog.Logger) (rl.Predictor, error) {
	ptrs := make([]*prompt.Episode, len(eps))
	for i := range eps {
		ptrs[i] = &eps[i]
	}
	obs, err := critic.TrainingPairs(ptrs, critic.BuiltinRules())
	if err != nil {
		return nil, err
	}
	cfg := critic.DefaultConfig()
	cfg.Kind = job.Critic
	c, err := critic.TrainHurdle(ctx, obs, cfg)
	if err != nil {
		return nil, fmt.Errorf("pipeline: train critic: %w", err)
	}
	var buf bytes.Buffer
	if err := critic.Save(&buf, c); err != nil {
		return nil, err
	}
	log.Info("critic trained", "kind", c.Kind(), "ratings", len(obs.Ratings), "exposures", len(obs.Exposures))
	return c, writeFile(filepath.Join(dir, "critic.json"), buf.Bytes())
}

// rolloutConfig maps the job onto rollout.Config.
func rolloutConfig(job Job, needs []prompt.Need, model string) (rollout.Config, error) {
	cfg := rollout.DefaultConfig()
	r := job.Rollout
	cfg.Samples, cfg.Seed, cfg.Model, cfg.Needs = r.Samples, r.Seed, model, needs
	if r.Temperature != nil {
		cfg.Temperature = *r.Temperature
	}
	if r.MaxTokens > 0 {
		cfg.MaxTokens = r.MaxTokens
	}
	kind, err := rl.ParseItemReward(r.ItemReward)
	if err != nil {
		return cfg, fmt.Errorf("pipeline: rollout.item_reward: %w", err)
	}
	cfg.RL.ItemReward, cfg.RL.Cutoff = kind, r.Cutoff
	if err := rlSwitches(&cfg.RL, r); err != nil {
		return cfg, err
	}
	if cfg.Repair, err = rank.ParsePolicy(r.Repair); err != nil {
		return cfg, fmt.Errorf("pipeline: rollout.repair: %w", err)
	}
	return cfg, cfg.Validate()
}

// rlSwitches sets the method's switches from the job's rollout section,
// naming the first invalid key.
func rlSwitches(c *rl.Config, r RolloutConfig) error {
	if name, err := c.SetSwitches(rl.SwitchNames{Level: r.Level, Normalize: r.Normalize, Uncertainty: r.Uncertainty,
		Scaling: r.Scaling, OtherTokens: r.OtherTokens, RepairedTail: r.RepairedTail}); err != nil {
		return &ConfigError{Msg: fmt.Sprintf("rollout.%s: %v", strings.ReplaceAll(name, "-", "_"), err)} // the YAML's spelling
	}
	c.Eps, c.ClampMin, c.ClampMax, c.PerItem, c.Delta, c.FormatPenalty = r.Eps, r.ClampMin, r.ClampMax, r.PerItem, r.Delta, r.FormatPenalty
	if err := c.Validate(); err != nil {
		return &ConfigError{Msg: fmt.Sprintf("rollout: %v", err)}
	}
	return nil
}

// rollouts samples and scores every episode into dir/rollouts.jsonl.
func rollouts(ctx context.Context, job Job, dir string, st *state, b *Opened, opts Options, log *slog.Logger) (rollout.Stats, error) {
	cfg, err := rolloutConfig(job, st.needs, b.Model)
	if err != nil {
		return rollout.Stats{}, err
	}
	ctx, bud := NewBudget(ctx, b, opts.MaxCost)
	runner, err := rollout.NewRunner(bud.Backend(), rollout.BackendInfo{Name: b.Kind, Model: b.Model}, cfg, st.critic)
	if err != nil {
		return rollout.Stats{}, err
	}
	eps := shard.Filter(opts.Shard, st.train, func(e *prompt.Episode) string { return e.ID })
	log.Info("sampling rollouts", "episodes", len(eps), "group", cfg.Samples, "backend", b.Kind, "model", b.Model, "shard", opts.Shard.String())
	stats, err := rollout.Run(ctx, runner, eps, rollout.RunOptions{
		Path: filepath.Join(dir, "rollouts.jsonl"), Concurrency: job.Backend.Concurrency, Window: job.Rollout.Episodes,
		Fingerprint: fingerprint(job), FailuresPath: filepath.Join(dir, "failures.jsonl"),
		FailFast: opts.FailFast, TruncateAtDamage: opts.TruncateAtDamage, Logger: log,
		Progress: func(s rollout.Stats) {
			if opts.Progress != nil {
				opts.Progress(Progress{Stats: s, Backend: b})
			}
		},
	})
	return stats, bud.Err(ctx, err)
}

// report evaluates the baselines, the policy (the backend, greedy, in the
// row llm:<model>; "policy" names it in eval.rankers) and the LLM rankers
// of eval.llms on the episodes' dense truth into dir/report, with a header
// from the job and its summary.
func report(ctx context.Context, job Job, dir string, st *state, b *Opened, sum *Summary, sh shard.Spec, log *slog.Logger) (string, error) {
	rc := eval.DefaultRankerConfig()
	rc.Train, rc.Needs, rc.Seed = st.suite.Train, st.needs, job.Rollout.Seed
	rc.MFModel = b.MF // the builtin policy's BPR, trained on the same interactions: trained once per job
	zero := 0.0
	policy := eval.LLMConfig{Backend: b, Model: b.Model, BackendKind: b.Kind, Temperature: &zero, MaxTokens: job.Rollout.MaxTokens}
	rc.LLMs = []eval.LLMConfig{policy}
	opened, configs := []*Opened{b}, []BackendConfig{job.Backend}
	for i, l := range job.Eval.LLMs {
		bc := BackendConfig(l)
		o, err := openReportLLM(ctx, job, dir, st, bc, log)
		if err != nil {
			return "", fmt.Errorf("pipeline: eval.llms[%d]: %w", i, err)
		}
		opened, configs = append(opened, o), append(configs, bc)
		rc.LLMs = append(rc.LLMs, eval.LLMConfig{Backend: o, Model: o.Model, BackendKind: o.Kind, Temperature: &zero, MaxTokens: job.Rollout.MaxTokens})
	}
	rankers, err := eval.NewRankers(ctx, reportRankers(job, rc.LLMs), rc)
	if err != nil {
		return "", err
	}
	costs := make([]float64, len(opened)) // the meters before the report's requests
	for i, o := range opened {
		costs[i] = meterCost(o)
	}
	ecfg := eval.DefaultConfig()
	ecfg.Resamples, ecfg.Seed = job.Eval.Resamples, job.Episodes.Seed
	test := st.test
	if len(test) == 0 { // holdout 0: report on the rollouts' episodes
		test = st.train
	}
	rep, part, err := evaluate(ctx, rankers, test, ecfg, sh)
	if err != nil {
		return "", err
	}
	rep.Meta = reportMeta(job, b, sum)
	for i, o := range opened {
		if o.Stack != nil && priced(configs[i]) {
			rep.SetCost(eval.LLMPrefix+o.Model, meterCost(o)-costs[i])
		}
	}
	out := filepath.Join(dir, "report")
	if part != nil {
		return out, writeReportShard(out, part)
	}
	if err := eval.WriteDir(out, rep); err != nil {
		return "", err
	}
	log.Info("evaluation report written", "dir", out, "rankers", len(rankers))
	return out, nil
}

// reportRankers maps eval.rankers to ranker names ("policy" is the first
// LLM ranker) and appends the LLM rankers eval.rankers does not name.
func reportRankers(job Job, llms []eval.LLMConfig) []string {
	var names []string
	for _, n := range job.Eval.Rankers {
		if n == "policy" {
			n = eval.LLMPrefix + llms[0].Model
		}
		names = append(names, n)
	}
	for i, l := range llms {
		name := eval.LLMPrefix + l.Model
		if i > 0 && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}

// openReportLLM opens one backend of eval.llms, its unset fields taken
// from DefaultJob's backend and its responses cached as the job's are.
func openReportLLM(ctx context.Context, job Job, dir string, st *state, bc BackendConfig, log *slog.Logger) (*Opened, error) {
	def := DefaultJob().Backend
	if bc.TimeoutSeconds == 0 {
		bc.TimeoutSeconds = def.TimeoutSeconds
	}
	if bc.Concurrency == 0 {
		bc.Concurrency = def.Concurrency
	}
	if bc.Cache == nil {
		bc.Cache = job.Backend.Cache
	}
	return openBackend(ctx, Job{Backend: bc}, dir, st, log)
}

// reportMeta is the report header's description of the job.
func reportMeta(job Job, b *Opened, sum *Summary) eval.Meta {
	m := eval.Meta{Command: "flexrec run", Dataset: job.Dataset, Needs: job.Needs,
		Date: time.Now().UTC().Format(time.RFC3339), Version: export.Version()}
	if sum == nil {
		return m
	}
	m.Rollouts = &eval.RolloutMeta{Backend: b.Kind, Model: b.Model, Episodes: sum.RolledOut, Rollouts: sum.Rollouts,
		InvalidRate: sum.InvalidRate, PromptTokens: sum.PromptTokens, CompletionTokens: sum.CompletionTokens}
	if b.Stack != nil && priced(job.Backend) {
		cost := sum.Cost
		m.Rollouts.Cost = &cost
	}
	return m
}

// priced reports whether bc gives a price, so that its cost means something.
func priced(bc BackendConfig) bool { return bc.PriceInput > 0 || bc.PriceOutput > 0 }

// meterCost is what an opened backend's requests have cost so far; 0 for
// the builtin policy.
func meterCost(o *Opened) float64 {
	if o.Stack == nil {
		return 0
	}
	return o.Stack.Meter.Totals().Cost
}

// writeJSON writes v as indented JSON to path atomically.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("pipeline: encode %s: %w", path, err)
	}
	return writeFile(path, append(b, '\n'))
}
