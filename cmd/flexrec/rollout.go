package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flexrec/flexrec/eval"
	"github.com/flexrec/flexrec/eval/dataset"
	"github.com/flexrec/flexrec/internal/shard"
	"github.com/flexrec/flexrec/pipeline"
	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rank"
	"github.com/flexrec/flexrec/rl"
	"github.com/flexrec/flexrec/rl/critic"
	"github.com/flexrec/flexrec/rollout"
)

type rolloutOptions struct {
	episodes   string
	out        string
	critic     string
	rl         rlFlags
	repair     string
	episodesIn int
	failFast   bool
	truncate   bool
	shard      string
	dryRun     bool
	maxCost    float64
	backend    backendFlags
	cfg        rollout.Config
}

func newRolloutCmd(s io3) *cobra.Command {
	o := &rolloutOptions{cfg: rollout.DefaultConfig()}
	c := &cobra.Command{
		Use:   "rollout",
		Short: "Sample G scored rollouts per episode through a backend",
		Long: `For each episode (a line of 'flexrec episodes'), sample G rollouts through a
backend (seeded; the candidate order reshuffled per rollout), parse, repair,
align tokens, score with the reward engine (causal swap by default), and
append one JSON line per rollout to --out: episode id, need, messages,
completion, tokens with logprobs, item spans, permutation, generated flags,
list reward, item rewards, u, c, advantages per item and per token, the parse
report and the backend's fingerprint.

The output is written in episode order, synced per episode; the same command
run again after a kill resumes with no duplicate and no gap. In the sparse
mode (episodes built with --sparse) pass --critic (from 'flexrec critic
train') to fill in unobserved gains.

Examples:
  flexrec episodes --limit 20 --out eps.jsonl
  flexrec rollout --episodes eps.jsonl --out rollouts.jsonl
  flexrec rollout --episodes eps.jsonl --out r.jsonl --backend ollama --model qwen2.5:3b --samples 4`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runRollout(cmd.Context(), o, s) },
	}
	f := c.Flags()
	f.StringVar(&o.out, "out", "", "rollouts JSONL file to write or resume (required)")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the requests, estimated tokens and cost at --price-in/--price-out; call no server, write nothing")
	f.Float64Var(&o.maxCost, "max-cost", 0, "stop cleanly once this invocation has cost this much at --price-in/--price-out (whole groups kept; rerun to go on); 0: no limit")
	o.addFlags(f)
	return c
}

// addFlags registers the flags that decide the rollouts (episodes,
// sampling, rewards, backend); batch prepare and ingest share them, so a
// batch writes what rollout would.
func (o *rolloutOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.episodes, "episodes", "", "episodes JSONL file (required)")
	f.StringVar(&o.critic, "critic", "", "critic file for sparse episodes (flexrec critic train)")
	f.IntVar(&o.cfg.Samples, "samples", o.cfg.Samples, "rollouts per episode (G)")
	f.Int64Var(&o.cfg.Seed, "seed", 1, "base seed: shuffles and sampling")
	f.Float64Var(&o.cfg.Temperature, "temperature", o.cfg.Temperature, "sampling temperature")
	f.IntVar(&o.cfg.MaxTokens, "max-tokens", o.cfg.MaxTokens, "completion token cap")
	f.IntVar(&o.cfg.TopLogprobs, "top-logprobs", 0, "alternatives per token, 0-20")
	f.BoolVar(&o.cfg.AllowMissingLogprobs, "allow-missing-logprobs", false, "go on without token logprobs when a server ignores them")
	f.BoolVar(&o.cfg.Schema, "schema", false, "ask for structured output (the ids as a JSON array)")
	o.rl.addFlags(f, "")
	f.StringVar(&o.repair, "repair", string(rank.PromptOrder), "repair policy: prompt-order or score (needs --critic)")
	f.IntVar(&o.episodesIn, "episodes-in-flight", 0, "most episodes started but not yet written, the reorder buffer (0: from --concurrency); --concurrency alone bounds requests")
	f.BoolVar(&o.failFast, "fail-fast", false, "stop at the first episode that fails after retries (default: go on, list failures in OUT's .failures.jsonl, fail at the end)")
	f.BoolVar(&o.truncate, "truncate-at-damage", false, "cut a damaged --out at its first damaged line instead of refusing to resume")
	f.StringVar(&o.shard, "shard", "", "roll out only shard k of n (k/n, 0 <= k < n) of the episodes; 'flexrec merge' joins the shards")
	o.backend.addFlags(f)
}

