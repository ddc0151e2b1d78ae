package llm

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/ollama/ollama/envconfig"
)

// DefaultOllamaHost is Ollama's address when neither the config nor
// OLLAMA_HOST names one.
const DefaultOllamaHost = "http://127.0.0.1:11434"

// MinOllamaLogprobsVersion is the first Ollama release that returns token
// logprobs from /api/chat.
const MinOllamaLogprobsVersion = "0.12.11"

// OllamaConfig configures the native Ollama backend.
type OllamaConfig struct {
	// Host is the server's base URL, as in OLLAMA_HOST: "host:port",
	// "http://host:port" or "https://host". Default DefaultOllamaHost.
	Host string
	// HTTPClient sends the requests; nil means DefaultHTTPClient().
	HTTPClient HTTPDoer
	// NumCtx sets options.num_ctx, the context window in tokens; 0 leaves
	// the model's default.
	NumCtx int
	// KeepAlive sets how long the server keeps the model loaded after a
	// request; 0 leaves the server's default, negative keeps it loaded.
	KeepAlive time.Duration
	// Logger receives debug records; nil discards them.
	Logger *slog.Logger
}

// DefaultOllamaConfig returns a config for a local Ollama on its default
// port.
func DefaultOllamaConfig() OllamaConfig {
	return OllamaConfig{Host: DefaultOllamaHost}
}

// OllamaConfigFromEnvironment returns DefaultOllamaConfig with Host read
// from OLLAMA_HOST the way Ollama's own client reads it.
func OllamaConfigFromEnvironment() OllamaConfig {
	c := DefaultOllamaConfig()
	if strings.TrimSpace(envconfig.Var("OLLAMA_HOST")) != "" {
		c.Host = envconfig.Host().String()
	}
	return c
}

// Validate reports a config the backend cannot use.
func (c OllamaConfig) Validate() error {
	if _, err := ollamaBase(c.Host); err != nil {
		return err
	}
	if c.NumCtx < 0 {
		return fmt.Errorf("llm: ollama num_ctx %d is negative", c.NumCtx)
	}
	return nil
}

// ollamaBase normalizes a host as OLLAMA_HOST allows it: a missing scheme
// means http, a missing port 11434.
func ollamaBase(host string) (string, error) {
	h := strings.TrimSpace(host)
	if h == "" {
		return "", fmt.Errorf("llm: ollama host is empty")
	}
	if !strings.Contains(h, "://") {
		h = "http://" + h
	}
	scheme, rest, _ := strings.Cut(h, "://")
	if scheme != "http" && scheme != "https" {
		return "", fmt.Errorf("llm: ollama host %q: want http or https", host)
	}
	hostport, path, _ := strings.Cut(strings.TrimRight(rest, "/"), "/")
	if hostport == "" {
		return "", fmt.Errorf("llm: ollama host %q has no address", host)
	}
	if !strings.Contains(strings.TrimPrefix(hostport, "["), ":") || strings.HasSuffix(hostport, "]") {
		if scheme == "http" {
			hostport += ":11434"
		}
	}
	if path != "" {
		hostport += "/" + path
	}
	return scheme + "://" + hostport, nil
}

// Ollama samples from Ollama's native /api/chat: no streaming, thinking
// off unless the request asks for it, temperature and seed always sent
// when set (0 included), n samples as n requests with seeds Seed+i. A
// server older than MinOllamaLogprobsVersion is detected through
// /api/version before the first request that asks for logprobs. It is safe
// for concurrent use.
type Ollama struct {
	cfg  OllamaConfig
	base string
	doer HTTPDoer
	log  *slog.Logger

	mu      sync.Mutex
	version string // "" until known
}

// NewOllama returns an Ollama backend for cfg.
func NewOllama(cfg OllamaConfig) (*Ollama, error) {
	if cfg.Host == "" {
		cfg.Host = DefaultOllamaHost
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	base, err := ollamaBase(cfg.Host)
	if err != nil {
		return nil, err
	}
	var doer HTTPDoer = DefaultHTTPClient()
	if cfg.HTTPClient != nil {
		doer = cfg.HTTPClient
	}
	return &Ollama{cfg: cfg, base: base, doer: doer, log: loggerOr(cfg.Logger)}, nil
}

// String names the backend and its base URL.
func (o *Ollama) String() string { return "ollama " + safeURL(o.base) }

// Sample draws req.N samples. Errors: *StatusError (unwrapping to
// ErrUnknownModel for a model the server lacks), *AnswerError (an HTTP 200
// with an error, not done, or not JSON), ErrNoLogprobs (also for a server
// too old to give them), or a network error wrapped with the backend's
// name.
func (o *Ollama) Sample(ctx context.Context, req *Request) (*Response, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if req.Logprobs {
		ok, err := o.hasLogprobs(ctx)
		switch {
		case err != nil:
			return nil, err
		case !ok && !req.AllowMissingLogprobs:
			return nil, fmt.Errorf("%w: %s runs Ollama %s; logprobs need %s or later",
				ErrNoLogprobs, o, o.knownVersion(), MinOllamaLogprobsVersion)
		case !ok:
			r := *req
			r.Logprobs, r.TopLogprobs = false, 0
			req = &r
		}
	}
	if req.Samples() == 1 {
		return o.once(ctx, req)
	}
	return fanOut(ctx, req, 0, o.once)
}

// hasLogprobs reports whether the server's version returns logprobs.
// Development builds (version 0.0.0) and unparsable versions count as new.
func (o *Ollama) hasLogprobs(ctx context.Context) (bool, error) {
	v, err := o.Version(ctx)
	if err != nil {
		return false, err
	}
	got, ok := parseVersion(v)
	if !ok || got == [3]int{} {
		return true, nil
	}
	least, _ := parseVersion(MinOllamaLogprobsVersion)
	return slices.Compare(got[:], least[:]) >= 0, nil
}

func (o *Ollama) knownVersion() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.version
}

