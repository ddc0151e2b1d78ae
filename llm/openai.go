package llm

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// DefaultOpenAIBaseURL is OpenAI's API, the base URL when neither the
// config nor OPENAI_BASE_URL names one.
const DefaultOpenAIBaseURL = "https://api.openai.com/v1"

// Ways to send Request.JSONSchema (OpenAIConfig.StructuredOutputs).
const (
	// SchemaResponseFormat sends response_format {type: json_schema}
	// (OpenAI, Ollama, llama.cpp, vLLM).
	SchemaResponseFormat = "response_format"
	// SchemaStructuredOutputs sends vLLM's structured_outputs {json: ...}.
	SchemaStructuredOutputs = "structured_outputs"
	// SchemaGuidedJSON sends older vLLM's guided_json.
	SchemaGuidedJSON = "guided_json"
)

// Ways to send Request.Think (OpenAIConfig.Think).
const (
	// ThinkTemplateKwargs sends chat_template_kwargs {enable_thinking}
	// (vLLM, SGLang, llama.cpp with Qwen3-style templates).
	ThinkTemplateKwargs = "chat_template_kwargs"
	// ThinkReasoningEffort sends reasoning_effort "none" or "medium"
	// (Ollama's /v1, OpenAI reasoning models).
	ThinkReasoningEffort = "reasoning_effort"
	// ThinkOmit never sends Think.
	ThinkOmit = "omit"
)

// OpenAIConfig configures an OpenAI-compatible backend. Its String method
// never prints the key.
type OpenAIConfig struct {
	// BaseURL is the API root, ending in /v1 for most servers. Default
	// DefaultOpenAIBaseURL.
	BaseURL string
	// APIKey is sent as a bearer token; empty sends none (local servers).
	// It is a secret: never logged, cached or written anywhere.
	APIKey string
	// HTTPClient sends the requests; nil means DefaultHTTPClient().
	HTTPClient HTTPDoer
	// StructuredOutputs picks how Request.JSONSchema is sent: one of the
	// Schema... constants. Default SchemaResponseFormat.
	StructuredOutputs string
	// Think picks how Request.Think is sent: one of the Think...
	// constants. Default ThinkTemplateKwargs.
	Think string
	// ExtraBody holds extra top-level fields merged into every request
	// body, e.g. {"chat_template_kwargs": {...}} or {"top_k": 20}. Keys the
	// backend sets itself are rejected by Validate.
	ExtraBody map[string]any
	// Logger receives debug and warning records; nil discards them.
	Logger *slog.Logger
}

// DefaultOpenAIConfig returns a config for OpenAI's API without a key.
func DefaultOpenAIConfig() OpenAIConfig {
	return OpenAIConfig{
		BaseURL:           DefaultOpenAIBaseURL,
		StructuredOutputs: SchemaResponseFormat,
		Think:             ThinkTemplateKwargs,
	}
}

// OpenAIConfigFromEnvironment returns DefaultOpenAIConfig with BaseURL
// from OPENAI_BASE_URL and APIKey from OPENAI_API_KEY where they are set.
func OpenAIConfigFromEnvironment() OpenAIConfig {
	c := DefaultOpenAIConfig()
	if v := strings.TrimSpace(os.Getenv("OPENAI_BASE_URL")); v != "" {
		c.BaseURL = v
	}
	c.APIKey = strings.TrimSpace(os.Getenv("OPENAI_API_KEY"))
	return c
}

// LoadAPIKey reads an API key from a file (its whole content, trimmed).
// Errors name the file, never its content.
func LoadAPIKey(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("llm: read API key file: %w", err)
	}
	key := strings.TrimSpace(string(raw))
	if key == "" || strings.ContainsAny(key, "\r\n\t ") {
		return "", fmt.Errorf("llm: API key file %s: want one key on one line", path)
	}
	return key, nil
}

// String describes the config with the key replaced by a placeholder.
func (c OpenAIConfig) String() string {
	key := "<none>"
	if c.APIKey != "" {
		key = "<set>"
	}
	return fmt.Sprintf("OpenAIConfig{BaseURL: %s, APIKey: %s, StructuredOutputs: %s, Think: %s, ExtraBody keys: %d}",
		safeURL(c.BaseURL), key, c.StructuredOutputs, c.Think, len(c.ExtraBody))
}

