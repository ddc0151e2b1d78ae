package llm_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/flexrec/flexrec/llm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOpenAIRequestBody checks what reaches the server: the fields
// go-openai drops or cannot express are in the body exactly once.
func TestOpenAIRequestBody(t *testing.T) {
	schema := map[string]any{"type": "object", "properties": map[string]any{"ranking": map[string]any{"type": "array"}}}
	tests := []struct {
		name   string
		cfg    func(*llm.OpenAIConfig)
		edit   func(*llm.Request)
		want   map[string]any // top-level fields and their decoded values
		absent []string
	}{
		{name: "temperature and seed 0 are sent",
			edit: func(r *llm.Request) { r.Temperature, r.Seed = f64(0), i64(0) },
			want: map[string]any{"temperature": 0.0, "seed": 0.0}},
		{name: "top_p, max tokens, stop and logprobs",
			edit: func(r *llm.Request) {
				r.TopP, r.MaxTokens, r.Stop, r.Logprobs, r.TopLogprobs = f64(0.9), 50, []string{"\n\n"}, true, 5
			},
			want: map[string]any{"top_p": 0.9, "max_tokens": 50.0, "stop": []any{"\n\n"}, "logprobs": true, "top_logprobs": 5.0}},
		{name: "unset sampling fields are left to the server",
			absent: []string{"temperature", "top_p", "seed", "n", "logprobs", "chat_template_kwargs", "response_format"}},
		{name: "n > 1",
			edit: func(r *llm.Request) { r.N = 4 },
			want: map[string]any{"n": 4.0}},
		{name: "schema as response_format",
			edit: func(r *llm.Request) { r.JSONSchema = schema },
			want: map[string]any{"response_format": map[string]any{"type": "json_schema",
				"json_schema": map[string]any{"name": "ranking", "strict": true, "schema": schema}}}},
		{name: "schema as vLLM structured_outputs",
			cfg:  func(c *llm.OpenAIConfig) { c.StructuredOutputs = llm.SchemaStructuredOutputs },
			edit: func(r *llm.Request) { r.JSONSchema = schema },
			want: map[string]any{"structured_outputs": map[string]any{"json": schema}}, absent: []string{"response_format"}},
		{name: "schema as guided_json",
			cfg:  func(c *llm.OpenAIConfig) { c.StructuredOutputs = llm.SchemaGuidedJSON },
			edit: func(r *llm.Request) { r.JSONSchema = schema },
			want: map[string]any{"guided_json": schema}},
		{name: "think off through chat_template_kwargs",
			edit: func(r *llm.Request) { r.Think = new(bool) },
			want: map[string]any{"chat_template_kwargs": map[string]any{"enable_thinking": false}}},
		{name: "think off through reasoning_effort",
			cfg:  func(c *llm.OpenAIConfig) { c.Think = llm.ThinkReasoningEffort },
			edit: func(r *llm.Request) { r.Think = new(bool) },
			want: map[string]any{"reasoning_effort": "none"}, absent: []string{"chat_template_kwargs"}},
		{name: "extra body",
			cfg:  func(c *llm.OpenAIConfig) { c.ExtraBody = map[string]any{"top_k": 20, "min_p": 0.0} },
			want: map[string]any{"top_k": 20.0, "min_p": 0.0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, "openai")
			cfg := llm.DefaultOpenAIConfig()
			cfg.BaseURL, cfg.APIKey = f.URL(), secretKey
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			b, err := llm.NewOpenAI(cfg)
			require.NoError(t, err)
			req := &llm.Request{Model: "flexrec-tiny", Messages: chat("")}
			if tt.edit != nil {
				tt.edit(req)
			}
			_, err = b.Sample(context.Background(), req)
			require.NoError(t, err, "Sample")
			body := f.lastBody()
			for k, v := range tt.want {
				assert.Equal(t, v, body[k], "body field %q", k)
				assert.Equal(t, 1, bytes.Count(f.lastRaw(), []byte(fmt.Sprintf("%q:", k))), "field %q appears once", k)
			}
			for _, k := range tt.absent {
				assert.NotContains(t, body, k)
			}
			assert.Equal(t, "Bearer "+secretKey, f.auths[len(f.auths)-1], "Authorization header")
		})
	}
}

// TestOpenAITokenBytes: the bytes field (a JSON array of numbers) is read.
func TestOpenAITokenBytes(t *testing.T) {
	f := newFake(t, "openai")
	b := newOpenAIBackend(t, f.URL(), "")
	resp, err := b.Sample(context.Background(), &llm.Request{Model: "flexrec-tiny", Messages: chat(""), Seed: i64(9), Logprobs: true, TopLogprobs: 2})
	require.NoError(t, err)
	tok := resp.Samples[0].Tokens[0]
	assert.Equal(t, []byte(tok.Text), tok.Bytes)
	require.Len(t, tok.Top, 2)
	assert.Empty(t, tok.Top[1].Text, "the tied alternative with empty text")
	assert.Nil(t, tok.Top[1].Bytes)
	assert.Equal(t, "fp_fake", resp.Fingerprint)
	assert.Empty(t, f.auths[0], "no Authorization header without a key")
}

