package llm_test

import (
	"context"
	"testing"
	"time"

	"github.com/flexrec/flexrec/llm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOllamaRequestBody: no streaming, thinking off unless asked, and the
// sampling options sent even when 0.
func TestOllamaRequestBody(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*llm.Request)
		cfg     func(*llm.OllamaConfig)
		want    map[string]any
		options map[string]any
		absent  []string
	}{
		{name: "defaults", want: map[string]any{"stream": false, "think": false},
			absent: []string{"temperature", "seed", "top_p", "num_predict", "num_ctx"}},
		{name: "zeros are sent", edit: func(r *llm.Request) { r.Temperature, r.Seed = f64(0), i64(0) },
			options: map[string]any{"temperature": 0.0, "seed": 0.0}},
		{name: "sampling fields",
			edit: func(r *llm.Request) {
				r.TopP, r.MaxTokens, r.Stop, r.Logprobs, r.TopLogprobs = f64(0.5), 40, []string{"</s>"}, true, 4
			},
			want:    map[string]any{"logprobs": true, "top_logprobs": 4.0},
			options: map[string]any{"top_p": 0.5, "num_predict": 40.0, "stop": []any{"</s>"}}},
		{name: "think asked", edit: func(r *llm.Request) { yes := true; r.Think = &yes },
			want: map[string]any{"think": true}},
		{name: "schema as format", edit: func(r *llm.Request) { r.JSONSchema = map[string]any{"type": "array"} },
			want: map[string]any{"format": map[string]any{"type": "array"}}},
		{name: "num_ctx and keep_alive", cfg: func(c *llm.OllamaConfig) { c.NumCtx, c.KeepAlive = 8192, time.Minute },
			want: map[string]any{"keep_alive": "1m0s"}, options: map[string]any{"num_ctx": 8192.0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, "ollama")
			cfg := llm.DefaultOllamaConfig()
			cfg.Host = f.URL()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			b, err := llm.NewOllama(cfg)
			require.NoError(t, err)
			req := &llm.Request{Model: "flexrec-tiny", Messages: chat("")}
			if tt.edit != nil {
				tt.edit(req)
			}
			_, err = b.Sample(context.Background(), req)
			require.NoError(t, err)
			body := f.lastBody()
			for k, v := range tt.want {
				assert.Equal(t, v, body[k], "field %q", k)
			}
			opts, _ := body["options"].(map[string]any)
			for k, v := range tt.options {
				assert.Equal(t, v, opts[k], "option %q", k)
			}
			for _, k := range tt.absent {
				assert.NotContains(t, opts, k)
			}
		})
	}
}

func TestOllamaHost(t *testing.T) {
	tests := []struct{ in, want string }{
		{"127.0.0.1:11435", "http://127.0.0.1:11435"},
		{"http://127.0.0.1:11435/", "http://127.0.0.1:11435"},
		{"localhost", "http://localhost:11434"},
		{"https://ollama.example", "https://ollama.example"},
		{"[::1]", "http://[::1]:11434"},
		{"http://10.0.0.2:80/proxy", "http://10.0.0.2:80/proxy"},
	}
	for _, tt := range tests {
		cfg := llm.DefaultOllamaConfig()
		cfg.Host = tt.in
		b, err := llm.NewOllama(cfg)
		require.NoError(t, err, "host %q", tt.in)
		assert.Equal(t, "ollama "+tt.want, b.String(), "host %q", tt.in)
	}
	for _, bad := range []string{"ftp://x", "http://", " "} {
		cfg := llm.DefaultOllamaConfig()
		cfg.Host = bad
		_, err := llm.NewOllama(cfg)
		assert.Error(t, err, "host %q", bad)
	}
	t.Setenv("OLLAMA_HOST", "127.0.0.1:9999")
	assert.Equal(t, "http://127.0.0.1:9999", llm.OllamaConfigFromEnvironment().Host)
	t.Setenv("OLLAMA_HOST", "")
	assert.Equal(t, llm.DefaultOllamaHost, llm.OllamaConfigFromEnvironment().Host)
}

// TestOllamaFingerprint: the server's version is the fingerprint, asked
// once.
func TestOllamaFingerprint(t *testing.T) {
	f := newFake(t, "ollama")
	b := newOllamaBackend(t, f.URL())
	req := &llm.Request{Model: "flexrec-tiny", Messages: chat(""), Logprobs: true, N: 2, Seed: i64(4)}
	resp, err := b.Sample(context.Background(), req)
	require.NoError(t, err)
	assert.Equal(t, "ollama 0.17.4", resp.Fingerprint)
	assert.Equal(t, "flexrec-tiny", resp.Model)
	require.Len(t, resp.Samples, 2)
	assert.Equal(t, resp.Samples[0].Usage.CompletionTokens+resp.Samples[1].Usage.CompletionTokens, resp.Usage.CompletionTokens)
	v, err := b.Version(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "0.17.4", v)
}
