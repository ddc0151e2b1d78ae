package llm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flexrec/flexrec/llm"
	"github.com/flexrec/flexrec/llm/testmodel"
	"github.com/stretchr/testify/require"
)

// canned returns a 30-item answer with logprobs and 5 alternatives per
// token in the format's wire layout, and the Ollama version answer.
func canned(b *testing.B, format string) []byte {
	m, err := testmodel.New(testmodel.DefaultConfig())
	require.NoError(b, err)
	pieces, lps, _ := m.Greedy(0)
	text := strings.Join(pieces, "")
	toks := tokens(pieces, lps, 5)
	var v any
	if format == "ollama" {
		v = map[string]any{"model": "flexrec-tiny", "created_at": time.Now(), "done": true, "done_reason": "stop",
			"message": map[string]any{"role": "assistant", "content": text}, "logprobs": toks,
			"prompt_eval_count": 900, "eval_count": len(pieces)}
	} else {
		v = map[string]any{"id": "x", "object": "chat.completion", "model": "flexrec-tiny", "system_fingerprint": "fp",
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "logprobs": map[string]any{"content": toks},
				"message": map[string]any{"role": "assistant", "content": text}}},
			"usage": map[string]int{"prompt_tokens": 900, "completion_tokens": len(pieces)}}
	}
	raw, err := json.Marshal(v)
	require.NoError(b, err)
	return raw
}

var versionAnswer = []byte(`{"version":"0.17.4"}`)

// memDoer answers from memory: the client's whole cost, no network.
type memDoer struct{ chat []byte }

func (d memDoer) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body) // the client's encoding is part of its cost
		req.Body.Close()
	}
	body := d.chat
	if strings.HasSuffix(req.URL.Path, "/api/version") {
		body = versionAnswer
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: req}, nil
}

func benchBackend(b *testing.B, format, url string, doer llm.HTTPDoer) llm.Backend {
	if format == "ollama" {
		be, err := llm.NewOllama(llm.OllamaConfig{Host: url, HTTPClient: doer})
		require.NoError(b, err)
		return be
	}
	be, err := llm.NewOpenAI(llm.OpenAIConfig{BaseURL: url + "/v1", APIKey: "sk-bench", HTTPClient: doer})
	require.NoError(b, err)
	return be
}

// benchRequest is a realistic rollout request: a 30-candidate prompt.
func benchRequest() *llm.Request {
	user := strings.Repeat("[12] The Shawshank Redemption (1994) | Drama, Crime\n", 30)
	return &llm.Request{Model: "flexrec-tiny", Messages: []llm.Message{{Role: "system", Content: "Rank."}, {Role: "user", Content: user}},
		Temperature: f64(1), Seed: i64(1), MaxTokens: 400, Logprobs: true, TopLogprobs: 5}
}

// BenchmarkClientOverhead is the client's CPU per request: encode the
// request, decode a 30-item answer with logprobs and 5 alternatives per
// token, convert it; the answer comes from memory.
func BenchmarkClientOverhead(b *testing.B) {
	for _, format := range []string{"openai", "ollama"} {
		b.Run(format, func(b *testing.B) {
			be := benchBackend(b, format, "http://127.0.0.1:1", memDoer{chat: canned(b, format)})
			req := benchRequest()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := be.Sample(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// loopback serves the canned answer at once over 127.0.0.1, counting the
// connections clients open.
func loopback(b *testing.B, format string) (*httptest.Server, *atomic.Int64) {
	chat := canned(b, format)
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // read the request as a server does
		body := chat
		if r.URL.Path == "/api/version" {
			body = versionAnswer
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body) // a failed write shows up as a client error
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	b.Cleanup(srv.Close)
	return srv, &conns
}

// BenchmarkLoopback64 sends requests from 64 goroutines to a loopback
// server that answers at once, reporting requests per second and the
// connections opened: with the tuned transport the 64 connections stay
// open; net/http's default keeps 2 idle per host and redials.
func BenchmarkLoopback64(b *testing.B) {
	for _, format := range []string{"openai", "ollama"} {
		for _, tr := range []string{"tuned", "default-transport"} {
			b.Run(format+"/"+tr, func(b *testing.B) {
				srv, conns := loopback(b, format)
				var doer llm.HTTPDoer = llm.DefaultHTTPClient()
				if tr != "tuned" {
					doer = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
				}
				be := benchBackend(b, format, srv.URL, doer)
				runParallel64(b, conns, func() error {
					_, err := be.Sample(context.Background(), benchRequest())
					return err
				})
			})
		}
	}
}

// BenchmarkBareHTTP64 is the ceiling for BenchmarkLoopback64: the same
// server and 64 goroutines posting the request and reading the answer
// without decoding it.
func BenchmarkBareHTTP64(b *testing.B) {
	srv, conns := loopback(b, "ollama")
	client := llm.DefaultHTTPClient()
	body, err := json.Marshal(benchRequest())
	require.NoError(b, err)
	runParallel64(b, conns, func() error {
		resp, err := client.Post(srv.URL+"/api/chat", "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return err
	})
}

func runParallel64(b *testing.B, conns *atomic.Int64, call func() error) {
	b.ReportAllocs()
	b.SetParallelism((64 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	conns.Store(0)
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := call(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	b.ReportMetric(float64(conns.Load()), "conns")
}
