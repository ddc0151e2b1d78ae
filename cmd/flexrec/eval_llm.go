package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flexrec/flexrec/eval"
	"github.com/flexrec/flexrec/export"
	"github.com/flexrec/flexrec/pipeline"
	"github.com/flexrec/flexrec/prompt"
)

// llmKeys are the keys of an --llm value, in help order.
var llmKeys = []string{"backend", "model", "base-url", "api-key-file", "temperature", "max-tokens", "price-in", "price-out", "name"}

// llmSpec is one LLM ranker of `flexrec eval`: its backend and sampling.
type llmSpec struct {
	backend     pipeline.BackendConfig
	temperature float64
	maxTokens   int
	// name is the report name; "" means llm:<model>.
	name string
}

// parseLLMSpec reads one --llm value, "backend=openai,model=gpt-4o-mini"
// with any of llmKeys, into a spec over the default backend settings.
func parseLLMSpec(s string) (llmSpec, error) {
	sp := llmSpec{backend: pipeline.DefaultJob().Backend}
	sp.backend.Kind = ""
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || v == "" {
			return sp, usagef("--llm %q: %q is not key=value (keys: %s)", s, kv, strings.Join(llmKeys, ", "))
		}
		if err := sp.set(k, v); err != nil {
			return sp, usagef("--llm %q: %v", s, err)
		}
	}
	switch {
	case !slices.Contains([]string{"builtin", "openai", "ollama"}, sp.backend.Kind):
		return sp, usagef("--llm %q: backend=%q: want openai, ollama or builtin", s, sp.backend.Kind)
	case sp.backend.Model == "" && sp.backend.Kind != "builtin":
		return sp, usagef("--llm %q: model= is required for backend %s", s, sp.backend.Kind)
	case sp.backend.Model == "":
		sp.backend.Model = pipeline.BuiltinModel
	}
	return sp, nil
}

// set sets one key of the spec.
func (sp *llmSpec) set(k, v string) error {
	var err error
	b := &sp.backend
	switch k {
	case "backend":
		b.Kind = v
	case "model":
		b.Model = v
	case "base-url":
		b.BaseURL = v
	case "api-key-file":
		b.APIKeyFile = v
	case "name":
		sp.name = v
	case "temperature":
		sp.temperature, err = strconv.ParseFloat(v, 64)
	case "max-tokens":
		sp.maxTokens, err = strconv.Atoi(v)
	case "price-in":
		b.PriceInput, err = strconv.ParseFloat(v, 64)
	case "price-out":
		b.PriceOutput, err = strconv.ParseFloat(v, 64)
	default:
		return fmt.Errorf("unknown key %q (keys: %s)", k, strings.Join(llmKeys, ", "))
	}
	if err != nil {
		return fmt.Errorf("%s=%q: %w", k, v, err)
	}
	return nil
}

// rankerName is the spec's report name.
func (sp llmSpec) rankerName() string {
	if sp.name != "" {
		return sp.name
	}
	return eval.LLMPrefix + sp.backend.Model
}

// llmSpecs returns the LLM rankers asked for: one per --llm, after the one
// of --backend/--model when those are given or --rankers names llm alone.
func (o *evalOptions) llmSpecs() ([]llmSpec, error) {
	var specs []llmSpec
	if o.backendGiven || (wantsLLM(o.rankers) && len(o.llms) == 0) {
		sp, err := o.legacySpec()
		if err != nil {
			return nil, err
		}
		specs = append(specs, sp)
	}
	for _, s := range o.llms {
		sp, err := parseLLMSpec(s)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(specs, func(have llmSpec) bool { return have.rankerName() == sp.rankerName() }) {
			return nil, usagef("--llm %q: a ranker named %s is already asked for (named twice); give this one name=", s, sp.rankerName())
		}
		specs = append(specs, sp)
	}
	return specs, nil
}

// legacySpec is the LLM ranker of --backend, --model, --base-url,
// --temperature and --max-tokens.
func (o *evalOptions) legacySpec() (llmSpec, error) {
	if err := o.backend.verify(); err != nil {
		return llmSpec{}, err
	}
	sp := llmSpec{backend: o.backend.cfg, temperature: o.temperature, maxTokens: o.maxTokens}
	if sp.backend.Kind == "builtin" && sp.backend.Model == "" {
		sp.backend.Model = pipeline.BuiltinModel
	}
	return sp, nil
}

// openLLMs opens each spec's backend through the job's opener (the builtin
// policy trains on the suite's training interactions; LLM servers get
// retries and the --cache) and returns the rankers' configs.
func (o *evalOptions) openLLMs(ctx context.Context, specs []llmSpec, rc eval.RankerConfig, log *slog.Logger) ([]eval.LLMConfig, []*pipeline.Opened, error) {
	var cfgs []eval.LLMConfig
	var opened []*pipeline.Opened
	for _, sp := range specs {
		b, err := pipeline.OpenBackend(ctx, sp.backend, rc.Train, o.backend.cacheDir(), log)
		if err != nil {
			return nil, nil, err
		}
		temp := sp.temperature
		cfgs = append(cfgs, eval.LLMConfig{Backend: b, Model: sp.backend.Model, Temperature: &temp, MaxTokens: sp.maxTokens,
			Name: sp.name, BackendKind: b.Kind})
		opened = append(opened, b)
	}
	return cfgs, opened, nil
}

// rankerNames is --rankers with the LLM rankers it does not name appended.
func rankerNames(rankers []string, specs []llmSpec) []string {
	names := slices.Clone(rankers)
	if wantsLLM(rankers) && len(specs) == 1 {
		return names // "llm" names the only one
	}
	for _, sp := range specs {
		if !slices.Contains(names, sp.rankerName()) {
			names = append(names, sp.rankerName())
		}
	}
	return names
}

// evalMeta is the report header's description of an eval run, with the
// cost of each priced LLM ranker recorded in rep.
func (o *evalOptions) evalMeta(rep *eval.Report, needs []prompt.Need, specs []llmSpec, opened []*pipeline.Opened) {
	m := eval.Meta{Command: "flexrec eval", Dataset: o.dataset, Date: time.Now().UTC().Format(time.RFC3339), Version: export.Version()}
	if o.episodes != "" {
		m.Dataset = o.episodes
	}
	for _, n := range needs {
		m.Needs = append(m.Needs, n.ID)
	}
	rep.Meta = m
	for i, b := range opened {
		if b.Stack != nil && (specs[i].backend.PriceInput > 0 || specs[i].backend.PriceOutput > 0) {
			rep.SetCost(specs[i].rankerName(), b.Stack.Meter.Totals().Cost)
		}
	}
}
