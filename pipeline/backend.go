package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/flexrec/flexrec/eval"
	"github.com/flexrec/flexrec/eval/dataset"
	"github.com/flexrec/flexrec/internal/atomicfile"
	"github.com/flexrec/flexrec/llm"
	"github.com/flexrec/flexrec/mf"
)

// openBackend opens the job's backend, caching LLM responses under
// dir/cache unless the job turns the cache off.
func openBackend(ctx context.Context, job Job, dir string, st *state, log *slog.Logger) (*Opened, error) {
	cache := ""
	switch {
	case job.Backend.Cache != nil && !*job.Backend.Cache:
	case job.Backend.CacheDir != "":
		cache = job.Backend.CacheDir
	default:
		cache = filepath.Join(dir, "cache")
	}
	return OpenBackend(ctx, job.Backend, st.suite.Train, cache, log)
}

// BuiltinModel names the builtin policy when the job names no model.
const BuiltinModel = "builtin-pl"

// Opened is an open backend: the policy that writes rankings, wrapped in
// llm's decorator stack (retries, limits, metering, cache) for LLM servers.
type Opened struct {
	llm.Backend
	// Stack is nil for the builtin policy (nothing to retry, limit or price).
	Stack *llm.Stack
	// Kind and Model name the backend in records and reports.
	Kind, Model string
	// MF is the builtin policy's BPR model, trained on the interactions
	// OpenBackend got with the mf ranker's default config; the report's mf
	// ranker reuses it instead of training it again. Nil for LLM servers.
	MF *mf.Model
	// server is the LLM server under the stack, for Probe; nil for the
	// builtin policy.
	server llm.Backend
	log    *slog.Logger
}

// OpenBackend opens bc. The builtin policy is Plackett–Luce over a BPR
// model trained on train (training interactions only, never held-out
// feedback); LLM servers get the decorator stack, with the response cache
// in cacheDir when it is not empty.
func OpenBackend(ctx context.Context, bc BackendConfig, train []dataset.Interaction, cacheDir string, log *slog.Logger) (*Opened, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if bc.Kind == "builtin" {
		model, err := trainPolicyModel(ctx, train)
		if err != nil {
			return nil, err
		}
		b, err := llm.NewBuiltin(llm.DefaultBuiltinConfig(model.Score))
		if err != nil {
			return nil, err
		}
		name := bc.Model
		if name == "" {
			name = BuiltinModel
		}
		return &Opened{Backend: b, Kind: "builtin", Model: name, MF: model}, nil
	}
	stackCfg := llm.DefaultStackConfig()
	stackCfg.Logger = log
	if bc.TimeoutSeconds > 0 {
		stackCfg.Retry.AttemptTimeout = time.Duration(bc.TimeoutSeconds * float64(time.Second))
	}
	if bc.Retries > 0 {
		stackCfg.Retry.MaxAttempts = bc.Retries + 1
	}
	stackCfg.Limit = llm.LimitConfig{MaxConcurrent: bc.Concurrency, RequestsPerSecond: bc.RequestsPerSecond, TokensPerMinute: bc.TokensPerMinute}
	stackCfg.Prices = llm.Prices{InputPerMillion: bc.PriceInput, OutputPerMillion: bc.PriceOutput}
	stackCfg.CacheDir = cacheDir
	b, err := OpenServer(bc, log)
	if err != nil {
		return nil, err
	}
	stack, err := llm.NewStack(b, stackCfg)
	if err != nil {
		return nil, err
	}
	return &Opened{Backend: stack, Stack: stack, Kind: bc.Kind, Model: bc.Model, server: b, log: log}, nil
}

// OpenServer opens an LLM server backend (ollama or openai) from bc,
// honouring OLLAMA_HOST, OPENAI_BASE_URL and OPENAI_API_KEY, and a key file.
// The key is read here and kept only in the backend's config.
func OpenServer(bc BackendConfig, log *slog.Logger) (llm.Backend, error) {
	switch bc.Kind {
	case "ollama":
		cfg := llm.OllamaConfigFromEnvironment()
		if bc.BaseURL != "" {
			cfg.Host = bc.BaseURL
		}
		cfg.NumCtx, cfg.Logger = bc.NumCtx, log
		return llm.NewOllama(cfg)
	case "openai":
		cfg := llm.OpenAIConfigFromEnvironment()
		if bc.BaseURL != "" {
			cfg.BaseURL = bc.BaseURL
		}
		if bc.APIKeyFile != "" {
			key, err := llm.LoadAPIKey(bc.APIKeyFile)
			if err != nil {
				return nil, err
			}
			cfg.APIKey = key
		}
		if bc.StructuredOutputs != "" {
			cfg.StructuredOutputs = bc.StructuredOutputs
		}
		if bc.TokenIDs {
			cfg.ExtraBody = map[string]any{"return_tokens_as_token_ids": true}
		}
		cfg.Logger = log
		return llm.NewOpenAI(cfg)
	}
	return nil, fmt.Errorf("pipeline: backend %q: want builtin, ollama or openai", bc.Kind)
}

// Probe checks that the backend's server answers, before the job claims
// its folder: a wrong address or a server that is down fails here, not
// after the folder was taken. A server that lists its models and lacks the
// job's model is only warned about (some proxies list other names). The
// builtin policy has nothing to probe.
func (o *Opened) Probe(ctx context.Context) error {
	lister, ok := o.server.(interface {
		Models(context.Context) ([]string, error)
	})
	if !ok {
		return nil
	}
	var models []string
	var err error
	for attempt := range 3 {
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		models, err = lister.Models(pctx)
		cancel()
		if err == nil || !llm.IsRetryable(err) || ctx.Err() != nil {
			break
		}
		select {
		case <-time.After(time.Duration(attempt+1) * time.Second):
		case <-ctx.Done():
		}
	}
	var se *llm.StatusError
	switch {
	case errors.As(err, &se) && (se.Code == 404 || se.Code == 405 || se.Code == 501):
		return nil // the server has no model list; sampling will tell
	case err != nil:
		return fmt.Errorf("pipeline: the %s backend does not answer (nothing was written): %w", o.Kind, err)
	}
	if len(models) > 0 && !slices.ContainsFunc(models, func(m string) bool {
		return m == o.Model || strings.TrimSuffix(m, ":latest") == o.Model
	}) {
		o.log.Warn("pipeline: the server does not list the model", "model", o.Model, "listed", len(models))
	}
	return nil
}

// trainPolicyModel fits the builtin policy's scores: BPR on the training
// interactions (never the held-out feedback), trained exactly as the
// report's mf ranker trains (eval.TrainMF with its default config), so the
// job trains it once and shares it (see Opened.MF).
func trainPolicyModel(ctx context.Context, train []dataset.Interaction) (*mf.Model, error) {
	model, err := eval.TrainMF(ctx, train, eval.DefaultRankerConfig().MF)
	if err != nil {
		return nil, fmt.Errorf("pipeline: train the builtin policy: %w", err)
	}
	return model, nil
}

// writeFile writes data to path atomically (see atomicfile).
func writeFile(path string, data []byte) error {
	return atomicfile.WriteFile(path, data, 0o644)
}