func (o *rolloutOptions) verify() error {
	if o.episodes == "" || o.out == "" {
		return usagef("--episodes and --out are required")
	}
	if err := o.backend.verify(); err != nil {
		return err
	}
	var err error
	if o.cfg.RL, err = o.rl.config(""); err != nil {
		return err
	}
	if o.cfg.Repair, err = rank.ParsePolicy(o.repair); err != nil {
		return usagef("--repair: %v", err)
	}
	o.cfg.Model = o.backend.cfg.Model
	if err := checkMaxCost(o.maxCost, o.backend.cfg); err != nil {
		return err
	}
	if err := o.cfg.Validate(); err != nil {
		return usagef("%v", err)
	}
	return nil
}

func runRollout(ctx context.Context, o *rolloutOptions, s io3) error {
	if err := o.verify(); err != nil {
		return err
	}
	if o.dryRun {
		return runRolloutDryRun(ctx, o, s)
	}
	all, eps, err := o.readEpisodes(ctx)
	if err != nil {
		return err
	}
	log := newLogger(s.err, "text")
	b, err := o.backend.open(ctx, eval.TrainFromHistories(all), log)
	if err != nil {
		return err
	}
	var pred rl.Predictor
	if o.critic != "" {
		if pred, err = critic.LoadFile(o.critic); err != nil {
			return err
		}
	}
	if b.Model != "" {
		o.cfg.Model = b.Model
	}
	fp, err := o.fingerprint()
	if err != nil {
		return err
	}
	ctx, bud := pipeline.NewBudget(ctx, b, o.maxCost)
	runner, err := rollout.NewRunner(bud.Backend(), rollout.BackendInfo{Name: b.Kind, Model: b.Model}, o.cfg, pred)
	if err != nil {
		return err
	}
	prog := newProgress(s.err, false, log)
	st, err := rollout.Run(ctx, runner, eps, rollout.RunOptions{
		Path: o.out, Concurrency: o.backend.cfg.Concurrency, Window: o.episodesIn, Fingerprint: fp,
		FailFast: o.failFast, TruncateAtDamage: o.truncate, Logger: log,
		Progress: func(st rollout.Stats) { prog.update(pipeline.Progress{Stats: st, Backend: b}) },
	})
	err = bud.Err(ctx, err)
	prog.finish()
	if encErr := json.NewEncoder(s.out).Encode(st); encErr != nil && err == nil {
		err = encErr
	}
	return err
}

// fingerprint names what decides the rollouts' content (settings,
// backend, the critic file's and the episodes' bytes), so a resume with
// other settings or other episodes is refused.
func (o *rolloutOptions) fingerprint() (string, error) {
	h := sha256.New()
	cfg, _ := json.Marshal(o.cfg) // plain structs: cannot fail
	// The server's address does not count: the same model elsewhere writes the same records.
	fmt.Fprintf(h, "%s\x00%s/%s\x00", cfg, o.backend.cfg.Kind, o.backend.cfg.Model)
	for _, path := range []string{o.episodes, o.critic} {
		if path == "" {
			continue
		}
		f, err := os.Open(path)
		if err != nil {
			return "", fmt.Errorf("rollout: %w", err)
		}
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("rollout: read %s: %w", path, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8]), nil
}

// readEpisodes reads --episodes: all of them, and --shard's. The builtin
// policy trains on all and the fingerprint is the whole file's, so a
// shard's records equal one machine's.
func (o *rolloutOptions) readEpisodes(ctx context.Context) (all, mine []prompt.Episode, err error) {
	sh, err := shard.Parse(o.shard)
	if err != nil {
		return nil, nil, usagef("--shard: %v", err)
	}
	if all, err = dataset.ReadEpisodesFile(ctx, o.episodes); err != nil {
		return nil, nil, err
	}
	return all, shard.Filter(sh, all, func(e *prompt.Episode) string { return e.ID }), nil
}