// GoString is String, so %#v does not print the key either.
func (c OpenAIConfig) GoString() string { return c.String() }

// reservedKeys are the body fields the backend writes itself.
var reservedKeys = []string{"model", "messages", "n", "temperature", "top_p", "seed", "max_tokens",
	"max_completion_tokens", "stop", "logprobs", "top_logprobs", "stream"}

// Validate reports a config the backend cannot use.
func (c OpenAIConfig) Validate() error {
	if !strings.HasPrefix(c.BaseURL, "http://") && !strings.HasPrefix(c.BaseURL, "https://") {
		return fmt.Errorf("llm: openai base URL %q: want http:// or https://", safeURL(c.BaseURL))
	}
	if !slices.Contains([]string{SchemaResponseFormat, SchemaStructuredOutputs, SchemaGuidedJSON}, c.StructuredOutputs) {
		return fmt.Errorf("llm: structured outputs %q: want %s, %s or %s", c.StructuredOutputs,
			SchemaResponseFormat, SchemaStructuredOutputs, SchemaGuidedJSON)
	}
	if !slices.Contains([]string{ThinkTemplateKwargs, ThinkReasoningEffort, ThinkOmit}, c.Think) {
		return fmt.Errorf("llm: think %q: want %s, %s or %s", c.Think, ThinkTemplateKwargs, ThinkReasoningEffort, ThinkOmit)
	}
	for k := range c.ExtraBody {
		if slices.Contains(reservedKeys, k) {
			return fmt.Errorf("llm: extra body field %q is set by the backend", k)
		}
	}
	return nil
}

// OpenAI samples from an OpenAI-compatible /chat/completions endpoint
// through go-openai, adding in the HTTP layer the fields go-openai cannot
// send (temperature and top_p of 0, vendor extensions). A server that
// rejects or ignores n > 1 is sent n single requests with seeds
// Seed, Seed+1, ...; the backend remembers this for later requests. It is
// safe for concurrent use.
type OpenAI struct {
	cfg        OpenAIConfig
	name       string // "openai " and the base URL without credentials
	client     *openai.Client
	singleOnly atomic.Bool
	log        *slog.Logger
}

// NewOpenAI returns an OpenAI-compatible backend for cfg.
func NewOpenAI(cfg OpenAIConfig) (*OpenAI, error) {
	cfg.StructuredOutputs = cmp.Or(cfg.StructuredOutputs, SchemaResponseFormat)
	cfg.Think = cmp.Or(cfg.Think, ThinkTemplateKwargs)
	cfg.BaseURL = strings.TrimRight(cmp.Or(cfg.BaseURL, DefaultOpenAIBaseURL), "/")
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	oc := openai.DefaultConfig(cfg.APIKey)
	base, query := splitQuery(cfg.BaseURL)
	oc.BaseURL = strings.TrimRight(base, "/")
	var doer HTTPDoer = DefaultHTTPClient()
	if cfg.HTTPClient != nil {
		doer = cfg.HTTPClient
	}
	if query != nil {
		doer = queryDoer{next: doer, query: query}
	}
	oc.HTTPClient = patchingDoer{next: doer}
	return &OpenAI{cfg: cfg, name: "openai " + safeURL(cfg.BaseURL), client: openai.NewClientWithConfig(oc),
		log: loggerOr(cfg.Logger)}, nil
}

// String names the backend and its base URL, never the key. The response
// cache uses it to keep different servers apart.
func (o *OpenAI) String() string { return o.name }

// Sample draws req.N samples. Errors: *StatusError (unwrapping to ErrAuth
// or ErrUnknownModel where that is the cause), *AnswerError (an HTTP 200
// with an error object, no choices or a body that is not JSON),
// ErrNoLogprobs, or a network error wrapped with the backend's name.
func (o *OpenAI) Sample(ctx context.Context, req *Request) (*Response, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	n := req.Samples()
	if n == 1 || o.singleOnly.Load() {
		if n == 1 {
			return o.once(ctx, req)
		}
		return fanOut(ctx, req, 0, o.once)
	}
	resp, err := o.once(ctx, req)
	var se *StatusError
	if errors.As(err, &se) && se.Code == http.StatusBadRequest && nRejected.MatchString(se.Message) {
		o.learnSingle("rejected", se.Message)
		return fanOut(ctx, req, 0, o.once)
	}
	if err != nil || len(resp.Samples) >= n {
		return resp, err
	}
	o.learnSingle("ignored", fmt.Sprintf("%d of %d choices", len(resp.Samples), n))
	rest, err := fanOut(ctx, req, len(resp.Samples), o.once)
	if err != nil {
		return nil, err
	}
	resp.append(rest)
	return resp, nil
}

