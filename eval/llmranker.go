package eval

import (
	"context"
	"fmt"
	"time"

	"github.com/flexrec/flexrec/llm"
	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rank"
	"github.com/flexrec/flexrec/rollout"
)

// LLMConfig configures the llm ranker.
type LLMConfig struct {
	// Backend samples the completions; required.
	Backend llm.Backend
	// Model names the model on the backend; required.
	Model string
	// Temperature is the sampling temperature; nil means 0 (greedy), the
	// usual choice for evaluation.
	Temperature *float64
	// MaxTokens caps the completion; 0 leaves the server's default.
	MaxTokens int
	// Name is the ranker's name in reports; "" means LLMPrefix + Model,
	// e.g. "llm:gpt-4o-mini".
	Name string
	// BackendKind names the backend in reports: "openai", "ollama" or
	// "builtin" (the Plackett–Luce policy over BPR scores); "" means
	// unknown. It changes no ranking.
	BackendKind string
}

// LLMPrefix starts the report name of an LLM ranker: LLMPrefix + model.
const LLMPrefix = RankerLLM + ":"

// name returns the ranker's report name (see Name).
func (c *LLMConfig) name() string {
	if c.Name != "" {
		return c.Name
	}
	return LLMPrefix + c.Model
}

// temperature returns the sampling temperature, 0 when unset.
func (c *LLMConfig) temperature() float64 {
	if c.Temperature == nil {
		return 0
	}
	return *c.Temperature
}

// llmRanker ranks by asking a language model (see NewLLM).
type llmRanker struct {
	cfg   LLMConfig
	opts  prompt.Options
	needs needResolver
	seed  int64
}

// NewLLM returns the LLM ranker, named cfg.Name (default "llm:" + model): for each episode it renders the prompt
// (prompt.Render with opts and a seed derived from seed and the episode id,
// the same as the prompt-order ranker's), asks cfg.Backend for one sample,
// reads the answer with rank.ParseSample, completes a partial answer with
// rank.Repair in the order the prompt listed the candidates (never the
// builder's order, which could leak labels), and maps the short ids back to candidates. Needs
// lists custom needs besides the built-in ones. It is a TracingRanker: the
// trace says whether the answer broke the output contract, how many
// candidates repair placed, the latency and the tokens. It returns an
// error when the backend or model is missing or opts is invalid.
func NewLLM(cfg LLMConfig, opts prompt.Options, needs []prompt.Need, seed int64) (Ranker, error) {
	if cfg.Backend == nil || cfg.Model == "" {
		return nil, fmt.Errorf("eval: llm ranker: backend and model are required")
	}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("eval: llm ranker: %w", err)
	}
	cfg.Name = cfg.name()
	return &llmRanker{cfg: cfg, opts: opts, needs: newNeedResolver(needs), seed: seed}, nil
}

// Name implements Ranker.
func (r *llmRanker) Name() string { return r.cfg.Name }

// Rank implements Ranker.
func (r *llmRanker) Rank(ctx context.Context, ep *prompt.Episode) ([]int, error) {
	order, _, err := r.RankTrace(ctx, ep)
	return order, err
}

// RankTrace implements TracingRanker. Backend errors are returned wrapped
// with the ranker, model and episode; an unusable answer is not an error.
func (r *llmRanker) RankTrace(ctx context.Context, ep *prompt.Episode) ([]int, Trace, error) {
	need, err := r.needs.need(ep.Need)
	if err != nil {
		return nil, Trace{}, err
	}
	start := time.Now()
	// Parse already completes the order in prompt order; the explicit
	// policy says so and cannot fail for a Result made by Parse.
	s := rollout.Sampler{Backend: r.cfg.Backend, Request: r.request(), Prompt: r.opts, Repair: rank.PromptOrder}
	rec, d, err := s.Sample(ctx, ep, need, promptSeed(r.seed, ep))
	if err != nil {
		return nil, Trace{}, fmt.Errorf("eval: ranker %s: model %s: episode %q: %w", r.cfg.Name, r.cfg.Model, ep.ID, err)
	}
	repaired := 0
	for _, g := range rec.Generated {
		if !g {
			repaired++
		}
	}
	tr := Trace{
		Invalid:          !rec.Parse.Valid,
		Repaired:         repaired > 0,
		RepairedItems:    repaired,
		Latency:          d.Sample.Latency,
		PromptTokens:     rec.Usage.PromptTokens,
		CompletionTokens: rec.Usage.CompletionTokens,
	}
	if tr.Latency == 0 {
		tr.Latency = time.Since(start)
	}
	return rec.Ranking, tr, nil
}

// request is the template of the ranker's requests (see rollout.Draw).
func (r *llmRanker) request() llm.Request {
	temp := r.cfg.temperature()
	return llm.Request{Model: r.cfg.Model, Temperature: &temp, MaxTokens: r.cfg.MaxTokens}
}

// info describes the ranker for the report header.
func (r *llmRanker) info() LLMInfo {
	return LLMInfo{Ranker: r.cfg.Name, Backend: r.cfg.BackendKind, Model: r.cfg.Model,
		Temperature: r.cfg.temperature(), MaxTokens: r.cfg.MaxTokens}
}

// about says what the ranker ranks by, for the report's notes.
func (r *llmRanker) about() string {
	if r.cfg.BackendKind == "builtin" && r.cfg.temperature() == 0 {
		return "the greedy answer (temperature 0) of the builtin Plackett–Luce policy, which is the order of its " +
			"BPR matrix-factorisation scores trained on the training interactions (near-ties may fall differently)"
	}
	return fmt.Sprintf("the answers of model %s on the %s backend at temperature %g", r.cfg.Model, orUnknown(r.cfg.BackendKind), r.cfg.temperature())
}

// orUnknown returns s, or "unknown" when s is empty.
func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
