package llm_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flexrec/flexrec/llm/testmodel"
	"github.com/stretchr/testify/require"
)

// fault handles one request instead of the fake's normal answer.
type fault func(w http.ResponseWriter, r *http.Request)

// fake is an httptest server answering chat requests in one wire format
// ("openai" or "ollama") with completions drawn from the test model, so
// seeds, temperature 0, max tokens and logprobs behave as on the real
// server. Faults queued in Faults answer the first chat requests.
type fake struct {
	format  string
	model   *testmodel.Model
	served  []string // model names the server has
	version string   // Ollama's /api/version
	// nMode says what an OpenAI fake does with n > 1: "honour", "ignore"
	// (one choice, like Ollama's /v1) or "reject" (400, like llama.cpp).
	nMode string
	// noLogprobs makes the fake drop logprobs from its answers.
	noLogprobs bool

	mu     sync.Mutex
	faults []fault
	bodies [][]byte
	auths  []string // Authorization headers of the chat requests
	chats  atomic.Int64
	srv    *httptest.Server
}

func newFake(t testing.TB, format string) *fake {
	t.Helper()
	m, err := testmodel.New(testmodel.DefaultConfig())
	require.NoError(t, err)
	f := &fake{format: format, model: m, served: []string{"flexrec-tiny", "other-model"}, version: "0.17.4", nMode: "honour"}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

// URL is the base URL a backend is configured with.
func (f *fake) URL() string {
	if f.format == "openai" {
		return f.srv.URL + "/v1"
	}
	return f.srv.URL
}

func (f *fake) queue(fs ...fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, fs...)
}

// lastBody returns the last chat request body, decoded.
func (f *fake) lastBody() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(f.lastRaw(), &m) // a test fails on the missing fields
	return m
}

// lastRaw returns the last chat request body as sent.
func (f *fake) lastRaw() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.bodies) == 0 {
		return nil
	}
	return f.bodies[len(f.bodies)-1]
}

// ServeHTTP routes the endpoints of both formats.
func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/v1/models":
		f.listOpenAI(w)
	case "/api/tags":
		f.listOllama(w)
	case "/api/version":
		writeJSON(w, 200, map[string]string{"version": f.version})
	case "/v1/chat/completions", "/api/chat":
		f.chat(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (f *fake) listOpenAI(w http.ResponseWriter) {
	data := []map[string]string{}
	for _, m := range f.served {
		data = append(data, map[string]string{"id": m, "object": "model"})
	}
	writeJSON(w, 200, map[string]any{"object": "list", "data": data})
}

func (f *fake) listOllama(w http.ResponseWriter) {
	models := []map[string]string{}
	for _, m := range f.served {
		models = append(models, map[string]string{"name": m + ":latest", "model": m + ":latest"})
	}
	writeJSON(w, 200, map[string]any{"models": models})
}

// chatRequest holds the fields of both formats the fake reads.
type chatRequest struct {
	Model       string   `json:"model"`
	N           int      `json:"n"`
	Seed        *int64   `json:"seed"`
	MaxTokens   int      `json:"max_tokens"`
	Logprobs    bool     `json:"logprobs"`
	TopLogprobs int      `json:"top_logprobs"`
	Temperature *float64 `json:"-"`
	Messages    []struct{ Content string }
	Options     struct {
		Seed        *int64   `json:"seed"`
		Temperature *float64 `json:"temperature"`
		NumPredict  int      `json:"num_predict"`
	}
	RawTemperature *float64 `json:"temperature"`
}

func (f *fake) chat(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body) // a short body fails to decode below
	call := f.chats.Add(1)
	f.mu.Lock()
	f.bodies = append(f.bodies, body)
	f.auths = append(f.auths, r.Header.Get("Authorization"))
	var ft fault
	if len(f.faults) > 0 {
		ft, f.faults = f.faults[0], f.faults[1:]
	}
	f.mu.Unlock()
	if ft != nil {
		ft(w, r)
		return
	}
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSON(w, 400, map[string]any{"error": map[string]any{"message": err.Error()}})
		return
	}
	if f.format == "ollama" {
		req.Seed, req.Temperature, req.MaxTokens = req.Options.Seed, req.Options.Temperature, req.Options.NumPredict
	} else {
		req.Temperature = req.RawTemperature
	}
	if !f.serves(req.Model) {
		f.notFound(w, req.Model)
		return
	}
	if req.N > 1 && f.nMode == "reject" {
		writeJSON(w, 400, map[string]any{"error": map[string]any{"code": 400, "message": "Only one completion choice is allowed", "type": "invalid_request_error"}})
		return
	}
	if req.Seed == nil {
		s := call * 7919 // unseeded requests differ
		req.Seed = &s
	}
	if f.format == "ollama" {
		writeJSON(w, 200, f.ollamaAnswer(&req))
	} else {
		writeJSON(w, 200, f.openaiAnswer(&req))
	}
}