// Version returns the server's version from /api/version, asking once.
func (o *Ollama) Version(ctx context.Context) (string, error) {
	if v := o.knownVersion(); v != "" {
		return v, nil
	}
	var out struct {
		Version string `json:"version"`
	}
	if err := o.get(ctx, "/api/version", &out); err != nil {
		return "", fmt.Errorf("llm: %s: version: %w", o, err)
	}
	o.mu.Lock()
	o.version = out.Version
	o.mu.Unlock()
	return out.Version, nil
}

// parseVersion reads "major.minor.patch" with an optional "v" prefix and
// suffix after "-" or "+".
func parseVersion(v string) ([3]int, bool) {
	v = strings.TrimPrefix(strings.TrimSpace(v), "v")
	v, _, _ = strings.Cut(v, "-")
	v, _, _ = strings.Cut(v, "+")
	parts := strings.Split(v, ".")
	var out [3]int
	if len(parts) != 3 {
		return out, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return out, false
		}
		out[i] = n
	}
	return out, true
}

// Models lists the models the server has (/api/tags), sorted.
func (o *Ollama) Models(ctx context.Context) ([]string, error) {
	var out api.ListResponse
	if err := o.get(ctx, "/api/tags", &out); err != nil {
		return nil, fmt.Errorf("llm: %s: list models: %w", o, err)
	}
	names := make([]string, 0, len(out.Models))
	for _, m := range out.Models {
		names = append(names, m.Name)
	}
	slices.Sort(names)
	return names, nil
}

func (o *Ollama) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	err = doJSON(o.doer, req, out, o.statusError(""))
	if ae, ok := err.(*AnswerError); ok {
		ae.Backend = o.String()
	}
	return err
}

// once sends one /api/chat request for sample req.Seed.
func (o *Ollama) once(ctx context.Context, req *Request) (*Response, error) {
	body, err := o.build(req)
	if err != nil {
		return nil, err
	}
	var out ollamaAnswer
	start := time.Now()
	err = postJSON(ctx, o.doer, o.base+"/api/chat", body, &out, o.statusError(req.Model))
	if err != nil {
		return nil, o.wrap(ctx, req.Model, err)
	}
	if ae := o.unusable(req.Model, &out); ae != nil {
		return nil, ae
	}
	return o.convert(req, &out.ChatResponse, time.Since(start))
}

// ollamaAnswer is /api/chat's answer with the "error" member a server or
// proxy may send with HTTP 200.
type ollamaAnswer struct {
	api.ChatResponse
	Error json.RawMessage `json:"error,omitempty"`
}

// unusable returns the *AnswerError of a success answer carrying an error
// or not marked done (an empty or partial answer); nil for a usable one.
func (o *Ollama) unusable(model string, a *ollamaAnswer) *AnswerError {
	ae := &AnswerError{Backend: o.String(), Model: model, Code: http.StatusOK}
	if msg, ok := errorText(a.Error); ok {
		ae.Problem, ae.Message = "error object in the answer", truncate(msg, 500)
		return ae
	}
	if !a.Done {
		ae.Problem = "answer is not done (empty or cut short)"
		return ae
	}
	return nil
}

// build translates a request into Ollama's wire type: the one place.
func (o *Ollama) build(req *Request) (*api.ChatRequest, error) {
	stream := false
	body := &api.ChatRequest{
		Model:       req.Model,
		Messages:    make([]api.Message, len(req.Messages)),
		Stream:      &stream,
		Options:     o.options(req),
		Think:       &api.ThinkValue{Value: req.Think != nil && *req.Think},
		Logprobs:    req.Logprobs,
		TopLogprobs: req.TopLogprobs,
	}
	for i, m := range req.Messages {
		body.Messages[i] = api.Message{Role: m.Role, Content: m.Content}
	}
	if o.cfg.KeepAlive != 0 {
		body.KeepAlive = &api.Duration{Duration: o.cfg.KeepAlive}
	}
	if req.JSONSchema != nil {
		raw, err := json.Marshal(req.JSONSchema)
		if err != nil {
			return nil, fmt.Errorf("llm: %s: encode JSON schema: %w", o, err)
		}
		body.Format = raw
	}
	return body, nil
}

