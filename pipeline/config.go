// Package pipeline runs flexrec's main job end to end: dataset → episodes →
// rollouts through a backend → rewards and advantages → exports for
// trainers → evaluation report, all under one output folder, resumable
// after a kill. It composes the stage packages and owns nothing they do;
// it exists so that cmd/flexrec stays a thin layer and tests can run the
// whole job in-process.
package pipeline

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/flexrec/flexrec/rl"
)

// Job is the main job's configuration, as read from a YAML file (see
// examples/). Build it with DefaultJob; flags override fields after loading.
type Job struct {
	// Dataset is a built-in dataset name or a dataset folder. Default
	// "ml-latest-small" (embedded).
	Dataset string `yaml:"dataset" json:"dataset"`
	// Needs are built-in need ids or needs files. Default [interest].
	Needs []string `yaml:"needs" json:"needs"`
	// Episodes configures the episode builder.
	Episodes EpisodesConfig `yaml:"episodes" json:"episodes"`
	// Backend configures the policy that writes the rankings.
	Backend BackendConfig `yaml:"backend" json:"backend"`
	// Rollout configures sampling and rewards.
	Rollout RolloutConfig `yaml:"rollout" json:"rollout"`
	// Critic is the critic kind used in the sparse mode: ensemble (default),
	// user-knn or item-knn.
	Critic string `yaml:"critic" json:"critic"`
	// Exports lists the export formats. Default [native, trl-preference].
	Exports []string `yaml:"exports" json:"exports"`
	// Eval configures the evaluation report.
	Eval EvalConfig `yaml:"eval" json:"eval"`
}

// EpisodesConfig configures the episode builder (see flexrec episodes).
type EpisodesConfig struct {
	// Limit caps the episodes per need; 0 means all.
	Limit int `yaml:"limit" json:"limit"`
	// Candidates is N, the candidate set size. Default 30.
	Candidates int `yaml:"candidates" json:"candidates"`
	// History is H, the history length. Default 50.
	History int `yaml:"history" json:"history"`
	// Split is leave-last-out (default) or temporal.
	Split string `yaml:"split" json:"split"`
	// Sparse is the observed fraction of feedback for training, 0 (dense,
	// the default) or in (0, 1); the sparse mode trains a critic.
	Sparse float64 `yaml:"sparse" json:"sparse"`
	// Seed seeds the builder. Default 1.
	Seed int64 `yaml:"seed" json:"seed"`
}

// BackendConfig selects and configures the backend.
type BackendConfig struct {
	// Kind is builtin (default: a Plackett–Luce policy over MF scores, no
	// LLM), ollama or openai (any OpenAI-compatible server).
	Kind string `yaml:"kind" json:"kind"`
	// Model is the model name; required for ollama and openai.
	Model string `yaml:"model" json:"model"`
	// BaseURL is the server URL; default $OPENAI_BASE_URL or $OLLAMA_HOST,
	// then the backend's default.
	BaseURL string `yaml:"base_url" json:"base_url"`
	// APIKeyFile names a file holding the API key; default $OPENAI_API_KEY.
	// The key itself never appears in a config, log or output.
	APIKeyFile string `yaml:"api_key_file" json:"api_key_file"`
	// TimeoutSeconds is the per-request timeout. Default 300.
	TimeoutSeconds float64 `yaml:"timeout_seconds" json:"timeout_seconds"`
	// Retries is how many times a request that failed transiently
	// (refused, reset or closed connection, 408, 425, 429, 5xx, an error
	// inside a 200) is tried again before its episode fails, with
	// exponential backoff. Default 4; 0 also means 4.
	Retries int `yaml:"retries" json:"retries"`
	// Concurrency is the most requests in flight, across episodes.
	// Default 8.
	Concurrency int `yaml:"concurrency" json:"concurrency"`
	// RequestsPerSecond and TokensPerMinute are rate limits; 0 is none.
	RequestsPerSecond float64 `yaml:"requests_per_second" json:"requests_per_second"`
	TokensPerMinute   float64 `yaml:"tokens_per_minute" json:"tokens_per_minute"`
	// PriceInput and PriceOutput are prices per million tokens, for the
	// cost summary.
	PriceInput  float64 `yaml:"price_input_per_million" json:"price_input_per_million"`
	PriceOutput float64 `yaml:"price_output_per_million" json:"price_output_per_million"`
	// TokenIDs asks an OpenAI-compatible server for each completion token's
	// vocabulary id (vLLM: return_tokens_as_token_ids), which records then
	// carry, so a trainer need not re-tokenise. Default false.
	TokenIDs bool `yaml:"token_ids" json:"token_ids"`
	// NumCtx sets Ollama's context window (num_ctx); 0 keeps the model's.
	NumCtx int `yaml:"num_ctx" json:"num_ctx"`
	// StructuredOutputs picks how an OpenAI-compatible server gets the
	// JSON schema (see llm.OpenAIConfig); empty means the default.
	StructuredOutputs string `yaml:"structured_outputs" json:"structured_outputs"`
	// Cache keeps responses under DIR/cache (or CacheDir) so a rerun costs
	// nothing. Default true for LLM backends.
	Cache *bool `yaml:"cache" json:"cache"`
	// CacheDir puts the response cache in this folder instead of DIR/cache,
	// e.g. to share it between jobs.
	CacheDir string `yaml:"cache_dir" json:"cache_dir,omitempty"`
}