// nRejected matches a 400 message about the n parameter (llama.cpp: "Only
// one completion choice is allowed").
var nRejected = regexp.MustCompile(`(?i)(\bn\b|choice)`)

func (o *OpenAI) learnSingle(how, detail string) {
	if !o.singleOnly.Swap(true) {
		o.log.Warn("llm: server does not do n > 1; sending one request per sample with seed+i",
			"backend", o.String(), "n", how, "detail", detail)
	}
}

// once sends one request with n = req.Samples() and converts the answer.
func (o *OpenAI) once(ctx context.Context, req *Request) (*Response, error) {
	creq, patch, err := o.build(req)
	if err != nil {
		return nil, err
	}
	meta := &answerMeta{}
	start := time.Now()
	cresp, err := o.client.CreateChatCompletion(withAnswer(ctx, patch, meta), creq)
	if err != nil {
		return nil, o.mapError(ctx, req.Model, meta, err)
	}
	if len(cresp.Choices) == 0 {
		return nil, o.unusable(req.Model, meta, "answer has no choices")
	}
	return o.convert(req, &cresp, time.Since(start))
}

// unusable builds the *AnswerError of a 2xx answer without choices, or
// one whose body is not JSON: the server's error object where it sent
// one, else the start of the body.
func (o *OpenAI) unusable(model string, meta *answerMeta, problem string) *AnswerError {
	ae := &AnswerError{Backend: o.String(), Model: model, Code: meta.code, Problem: problem}
	if msg, ok := errorObject(meta.head); ok {
		ae.Problem, ae.Message = "error object in the answer", msg
	} else {
		ae.Message = string(meta.head)
	}
	ae.Message = truncate(redact(ae.Message, o.cfg.APIKey), 500)
	return ae
}

// build makes go-openai's request and the body patch for what it cannot
// express. The one place request fields are translated.
func (o *OpenAI) build(req *Request) (openai.ChatCompletionRequest, []byte, error) {
	creq := openai.ChatCompletionRequest{
		Model:       req.Model,
		Messages:    make([]openai.ChatCompletionMessage, len(req.Messages)),
		Stop:        req.Stop,
		LogProbs:    req.Logprobs,
		TopLogProbs: req.TopLogprobs,
	}
	if n := req.Samples(); n > 1 {
		creq.N = n
	}
	for i, m := range req.Messages {
		creq.Messages[i] = openai.ChatCompletionMessage{Role: m.Role, Content: m.Content}
	}
	if isReasoningModel(req.Model) {
		creq.MaxCompletionTokens = req.MaxTokens
	} else {
		// max_tokens, deprecated by OpenAI for max_completion_tokens, is
		// what every other OpenAI-compatible server (vLLM, llama.cpp,
		// Ollama, OpenRouter) reads.
		creq.MaxTokens = req.MaxTokens //nolint:staticcheck // see above
	}
	if req.Seed != nil {
		s := int(*req.Seed)
		creq.Seed = &s
	}
	patch, err := o.patch(req)
	return creq, patch, err
}

// patch encodes temperature, top_p, the schema, think and the extra body.
func (o *OpenAI) patch(req *Request) ([]byte, error) {
	var p []byte
	var err error
	add := func(k string, v any) {
		if err == nil {
			p, err = appendMember(p, k, v)
		}
	}
	if req.Temperature != nil {
		add("temperature", *req.Temperature)
	}
	if req.TopP != nil {
		add("top_p", *req.TopP)
	}
	if req.JSONSchema != nil {
		k, v := o.schemaField(req.JSONSchema)
		add(k, v)
	}
	if req.Think != nil {
		switch o.cfg.Think {
		case ThinkTemplateKwargs:
			add("chat_template_kwargs", map[string]any{"enable_thinking": *req.Think})
		case ThinkReasoningEffort:
			add("reasoning_effort", map[bool]string{true: "medium", false: "none"}[*req.Think])
		}
	}
	for _, k := range slices.Sorted(mapKeys(o.cfg.ExtraBody)) {
		add(k, o.cfg.ExtraBody[k])
	}
	return p, err
}