// options holds the sampling parameters; unlike api.Options it sends a
// temperature or seed of 0.
func (o *Ollama) options(req *Request) map[string]any {
	opts := make(map[string]any, 6)
	if req.Temperature != nil {
		opts["temperature"] = *req.Temperature
	}
	if req.TopP != nil {
		opts["top_p"] = *req.TopP
	}
	if req.Seed != nil {
		opts["seed"] = *req.Seed
	}
	if req.MaxTokens > 0 {
		opts["num_predict"] = req.MaxTokens
	}
	if len(req.Stop) > 0 {
		opts["stop"] = req.Stop
	}
	if o.cfg.NumCtx > 0 {
		opts["num_ctx"] = o.cfg.NumCtx
	}
	return opts
}

func (o *Ollama) convert(req *Request, r *api.ChatResponse, latency time.Duration) (*Response, error) {
	s := Sample{Text: r.Message.Content, FinishReason: r.DoneReason, Latency: latency, Seed: req.Seed,
		Usage: Usage{PromptTokens: r.PromptEvalCount, CompletionTokens: r.EvalCount}}
	if req.Logprobs && len(r.Logprobs) > 0 {
		toks, err := ollamaTokens(r.Logprobs)
		if err != nil {
			return nil, fmt.Errorf("llm: %s: %w", o, err)
		}
		s.Tokens = toks
	}
	if err := checkLogprobs(req, o.String(), 0, &s); err != nil {
		return nil, err
	}
	out := &Response{Model: r.Model, Samples: []Sample{s}, Usage: s.Usage}
	if v := o.knownVersion(); v != "" {
		out.Fingerprint = "ollama " + v
	}
	return out, nil
}

func ollamaTokens(lps []api.Logprob) ([]Token, error) {
	toks := make([]Token, len(lps))
	for i, lp := range lps {
		b, err := intBytes(lp.Bytes)
		if err != nil {
			return nil, fmt.Errorf("token %d: %w", i, err)
		}
		toks[i] = Token{Text: lp.Token, Bytes: b, Logprob: lp.Logprob}
		if len(lp.TopLogprobs) == 0 {
			continue
		}
		toks[i].Top = make([]Alternative, len(lp.TopLogprobs))
		for j, a := range lp.TopLogprobs {
			ab, err := intBytes(a.Bytes)
			if err != nil {
				return nil, fmt.Errorf("token %d alternative %d: %w", i, j, err)
			}
			toks[i].Top[j] = Alternative{Text: a.Token, Bytes: ab, Logprob: a.Logprob}
		}
	}
	return toks, nil
}

// intBytes converts Ollama's byte list (JSON numbers) to bytes.
func intBytes(ints []int) ([]byte, error) {
	if len(ints) == 0 {
		return nil, nil
	}
	b := make([]byte, len(ints))
	for i, v := range ints {
		if v < 0 || v > 255 {
			return nil, fmt.Errorf("byte value %d outside 0..255", v)
		}
		b[i] = byte(v)
	}
	return b, nil
}

// statusError builds the *StatusError of an error answer to a request for
// model: the message from {"error": ...} when the body has one.
func (o *Ollama) statusError(model string) func(*http.Response, []byte) error {
	return func(resp *http.Response, body []byte) error {
		var e struct {
			Error string `json:"error"`
		}
		msg := string(body)
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		se := &StatusError{Backend: o.String(), Model: model, Code: resp.StatusCode,
			Message: truncate(msg, 500), RetryAfter: parseRetryAfter(resp.Header, time.Now())}
		if se.Code == http.StatusUnauthorized || se.Code == http.StatusForbidden {
			se.Hint = "the server asks for credentials (a local Ollama needs none: check the host and any proxy)"
		}
		return se
	}
}

// wrap confirms a 404 as an unknown model (listing /api/tags), names the
// backend and model in an *AnswerError, and names the backend on network
// errors.
func (o *Ollama) wrap(ctx context.Context, model string, err error) error {
	if ae, ok := err.(*AnswerError); ok {
		ae.Backend, ae.Model = o.String(), model
		return ae
	}
	se, ok := err.(*StatusError)
	if !ok {
		return fmt.Errorf("llm: %s: %w", o, scrubURL(err))
	}
	if se.Code != http.StatusNotFound {
		return se
	}
	models, lerr := o.Models(ctx)
	if lerr != nil {
		o.log.Debug("llm: cannot list models after 404", "backend", o.String(), "err", lerr)
		return se
	}
	if !slices.ContainsFunc(models, func(m string) bool { return sameOllamaModel(m, se.Model) }) {
		se.Models = models
	}
	return se
}

// sameOllamaModel compares names with ":latest" implied.
func sameOllamaModel(a, b string) bool {
	tag := func(s string) string {
		if strings.Contains(s, ":") {
			return s
		}
		return s + ":latest"
	}
	return tag(a) == tag(b)
}
