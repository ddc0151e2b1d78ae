package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flexrec/flexrec/eval"
	"github.com/flexrec/flexrec/llm"
	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rank"
)

type rankOptions struct {
	episode, need            string
	samples                  int
	seed                     int64
	temperature, topP        float64
	maxTokens, topLogprobs   int
	noLogprobs, allowMissing bool
	think, schema            bool
	repair                   string
	backend                  backendFlags
	deadline                 time.Duration
	template                 string
	history, maxText         int
	changed                  func(name string) bool
}

func newRankCmd(s io3) *cobra.Command {
	return newRankCmdRun(s, runRank)
}

// newRankCmdRun lets tests capture the parsed options instead of running.
func newRankCmdRun(s io3, runF func(context.Context, *rankOptions, io3) error) *cobra.Command {
	o := &rankOptions{}
	c := &cobra.Command{
		Use:   "rank",
		Short: "Rank one episode's candidates with an LLM and report each sample",
		Long: `Rank one episode (a line of 'flexrec episodes', from --episode or stdin) with a
language model: each of --samples rollouts renders the prompt with its own
seed (a fresh candidate shuffle; the seeds 'flexrec run' uses), samples one
answer, parses it, repairs missing ids under --repair and aligns every ranked
item with the tokens that wrote it. Prints one JSON document: per sample the
text, the permutation (item ids and short ids, generated or repaired, each
item's summed token logprob and token range), the parse report and usage;
then the totals (tokens, cost with --price-in/--price-out).

Backends (the flags every sampling command shares): --backend builtin (the
default: a Plackett-Luce policy over MF trained on the episode's history, no
LLM), ollama (native API; OLLAMA_HOST or --base-url, default
http://127.0.0.1:11434) or openai (any OpenAI-compatible server: OpenAI, vLLM,
llama.cpp, OpenRouter, Ollama's /v1; OPENAI_BASE_URL or --base-url, key from
OPENAI_API_KEY or --api-key-file). Transient failures (refused or closed
connections, 408, 425, 429, 5xx, an error inside a 200) are retried with
backoff; 400/401/403/404 are not.

Examples:
  flexrec episodes --dataset ml-latest-small --limit 1 | flexrec rank --backend ollama --model qwen2.5:3b
  flexrec rank --episode ep.json --backend openai --model gpt-4o-mini --samples 4 --top-logprobs 5
  OPENAI_BASE_URL=http://127.0.0.1:8000/v1 flexrec rank --backend openai --model Qwen/Qwen2.5-3B-Instruct \
    --episode ep.json --schema --structured-outputs structured_outputs --cache ~/.cache/flexrec/llm`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.changed = cmd.Flags().Changed
			return runF(cmd.Context(), o, s)
		},
	}
	o.addFlags(c.Flags())
	return c
}

func (o *rankOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.episode, "episode", "", "file holding the episode as one JSON line (default: stdin)")
	f.StringVar(&o.need, "need", "", "need id or needs file (default: the episode's need)")
	f.IntVar(&o.samples, "samples", 8, "rollouts per episode (G)")
	f.Int64Var(&o.seed, "seed", 1, "base seed of the rollouts' shuffles and sampling")
	f.Float64Var(&o.temperature, "temperature", 1, "sampling temperature, 0-2 (0 is sent, greedy)")
	f.Float64Var(&o.topP, "top-p", 1, "nucleus sampling p in (0, 1]; sent only when given")
	f.IntVar(&o.maxTokens, "max-tokens", 2048, "completion token cap (0: the server's default)")
	f.IntVar(&o.topLogprobs, "top-logprobs", 0, "alternatives per token, 0-20")
	f.BoolVar(&o.noLogprobs, "no-logprobs", false, "do not ask for token logprobs")
	f.BoolVar(&o.allowMissing, "allow-missing-logprobs", false, "go on without token logprobs when a server ignores them")
	f.BoolVar(&o.think, "think", false, "turn a reasoning model's thinking on or off (sent only when given)")
	f.BoolVar(&o.schema, "schema", false, "ask for structured output (the ids as a JSON array)")
	f.StringVar(&o.repair, "repair", string(rank.PromptOrder), "completion of partial answers: prompt-order, score (by popularity) or reject")
	f.DurationVar(&o.deadline, "deadline", 0, "deadline of the whole command (0: none)")
	f.StringVar(&o.template, "template", "", "YAML or JSON file overriding the prompt templates")
	f.IntVar(&o.history, "history", prompt.DefaultOptions().HistoryBudget, "most history items shown")
	f.IntVar(&o.maxText, "max-text", prompt.DefaultMaxTextLen, "cap on each item text, in characters")
	o.backend.addFlags(f)
}