func (o *OpenAI) schemaField(schema map[string]any) (string, any) {
	switch o.cfg.StructuredOutputs {
	case SchemaStructuredOutputs:
		return "structured_outputs", map[string]any{"json": schema}
	case SchemaGuidedJSON:
		return "guided_json", schema
	}
	return "response_format", map[string]any{"type": "json_schema",
		"json_schema": map[string]any{"name": "ranking", "strict": true, "schema": schema}}
}

func mapKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// isReasoningModel reports OpenAI model families that take
// max_completion_tokens instead of max_tokens.
func isReasoningModel(model string) bool {
	for _, p := range []string{"o1", "o3", "o4", "gpt-5", "gpt-6"} {
		if strings.HasPrefix(model, p) {
			return true
		}
	}
	return false
}

// convert turns go-openai's answer into a Response.
func (o *OpenAI) convert(req *Request, r *openai.ChatCompletionResponse, latency time.Duration) (*Response, error) {
	choices := slices.Clone(r.Choices)
	slices.SortStableFunc(choices, func(a, b openai.ChatCompletionChoice) int { return cmp.Compare(a.Index, b.Index) })
	out := &Response{Model: r.Model, Fingerprint: r.SystemFingerprint, Samples: make([]Sample, len(choices)),
		Usage: Usage{PromptTokens: r.Usage.PromptTokens, CompletionTokens: r.Usage.CompletionTokens}}
	for i, c := range choices {
		s := &out.Samples[i]
		*s = Sample{Text: c.Message.Content, FinishReason: string(c.FinishReason), Latency: latency, Seed: req.Seed}
		if c.LogProbs != nil && len(c.LogProbs.Content) > 0 {
			s.Tokens = openaiTokens(c.LogProbs.Content)
		}
		if err := checkLogprobs(req, o.String(), i, s); err != nil {
			return nil, err
		}
	}
	splitUsage(out)
	return out, nil
}

// splitUsage gives each sample its share of the answer's usage: the prompt
// to the first sample (it is billed once), completion tokens by token
// count where logprobs give it, else evenly.
func splitUsage(r *Response) {
	n := len(r.Samples)
	left := r.Usage.CompletionTokens
	for i := range r.Samples {
		u := &r.Samples[i].Usage
		if i == 0 {
			u.PromptTokens = r.Usage.PromptTokens
		}
		switch {
		case n == 1:
			u.CompletionTokens = left
		case len(r.Samples[i].Tokens) > 0:
			u.CompletionTokens = len(r.Samples[i].Tokens)
		default:
			u.CompletionTokens = r.Usage.CompletionTokens / n
		}
	}
}

func openaiTokens(lps []openai.LogProb) []Token {
	toks := make([]Token, len(lps))
	for i, lp := range lps {
		toks[i] = Token{Text: lp.Token, Bytes: lp.Bytes, Logprob: lp.LogProb}
		if id, ok := tokenID(lp.Token); ok && lp.Bytes != nil {
			toks[i].ID, toks[i].Text = &id, string(lp.Bytes)
		}
		if len(lp.TopLogProbs) == 0 {
			continue
		}
		top := make([]Alternative, len(lp.TopLogProbs))
		for j, a := range lp.TopLogProbs {
			top[j] = Alternative{Text: a.Token, Bytes: a.Bytes, Logprob: a.LogProb}
		}
		toks[i].Top = top
	}
	return toks
}

// tokenID reads vLLM's "token_id:N" token (return_tokens_as_token_ids).
func tokenID(tok string) (int, bool) {
	rest, ok := strings.CutPrefix(tok, "token_id:")
	if !ok {
		return 0, false
	}
	id, err := strconv.Atoi(rest)
	return id, err == nil && id >= 0
}

