package main

import (
	"context"
	"log/slog"

	"github.com/spf13/pflag"

	"github.com/flexrec/flexrec/eval/dataset"
	"github.com/flexrec/flexrec/pipeline"
)

// backendFlags are the flags that pick and configure a backend, shared by
// the commands that sample (rollout; run has its own over the job file).
type backendFlags struct {
	cfg   pipeline.BackendConfig
	cache string
}

func (b *backendFlags) addFlags(f *pflag.FlagSet) {
	d := pipeline.DefaultJob().Backend
	f.StringVar(&b.cfg.Kind, "backend", d.Kind, "builtin (Plackett-Luce over MF, no LLM), ollama, or openai (any OpenAI-compatible server)")
	f.StringVar(&b.cfg.Model, "model", "", "model name on the backend (required for ollama and openai)")
	f.StringVar(&b.cfg.BaseURL, "base-url", "", "server URL (default $OPENAI_BASE_URL, or $OLLAMA_HOST for ollama)")
	f.StringVar(&b.cfg.APIKeyFile, "api-key-file", "", "file holding the API key (default $OPENAI_API_KEY); never logged or stored")
	f.IntVar(&b.cfg.Concurrency, "concurrency", d.Concurrency, "most requests in flight")
	f.Float64Var(&b.cfg.TimeoutSeconds, "timeout", d.TimeoutSeconds, "per-request timeout in seconds")
	f.IntVar(&b.cfg.Retries, "retries", d.Retries, "retries of a transient failure (refused, closed, 408, 425, 429, 5xx, error in a 200)")
	f.Float64Var(&b.cfg.RequestsPerSecond, "rps", 0, "requests per second limit (0: none)")
	f.Float64Var(&b.cfg.TokensPerMinute, "tpm", 0, "tokens per minute limit (0: none)")
	f.Float64Var(&b.cfg.PriceInput, "price-in", 0, "price per million prompt tokens, for the cost summary")
	f.Float64Var(&b.cfg.PriceOutput, "price-out", 0, "price per million completion tokens")
	f.StringVar(&b.cache, "cache", "", "response cache folder (a rerun costs nothing); empty: no cache")
}

// verify checks the flag values.
func (b *backendFlags) verify() error {
	switch b.cfg.Kind {
	case "builtin":
	case "ollama", "openai":
		if b.cfg.Model == "" {
			return usagef("--backend %s needs --model", b.cfg.Kind)
		}
	default:
		return usagef("--backend %q: want builtin, ollama or openai", b.cfg.Kind)
	}
	if b.cfg.Concurrency < 1 {
		return usagef("--concurrency %d: want >= 1", b.cfg.Concurrency)
	}
	return nil
}

// open opens the backend; the builtin policy trains on train.
func (b *backendFlags) open(ctx context.Context, train []dataset.Interaction, log *slog.Logger) (*pipeline.Opened, error) {
	return pipeline.OpenBackend(ctx, b.cfg, train, b.cache, log)
}
