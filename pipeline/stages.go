package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/flexrec/flexrec/eval"
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
	if cfg.Repair, err = rank.ParsePolicy(r.Repair); err != nil {
		return cfg, fmt.Errorf("pipeline: rollout.repair: %w", err)
	}
	return cfg, cfg.Validate()
}

// rollouts samples and scores every episode into dir/rollouts.jsonl.
func rollouts(ctx context.Context, job Job, dir string, st *state, b *Opened, opts Options, log *slog.Logger) (rollout.Stats, error) {
	cfg, err := rolloutConfig(job, st.needs, b.Model)
	if err != nil {
		return rollout.Stats{}, err
	}
	runner, err := rollout.NewRunner(b, rollout.BackendInfo{Name: b.Kind, Model: b.Model}, cfg, st.critic)
	if err != nil {
		return rollout.Stats{}, err
	}
	log.Info("sampling rollouts", "episodes", len(st.train), "group", cfg.Samples, "backend", b.Kind, "model", b.Model)
	return rollout.Run(ctx, runner, st.train, rollout.RunOptions{
		Path: filepath.Join(dir, "rollouts.jsonl"), Concurrency: job.Backend.Concurrency, Window: job.Rollout.Episodes,
		Fingerprint: fingerprint(job), FailuresPath: filepath.Join(dir, "failures.jsonl"),
		FailFast: opts.FailFast, TruncateAtDamage: opts.TruncateAtDamage, Logger: log,
		Progress: func(s rollout.Stats) {
			if opts.Progress != nil {
				opts.Progress(Progress{Stats: s, Backend: b})
			}
		},
	})
}

// report evaluates the baselines and the policy (the backend, greedy) on
// the episodes' dense truth into dir/report.
func report(ctx context.Context, job Job, dir string, st *state, b *Opened, log *slog.Logger) (string, error) {
	rc := eval.DefaultRankerConfig()
	rc.Train, rc.Needs, rc.Seed = st.suite.Train, st.needs, job.Rollout.Seed
	names := make([]string, 0, len(job.Eval.Rankers))
	for _, n := range job.Eval.Rankers {
		if n == "policy" {
			zero := 0.0
			rc.LLM = &eval.LLMConfig{Backend: b, Model: b.Model, Temperature: &zero, MaxTokens: job.Rollout.MaxTokens, Name: "policy"}
			n = eval.RankerLLM
		}
		names = append(names, n)
	}
	rankers, err := eval.NewRankers(ctx, names, rc)
	if err != nil {
		return "", err
	}
	ecfg := eval.DefaultConfig()
	ecfg.Resamples, ecfg.Seed = job.Eval.Resamples, job.Episodes.Seed
	test := st.test
	if len(test) == 0 { // holdout 0: report on the rollouts' episodes
		test = st.train
	}
	rep, err := eval.Evaluate(ctx, rankers, test, ecfg)
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "report")
	if err := eval.WriteDir(out, rep); err != nil {
		return "", err
	}
	log.Info("evaluation report written", "dir", out, "rankers", len(rankers))
	return out, nil
}

// writeJSON writes v as indented JSON to path atomically.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("pipeline: encode %s: %w", path, err)
	}
	return writeFile(path, append(b, '\n'))
}