// verifyRankOptions turns flags into typed configs; flag errors are usage
// errors.
func verifyRankOptions(o *rankOptions) (*rankConfig, error) {
	switch {
	case o.samples < 1 || o.samples > llm.MaxSamples:
		return nil, usagef("--samples %d outside 1..%d", o.samples, llm.MaxSamples)
	case o.deadline < 0:
		return nil, usagef("--deadline must not be negative")
	}
	if err := o.backend.verify(); err != nil {
		return nil, err
	}
	policy, err := rank.ParsePolicy(o.repair)
	if err != nil {
		return nil, usageError{err}
	}
	rc, err := o.runConfig(policy)
	if err != nil {
		return nil, err
	}
	return &rc, nil
}

// runConfig builds the request template and the prompt options.
func (o *rankOptions) runConfig(policy rank.Policy) (rankConfig, error) {
	t := o.temperature
	req := llm.Request{Model: o.backend.cfg.Model, Temperature: &t, MaxTokens: o.maxTokens, Logprobs: !o.noLogprobs,
		TopLogprobs: o.topLogprobs, AllowMissingLogprobs: o.allowMissing}
	if o.changed("top-p") {
		p := o.topP
		req.TopP = &p
	}
	if o.changed("think") {
		th := o.think
		req.Think = &th
	}
	if o.noLogprobs {
		req.TopLogprobs = 0
	}
	req.Messages = []llm.Message{{Role: "user", Content: "check"}}
	if err := req.Validate(); err != nil {
		return rankConfig{}, usageError{err}
	}
	req.Messages = nil
	opts := prompt.DefaultOptions()
	opts.HistoryBudget, opts.MaxTextLen = o.history, o.maxText
	if o.template != "" {
		tpl, err := prompt.LoadTemplate(o.template)
		if err != nil {
			return rankConfig{}, err
		}
		opts.Template = tpl
	}
	if err := opts.Validate(); err != nil {
		return rankConfig{}, usageError{err}
	}
	return rankConfig{request: req, prompt: opts, samples: o.samples, seed: o.seed, policy: policy,
		schema: o.schema, needID: o.need}, nil
}

func runRank(ctx context.Context, o *rankOptions, s io3) error {
	log := slog.New(slog.NewTextHandler(s.err, &slog.HandlerOptions{Level: slog.LevelWarn}))
	plan, err := verifyRankOptions(o)
	if err != nil {
		return err
	}
	ep, err := readOneEpisode(o.episode, s.in)
	if err != nil {
		return err
	}
	b, err := o.backend.open(ctx, eval.TrainFromHistories([]prompt.Episode{*ep}), log)
	if err != nil {
		return err
	}
	if plan.request.Model == "" {
		plan.request.Model = b.Model
	}
	if o.deadline > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.deadline)
		defer cancel()
	}
	out, err := rankEpisode(ctx, b, ep, plan)
	if err != nil {
		return err
	}
	out.Backend = b.Kind
	if b.Stack != nil {
		out.Backend, out.Totals = b.Stack.String(), b.Stack.Meter.Totals()
		if b.Stack.Cache != nil {
			out.CacheHits, _ = b.Stack.Cache.Stats()
		}
	}
	enc := json.NewEncoder(s.out)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("rank: write output: %w", err)
	}
	return nil
}
