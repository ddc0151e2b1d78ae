package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/flexrec/flexrec/eval/dataset"
	"github.com/flexrec/flexrec/pipeline"
)

// backendFlagNames are the flags of the one backend flag set: every
// command that samples (run, rollout, eval, rank, batch prepare) defines
// them through addBackendFlags, with the same names, defaults and meaning.
var backendFlagNames = []string{"backend", "model", "base-url", "api-key-file", "concurrency", "retries", "timeout",
	"rps", "tpm", "price-in", "price-out", "num-ctx", "structured-outputs", "token-ids", "cache"}

// addBackendFlags defines the backend flag set on f, bound to bc's fields
// (run binds them to its job's backend section, the other commands to a
// backendFlags). cacheDefault is what --cache means when it is not given:
// run keeps a cache under its output folder, the others none.
func addBackendFlags(f *pflag.FlagSet, bc *pipeline.BackendConfig, cacheDefault string) {
	f.StringVar(&bc.Kind, "backend", bc.Kind, "builtin (a Plackett-Luce policy over MF, no LLM), ollama, or openai (any OpenAI-compatible server)")
	f.StringVar(&bc.Model, "model", bc.Model, "model name on the backend (required for ollama and openai)")
	f.StringVar(&bc.BaseURL, "base-url", bc.BaseURL, "server URL (default $OPENAI_BASE_URL, or $OLLAMA_HOST for ollama); credentials in it are never written")
	f.StringVar(&bc.APIKeyFile, "api-key-file", bc.APIKeyFile, "file holding the API key (default $OPENAI_API_KEY); never logged or stored")
	f.IntVar(&bc.Concurrency, "concurrency", bc.Concurrency, "most requests in flight, across episodes")
	f.IntVar(&bc.Retries, "retries", bc.Retries, "retries of a transient failure (refused, closed, 408, 425, 429, 5xx, an error in a 200)")
	f.Float64Var(&bc.TimeoutSeconds, "timeout", bc.TimeoutSeconds, "per-request timeout in seconds, each attempt")
	f.Float64Var(&bc.RequestsPerSecond, "rps", bc.RequestsPerSecond, "requests per second limit (0: none)")
	f.Float64Var(&bc.TokensPerMinute, "tpm", bc.TokensPerMinute, "tokens per minute limit (0: none)")
	f.Float64Var(&bc.PriceInput, "price-in", bc.PriceInput, "price per million prompt tokens, for the cost summary")
	f.Float64Var(&bc.PriceOutput, "price-out", bc.PriceOutput, "price per million completion tokens")
	f.IntVar(&bc.NumCtx, "num-ctx", bc.NumCtx, "ollama: context window in tokens (0: the model's default)")
	f.StringVar(&bc.StructuredOutputs, "structured-outputs", bc.StructuredOutputs, "openai: how --schema is sent: response_format (default), structured_outputs (vLLM) or guided_json")
	f.BoolVar(&bc.TokenIDs, "token-ids", bc.TokenIDs, "openai: ask for each token's vocabulary id (vLLM: return_tokens_as_token_ids); records and native exports carry them")
	f.Var(&cacheFlag{bc: bc}, "cache", "response cache: a folder, true (the default folder), or false; a rerun of the same requests costs nothing (default "+cacheDefault+")")
}

// cacheFlag sets a BackendConfig's cache: "true"/"false" turn it on in the
// command's default folder or off, anything else names the folder.
type cacheFlag struct{ bc *pipeline.BackendConfig }

func (c *cacheFlag) String() string {
	switch {
	case c.bc == nil:
		return ""
	case c.bc.CacheDir != "":
		return c.bc.CacheDir
	case c.bc.Cache != nil:
		return strconv.FormatBool(*c.bc.Cache)
	}
	return ""
}

func (c *cacheFlag) Set(s string) error {
	on := true
	if b, err := strconv.ParseBool(s); err == nil {
		on = b
		c.bc.CacheDir = ""
	} else {
		c.bc.CacheDir = s
	}
	c.bc.Cache = &on
	return nil
}

func (*cacheFlag) Type() string { return "folder|bool" }

// backendFlags are the backend flag set of the commands that sample one
// file (rollout, eval, rank): no cache unless --cache is given.
type backendFlags struct {
	cfg pipeline.BackendConfig
}

func (b *backendFlags) addFlags(f *pflag.FlagSet) {
	b.cfg = pipeline.DefaultJob().Backend
	addBackendFlags(f, &b.cfg, "none")
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
	if b.cfg.Retries < 0 || b.cfg.TimeoutSeconds < 0 {
		return usagef("--retries and --timeout must not be negative")
	}
	return nil
}

// cacheDir is the response cache folder: the one given, the default one
// for --cache alone, or "" for none.
func (b *backendFlags) cacheDir() string {
	switch {
	case b.cfg.CacheDir != "":
		return b.cfg.CacheDir
	case b.cfg.Cache != nil && *b.cfg.Cache:
		return defaultCacheDir()
	}
	return ""
}

// defaultCacheDir is $XDG_CACHE_HOME/flexrec/responses (or the OS's
// user cache folder).
func defaultCacheDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "flexrec", "responses")
}

// open opens the backend; the builtin policy trains on train.
func (b *backendFlags) open(ctx context.Context, train []dataset.Interaction, log *slog.Logger) (*pipeline.Opened, error) {
	return pipeline.OpenBackend(ctx, b.cfg, train, b.cacheDir(), log)
}
