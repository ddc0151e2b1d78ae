package llm_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/llm"
)

const answerBody = `{"id":"c1","object":"chat.completion","model":"m-2024","system_fingerprint":"fp_1",
"choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"[2] > [1]"},
"logprobs":{"content":[{"token":"[2]","logprob":-0.5,"bytes":[91,50,93]},{"token":" > [1]","logprob":-0.25}]}}],
"usage":{"prompt_tokens":40,"completion_tokens":2,"total_tokens":42}}`

// TestOpenAIRequestBodyIsSent checks that RequestBody is the body Sample
// sends and ParseResponse the Response Sample returns, for requests that
// use every field the backend adds in the HTTP layer.
func TestOpenAIRequestBodyIsSent(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(*llm.OpenAIConfig)
		edit func(*llm.Request)
	}{
		{name: "plain"},
		{name: "temperature 0, seed 0, top_p, logprobs",
			edit: func(r *llm.Request) {
				r.Temperature, r.Seed, r.TopP, r.Logprobs, r.TopLogprobs = f64(0), i64(0), f64(0.9), true, 3
			}},
		{name: "schema, think and extra body",
			cfg: func(c *llm.OpenAIConfig) { c.ExtraBody = map[string]any{"top_k": 20, "a": "<b>"} },
			edit: func(r *llm.Request) {
				r.JSONSchema, r.Think = map[string]any{"type": "array"}, new(true)
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []byte
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, _ = io.ReadAll(r.Body)
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, answerBody) // the client reports a short answer
			}))
			defer srv.Close()
			cfg := llm.OpenAIConfig{BaseURL: srv.URL + "/v1", HTTPClient: srv.Client()}
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			b, err := llm.NewOpenAI(cfg)
			require.NoError(t, err)
			req := &llm.Request{Model: "m", Messages: []llm.Message{{Role: "user", Content: "rank <these> & \"those\""}}, Seed: i64(7)}
			if tc.edit != nil {
				tc.edit(req)
			}
			online, err := b.Sample(context.Background(), req)
			require.NoError(t, err, "Sample")
			want, err := b.RequestBody(req)
			require.NoError(t, err, "RequestBody")
			assert.Equal(t, string(got), string(want), "RequestBody: got the sent body, want RequestBody's")
			parsed, err := b.ParseResponse(req, []byte(answerBody))
			require.NoError(t, err, "ParseResponse")
			for i := range online.Samples {
				online.Samples[i].Latency = 0
			}
			assert.Equal(t, online, parsed, "ParseResponse: got Sample's response, want ParseResponse's")
		})
	}
}

// TestOpenAIParseResponseErrors checks the answers ParseResponse refuses.
func TestOpenAIParseResponseErrors(t *testing.T) {
	b, err := llm.NewOpenAI(llm.OpenAIConfig{BaseURL: "http://127.0.0.1:1/v1"})
	require.NoError(t, err)
	req := &llm.Request{Model: "m", Messages: []llm.Message{{Role: "user", Content: "x"}}, Logprobs: true}
	for name, body := range map[string]string{
		"not JSON":   `{"choices":`,
		"no choices": `{"choices":[]}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := b.ParseResponse(req, []byte(body))
			var ae *llm.AnswerError
			assert.ErrorAs(t, err, &ae, "ParseResponse(%s)", body)
		})
	}
	_, err = b.ParseResponse(req, []byte(`{"choices":[{"index":0,"message":{"content":"x"}}]}`))
	assert.ErrorIs(t, err, llm.ErrNoLogprobs, "ParseResponse without logprobs")
}