// RolloutConfig configures sampling and rewards.
type RolloutConfig struct {
	// Samples is G. Default 8.
	Samples int `yaml:"samples" json:"samples"`
	// Seed is the base seed of rollouts. Default 1.
	Seed int64 `yaml:"seed" json:"seed"`
	// Temperature of sampling. Default 1.
	Temperature *float64 `yaml:"temperature" json:"temperature"`
	// MaxTokens caps each completion. Default 2048.
	MaxTokens int `yaml:"max_tokens" json:"max_tokens"`
	// ItemReward is causal-swap (default), independent, noncausal-swap or
	// rank-level.
	ItemReward string `yaml:"item_reward" json:"item_reward"`
	// Cutoff is the NDCG cutoff of rewards; 0 is the whole list.
	Cutoff int `yaml:"cutoff" json:"cutoff"`
	// Repair is prompt-order (default) or score.
	Repair string `yaml:"repair" json:"repair"`
	// The method's other switches (docs/rewards.md has the table; each is
	// rl.Config's field of the same name, parsed by rl's Parse function):
	// advantage level, item reward normalisation, uncertainty kind and
	// scaling with its eps and clamp, per-item scaling, the std's delta,
	// what tokens outside item spans get, the format penalty, and how a
	// repaired tail enters the rewards. DefaultJob sets rl's defaults.
	Level         string  `yaml:"level" json:"level"`
	Normalize     string  `yaml:"normalize" json:"normalize"`
	Uncertainty   string  `yaml:"uncertainty" json:"uncertainty"`
	Scaling       string  `yaml:"scaling" json:"scaling"`
	Eps           float64 `yaml:"eps" json:"eps"`
	ClampMin      float64 `yaml:"clamp_min" json:"clamp_min"`
	ClampMax      float64 `yaml:"clamp_max" json:"clamp_max"`
	PerItem       bool    `yaml:"per_item" json:"per_item"`
	Delta         float64 `yaml:"delta" json:"delta"`
	OtherTokens   string  `yaml:"other_tokens" json:"other_tokens"`
	FormatPenalty float64 `yaml:"format_penalty" json:"format_penalty"`
	RepairedTail  string  `yaml:"repaired_tail" json:"repaired_tail"`
	// Episodes caps the episodes started but not yet written (the reorder
	// buffer that keeps rollouts.jsonl in episode order); 0 sizes it from
	// backend.concurrency. Requests in flight are bounded by
	// backend.concurrency alone.
	Episodes int `yaml:"concurrency" json:"concurrency"`
}

// EvalConfig configures the evaluation report.
type EvalConfig struct {
	// Rankers are the baselines next to the policy ("policy", the backend
	// at temperature 0, in the report row llm:<model>). Default random,
	// popularity, mf, policy.
	Rankers []string `yaml:"rankers" json:"rankers"`
	// HoldOut is the fraction of users (seeded by episodes.seed) whose
	// episodes are kept out of the rollouts, the critic and the exports and
	// make up the report, so that a model trained on the exports is scored
	// on users it never saw, in [0, 1). Default 0.2; 0 reports on the
	// training episodes themselves.
	HoldOut float64 `yaml:"holdout" json:"holdout"`
	// Resamples is the bootstrap resamples. Default 1000.
	Resamples int `yaml:"resamples" json:"resamples"`
	// Skip turns the evaluation off.
	Skip bool `yaml:"skip" json:"skip"`
	// LLMs are more LLM rankers for the report, beside the policy; each
	// is scored at temperature 0 in the row llm:<model>. Default none.
	LLMs []ReportLLM `yaml:"llms" json:"llms,omitempty"`
}

// ReportLLM is one LLM ranker of eval.llms, configured with the keys of
// backend (kind, model, base_url, api_key_file, prices, limits, cache);
// keys left out take DefaultJob's backend values, not the job's.
type ReportLLM BackendConfig