// TestOpenAINFallbackSeeds: a server that ignores n is sent one request
// per sample with seeds seed+i, and the backend remembers it.
func TestOpenAINFallbackSeeds(t *testing.T) {
	// ignore: the n=4 try gives sample 0, then 3 single requests;
	// reject: the n=4 try fails, then 4 single requests.
	for mode, calls := range map[string]int64{"ignore": 4, "reject": 5} {
		t.Run(mode, func(t *testing.T) {
			f := newFake(t, "openai")
			f.nMode = mode
			b := newOpenAIBackend(t, f.URL(), "")
			req := &llm.Request{Model: "flexrec-tiny", Messages: chat(""), N: 4, Seed: i64(10)}
			resp, err := b.Sample(context.Background(), req)
			require.NoError(t, err)
			require.Len(t, resp.Samples, 4)
			for i, s := range resp.Samples {
				require.NotNil(t, s.Seed)
				assert.Equal(t, int64(10+i), *s.Seed, "sample %d seed", i)
			}
			assert.Equal(t, calls, f.chats.Load(), "chat requests of the first call")
			f.chats.Store(0)
			_, err = b.Sample(context.Background(), req)
			require.NoError(t, err)
			assert.Equal(t, int64(4), f.chats.Load(), "the second call goes straight to single requests")
		})
	}
}

func TestOpenAIConfig(t *testing.T) {
	t.Setenv("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1")
	t.Setenv("OPENAI_API_KEY", secretKey)
	cfg := llm.OpenAIConfigFromEnvironment()
	assert.Equal(t, "http://127.0.0.1:8000/v1", cfg.BaseURL)
	assert.Equal(t, secretKey, cfg.APIKey)
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		assert.NotContains(t, fmt.Sprintf(format, cfg), secretKey, "fmt %s of the config", format)
	}
	assert.Contains(t, cfg.String(), "APIKey: <set>")

	bad := []func(*llm.OpenAIConfig){
		func(c *llm.OpenAIConfig) { c.BaseURL = "ftp://x" },
		func(c *llm.OpenAIConfig) { c.StructuredOutputs = "xml" },
		func(c *llm.OpenAIConfig) { c.Think = "maybe" },
		func(c *llm.OpenAIConfig) { c.ExtraBody = map[string]any{"temperature": 1} },
	}
	for i, edit := range bad {
		c := llm.DefaultOpenAIConfig()
		edit(&c)
		assert.Error(t, c.Validate(), "bad config %d", i)
	}
	b, err := llm.NewOpenAI(cfg)
	require.NoError(t, err)
	assert.NotContains(t, b.String(), secretKey)
}

func TestLoadAPIKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	key, err := llm.LoadAPIKey(write("ok", secretKey+"\n"))
	require.NoError(t, err)
	assert.Equal(t, secretKey, key)
	for _, content := range []string{"", "  \n", "two\nlines"} {
		_, err := llm.LoadAPIKey(write("bad", content))
		require.Error(t, err, "content %q", content)
		assert.NotContains(t, err.Error(), "lines", "the error echoes the file")
	}
	_, err = llm.LoadAPIKey(filepath.Join(dir, "missing"))
	assert.Error(t, err)
}

// TestRequestValidate: each out-of-range field is caught before any I/O.
func TestRequestValidate(t *testing.T) {
	ok := func() *llm.Request { return &llm.Request{Model: "m", Messages: chat("")} }
	tests := []struct {
		name string
		edit func(*llm.Request)
	}{
		{"no model", func(r *llm.Request) { r.Model = "" }},
		{"no messages", func(r *llm.Request) { r.Messages = nil }},
		{"negative n", func(r *llm.Request) { r.N = -1 }},
		{"n too large", func(r *llm.Request) { r.N = llm.MaxSamples + 1 }},
		{"temperature above 2", func(r *llm.Request) { r.Temperature = f64(2.5) }},
		{"top_p 0", func(r *llm.Request) { r.TopP = f64(0) }},
		{"negative max tokens", func(r *llm.Request) { r.MaxTokens = -1 }},
		{"21 alternatives", func(r *llm.Request) { r.Logprobs, r.TopLogprobs = true, 21 }},
		{"alternatives without logprobs", func(r *llm.Request) { r.TopLogprobs = 2 }},
	}
	require.NoError(t, ok().Validate())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ok()
			tt.edit(r)
			assert.ErrorContains(t, r.Validate(), "llm: ")
		})
	}
}

func TestOpenAINameHidesURLCredentials(t *testing.T) {
	b := newOpenAIBackend(t, "https://user:pa55@127.0.0.1:9/v1?api-key=k3y", "")
	assert.Equal(t, "openai https://127.0.0.1:9/v1", b.String())
}