// mapError turns go-openai's errors into this package's: a *StatusError
// for HTTP answers (with Retry-After from the doer, the key redacted, and
// for a 404 the model list), else the error wrapped with the backend name.
func (o *OpenAI) mapError(ctx context.Context, model string, meta *answerMeta, err error) error {
	var ae *openai.APIError
	var re *openai.RequestError
	var syn *json.SyntaxError
	se := &StatusError{Backend: o.String(), Model: model, RetryAfter: meta.retryAfter}
	switch {
	case errors.As(err, &syn) && meta.code >= 200 && meta.code < 300:
		return o.unusable(model, meta, "answer is not JSON ("+syn.Error()+")")
	case errors.As(err, &ae):
		se.Code, se.Message = ae.HTTPStatusCode, ae.Message
	case errors.As(err, &re):
		se.Code, se.Message = re.HTTPStatusCode, string(re.Body)
	default:
		return fmt.Errorf("llm: %s: %w", o, scrubURL(err))
	}
	se.Message = truncate(redact(se.Message, o.cfg.APIKey), 500)
	if se.Code == http.StatusUnauthorized || se.Code == http.StatusForbidden {
		se.Hint = "the server rejected the API key: check OPENAI_API_KEY or --api-key-file"
		if o.cfg.APIKey == "" {
			se.Hint = "the server wants an API key and none was given: set OPENAI_API_KEY or --api-key-file"
		}
	}
	if se.Code == http.StatusNotFound {
		o.listOnNotFound(ctx, se)
	}
	return se
}

// listOnNotFound confirms a 404 as an unknown model by listing the
// server's models; when the list cannot be had, se stays a plain 404.
func (o *OpenAI) listOnNotFound(ctx context.Context, se *StatusError) {
	models, err := o.Models(ctx)
	if err != nil {
		o.log.Debug("llm: cannot list models after 404", "backend", o.String(), "err", err)
		se.Message += " (the model list is unavailable too: check the base URL)"
		return
	}
	if !slices.Contains(models, se.Model) {
		se.Models = models
	}
}

// Models lists the ids the server's /models endpoint offers, sorted.
func (o *OpenAI) Models(ctx context.Context) ([]string, error) {
	list, err := o.client.ListModels(withAnswer(ctx, nil, &answerMeta{}))
	if err != nil {
		return nil, fmt.Errorf("llm: %s: list models: %w", o, err)
	}
	ids := make([]string, 0, len(list.Models))
	for _, m := range list.Models {
		ids = append(ids, m.ID)
	}
	slices.Sort(ids)
	return ids, nil
}

func loggerOr(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// RequestBody returns the JSON body Sample sends to /chat/completions for
// req, byte for byte: go-openai's encoding of the request plus the fields
// the backend adds itself (temperature, top_p, the schema, think, the
// extra body). It is what a batch file's "body" must hold for the batch
// to answer the same request as the online path. The fallback to single
// requests (n > 1 on a server without it) is not applied. Errors are
// req.Validate's or an encoding error.
func (o *OpenAI) RequestBody(req *Request) ([]byte, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	creq, patch, err := o.build(req)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(creq)
	if err != nil {
		return nil, fmt.Errorf("llm: %s: encode request: %w", o, err)
	}
	if len(patch) == 0 {
		return body, nil
	}
	return mergeMembers(body, patch)
}

// ParseResponse converts the body of a chat completion answer to req (a
// batch output line's response body, say) into a Response exactly as
// Sample does, with Latency 0. Errors: *AnswerError for a body that is not
// JSON or has no choices, ErrNoLogprobs as Sample returns it.
func (o *OpenAI) ParseResponse(req *Request, body []byte) (*Response, error) {
	var cresp openai.ChatCompletionResponse
	meta := &answerMeta{code: http.StatusOK, head: body[:min(len(body), headLimit)]}
	if err := json.Unmarshal(body, &cresp); err != nil {
		return nil, o.unusable(req.Model, meta, "answer is not JSON ("+err.Error()+")")
	}
	if len(cresp.Choices) == 0 {
		return nil, o.unusable(req.Model, meta, "answer has no choices")
	}
	return o.convert(req, &cresp, 0)
}