// DefaultJob returns the embedded default: ml-latest-small, interest, the
// builtin policy, G = 8, native and trl-preference exports.
func DefaultJob() Job {
	one := 1.0
	d := rl.DefaultConfig()
	job := Job{
		Dataset:  "ml-latest-small",
		Needs:    []string{"interest"},
		Episodes: EpisodesConfig{Candidates: 30, History: 50, Split: "leave-last-out", Seed: 1},
		Backend:  BackendConfig{Kind: "builtin", TimeoutSeconds: 300, Retries: 4, Concurrency: 8},
		Rollout:  RolloutConfig{Samples: 8, Seed: 1, Temperature: &one, MaxTokens: 2048, ItemReward: "causal-swap", Repair: "prompt-order"},
		Critic:   "ensemble",
		Exports:  []string{"native", "trl-preference"},
		Eval:     EvalConfig{Rankers: []string{"random", "popularity", "mf", "policy"}, HoldOut: 0.2, Resamples: 1000},
	}
	r := &job.Rollout
	r.Level, r.Normalize, r.Uncertainty, r.Scaling = d.Level, d.Normalize, string(d.Uncertainty), string(d.Scaling)
	r.Eps, r.ClampMin, r.ClampMax, r.PerItem, r.Delta = d.Eps, d.ClampMin, d.ClampMax, d.PerItem, d.Delta
	r.OtherTokens, r.FormatPenalty, r.RepairedTail = d.OtherTokens, d.FormatPenalty, string(d.RepairedTail)
	return job
}

// LoadJob reads a YAML job file over DefaultJob: keys present in the file
// replace the defaults. An unknown key or an invalid value is a
// *ConfigError naming the file, the line or key, and for a typo the
// nearest valid key.
func LoadJob(path string) (Job, error) {
	job := DefaultJob()
	data, err := os.ReadFile(path)
	if err != nil {
		return job, fmt.Errorf("pipeline: load job: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&job); err != nil {
		return job, explainYAML(path, err)
	}
	if err := job.Validate(); err != nil {
		return job, &ConfigError{Msg: fmt.Sprintf("%s: %v", path, err)}
	}
	return job, nil
}

// Validate reports the first invalid field, naming it as the YAML does.
func (j *Job) Validate() error {
	switch {
	case j.Dataset == "":
		return fmt.Errorf("dataset: missing")
	case len(j.Needs) == 0:
		return fmt.Errorf("needs: missing")
	case !slices.Contains([]string{"builtin", "ollama", "openai"}, j.Backend.Kind):
		return fmt.Errorf("backend.kind: %q, want builtin, ollama or openai", j.Backend.Kind)
	case j.Backend.Kind != "builtin" && j.Backend.Model == "":
		return fmt.Errorf("backend.model: required for backend %s", j.Backend.Kind)
	case j.Backend.Retries < 0:
		return fmt.Errorf("backend.retries: %d, want >= 0", j.Backend.Retries)
	case j.Backend.Concurrency < 1:
		return fmt.Errorf("backend.concurrency: %d, want >= 1", j.Backend.Concurrency)
	case j.Episodes.Sparse < 0 || j.Episodes.Sparse >= 1:
		return fmt.Errorf("episodes.sparse: %v, want 0 (dense) or in (0, 1)", j.Episodes.Sparse)
	case j.Rollout.Samples < 1:
		return fmt.Errorf("rollout.samples: %d, want >= 1", j.Rollout.Samples)
	case j.Rollout.Episodes < 0:
		return fmt.Errorf("rollout.concurrency: %d, want >= 0 (0: automatic)", j.Rollout.Episodes)
	case j.Rollout.Temperature != nil && *j.Rollout.Temperature < 0:
		return fmt.Errorf("rollout.temperature: %v, want >= 0", *j.Rollout.Temperature)
	case j.Eval.HoldOut < 0 || j.Eval.HoldOut >= 1:
		return fmt.Errorf("eval.holdout: %v, want in [0, 1)", j.Eval.HoldOut)
	case slices.ContainsFunc(j.Eval.LLMs, func(l ReportLLM) bool { return !slices.Contains([]string{"builtin", "ollama", "openai"}, l.Kind) }):
		return fmt.Errorf("eval.llms: a kind is missing or not builtin, ollama or openai")
	case slices.ContainsFunc(j.Eval.LLMs, func(l ReportLLM) bool { return l.Kind != "builtin" && l.Model == "" }):
		return fmt.Errorf("eval.llms: model is required for ollama and openai")
	case !slices.Contains([]string{"ensemble", "user-knn", "item-knn"}, j.Critic):
		return fmt.Errorf("critic: %q, want ensemble, user-knn or item-knn", j.Critic)
	}
	for _, f := range j.Exports {
		if strings.TrimSpace(f) == "" {
			return fmt.Errorf("exports: empty format name")
		}
	}
	c := rl.DefaultConfig()
	return rlSwitches(&c, j.Rollout)
}