func (f *fake) serves(model string) bool {
	for _, m := range f.served {
		if m == model || m+":latest" == model {
			return true
		}
	}
	return false
}

func (f *fake) notFound(w http.ResponseWriter, model string) {
	if f.format == "ollama" {
		writeJSON(w, 404, map[string]any{"error": fmt.Sprintf("model '%s' not found", model)})
		return
	}
	writeJSON(w, 404, map[string]any{"error": map[string]any{"message": fmt.Sprintf("model %q not found, try pulling it first", model), "type": "api_error"}})
}

// completion draws choice i of a request from the test model.
func (f *fake) completion(req *chatRequest, i int) ([]string, []float64, string) {
	if req.Temperature != nil && *req.Temperature == 0 {
		return f.model.Greedy(req.MaxTokens)
	}
	return f.model.Generate(uint64(*req.Seed)<<8|uint64(i), req.MaxTokens)
}

// wireToken is one logprob entry as both formats send it.
type wireToken struct {
	Token   string      `json:"token"`
	Logprob float64     `json:"logprob"`
	Bytes   []int       `json:"bytes"`
	Top     []wireToken `json:"top_logprobs,omitempty"`
}

// tokens lays out logprobs with k alternatives: the chosen token, then
// tied ones with empty text and no bytes, as llama.cpp's padding tokens.
func tokens(pieces []string, lps []float64, k int) []wireToken {
	out := make([]wireToken, len(pieces))
	for i, p := range pieces {
		out[i] = wireToken{Token: p, Logprob: lps[i], Bytes: ints(p)}
		for j := range k {
			if j == 0 {
				out[i].Top = append(out[i].Top, wireToken{Token: p, Logprob: lps[i], Bytes: ints(p)})
				continue
			}
			out[i].Top = append(out[i].Top, wireToken{Token: "", Logprob: lps[i] - 30})
		}
	}
	return out
}

func ints(s string) []int {
	b := make([]int, len(s))
	for i := range len(s) {
		b[i] = int(s[i])
	}
	return b
}

func promptTokens(req *chatRequest) int {
	n := 0
	for _, m := range req.Messages {
		n += len(m.Content) / 4
	}
	return n
}

func (f *fake) openaiAnswer(req *chatRequest) map[string]any {
	n := max(req.N, 1)
	if f.nMode != "honour" {
		n = 1
	}
	var choices []map[string]any
	completion := 0
	for i := range n {
		pieces, lps, finish := f.completion(req, i)
		completion += len(pieces)
		c := map[string]any{"index": i, "finish_reason": finish,
			"message": map[string]any{"role": "assistant", "content": strings.Join(pieces, "")}}
		if req.Logprobs && !f.noLogprobs {
			c["logprobs"] = map[string]any{"content": tokens(pieces, lps, req.TopLogprobs)}
		}
		choices = append(choices, c)
	}
	return map[string]any{"id": "chatcmpl-1", "object": "chat.completion", "model": req.Model,
		"system_fingerprint": "fp_fake", "choices": choices,
		"usage": map[string]int{"prompt_tokens": promptTokens(req), "completion_tokens": completion}}
}

func (f *fake) ollamaAnswer(req *chatRequest) map[string]any {
	pieces, lps, finish := f.completion(req, 0)
	out := map[string]any{"model": req.Model, "created_at": time.Now(), "done": true, "done_reason": finish,
		"message":           map[string]any{"role": "assistant", "content": strings.Join(pieces, "")},
		"prompt_eval_count": promptTokens(req), "eval_count": len(pieces)}
	if req.Logprobs && !f.noLogprobs {
		out["logprobs"] = tokens(pieces, lps, req.TopLogprobs)
	}
	return out
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client sees a short body if this fails
}

// Faults.

func status(code int, body string, header ...string) fault {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body) // see writeJSON
	}
}

// hang answers only when the client gives up.
func hang(w http.ResponseWriter, r *http.Request) {
	<-r.Context().Done()
}

// truncated sends a complete HTTP answer whose JSON stops halfway.
func truncated(w http.ResponseWriter, _ *http.Request) {
	body := `{"id":"x","model":"flexrec-tiny","choices":[{"index":0,"message":{"role":"assistant","content":"[1] > [`
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	_, _ = io.WriteString(w, body) // see writeJSON
}

// reset closes the connection without an answer.
func reset(w http.ResponseWriter, _ *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // RST instead of FIN; a FIN also fails the request
	}
	conn.Close()
}
