package llm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flexrec/flexrec/llm"
	"github.com/flexrec/flexrec/prompt"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// exampleLimits is the part of examples/openai.yaml that decides how fast
// a job may go.
type exampleLimits struct {
	Backend struct {
		Concurrency       int     `yaml:"concurrency"`
		RequestsPerSecond float64 `yaml:"requests_per_second"`
		TokensPerMinute   float64 `yaml:"tokens_per_minute"`
	} `yaml:"backend"`
	Rollout struct {
		MaxTokens   int     `yaml:"max_tokens"`
		Temperature float64 `yaml:"temperature"`
	} `yaml:"rollout"`
}

func loadExampleLimits(b *testing.B) exampleLimits {
	raw, err := os.ReadFile("../examples/openai.yaml")
	require.NoError(b, err, "read examples/openai.yaml")
	var ex exampleLimits
	require.NoError(b, yaml.Unmarshal(raw, &ex), "decode examples/openai.yaml")
	return ex
}

// rolloutMessages renders a rollout prompt for an episode with this many
// candidates (with years and genres) and ten history items; 30 is the
// size a job sends.
func rolloutMessages(b *testing.B, candidates int) []llm.Message {
	ep := &prompt.Episode{ID: "bench/u1", UserID: "u1", Need: "interest"}
	for k := range 10 {
		ep.History = append(ep.History, prompt.HistoryItem{ItemID: fmt.Sprintf("h%d", k),
			Text: fmt.Sprintf("Seen movie number %d (1995) | Action|Crime|Thriller", k), Engagement: 4})
	}
	for k := range candidates {
		ep.Candidates = append(ep.Candidates, prompt.Candidate{ItemID: fmt.Sprintf("m%02d", k),
			Text: fmt.Sprintf("Candidate movie number %d (2001) | Comedy|Drama|Romance", k)})
	}
	need, err := prompt.LookupNeed("interest")
	require.NoError(b, err)
	r, err := prompt.Render(ep, &need, prompt.DefaultOptions(), 1)
	require.NoError(b, err)
	msgs := make([]llm.Message, len(r.Messages))
	for i, m := range r.Messages {
		msgs[i] = llm.Message{Role: m.Role, Content: m.Content}
	}
	return msgs
}

// instantOpenAI is a loopback OpenAI-compatible server answering at once
// with a 30-item ranking, reporting usage as a server would: prompt bytes
// / 4 and completion bytes / 4.
func instantOpenAI(b *testing.B) *httptest.Server {
	var ranking strings.Builder
	for k := range 30 {
		if k > 0 {
			ranking.WriteString(" > ")
		}
		fmt.Fprintf(&ranking, "[%d]", k+1)
	}
	text := ranking.String()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model    string `json:"model"`
			Messages []struct {
				Content string `json:"content"`
			} `json:"messages"`
		}
		body, _ := io.ReadAll(r.Body) // a short body fails to decode below
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		promptBytes := 0
		for _, m := range req.Messages {
			promptBytes += len(m.Content)
		}
		writeJSON(w, 200, map[string]any{"id": "x", "object": "chat.completion", "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": text}}},
			"usage": map[string]int{"prompt_tokens": promptBytes / 4, "completion_tokens": len(text) / 4}})
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkExampleOpenAIThroughput measures the requests per second a job
// with examples/openai.yaml's limits (concurrency, requests_per_second,
// tokens_per_minute, max_tokens) gets from a server that answers at once:
// the limits alone decide it. Each iteration runs the job's workers for a
// 30 s warm-up, long enough to spend any initial burst (a whole minute's
// token budget, before tokens per minute were spread), then counts the
// answers of the next 15 s: req/s is that count over 15 s, the rate a
// long job sustains; tokens/req is the mean usage of those answers. The
// tokens-per-minute budget allows tokens_per_minute / 60 / (tokens/req)
// requests a second, so requests_per_second binds only below that usage.
// Cases: a rollout prompt of 30 candidates (what a job sends) and one of
// 10. One iteration takes 45 s, so the default -benchtime runs it once:
//
//	go test -run '^$' -bench ExampleOpenAIThroughput ./llm/
func BenchmarkExampleOpenAIThroughput(b *testing.B) {
	ex := loadExampleLimits(b)
	srv := instantOpenAI(b)
	be, err := llm.NewOpenAI(llm.OpenAIConfig{BaseURL: srv.URL + "/v1", APIKey: "sk-bench"})
	require.NoError(b, err)
	cfg := llm.DefaultStackConfig()
	cfg.Limit = llm.LimitConfig{MaxConcurrent: ex.Backend.Concurrency,
		RequestsPerSecond: ex.Backend.RequestsPerSecond, TokensPerMinute: ex.Backend.TokensPerMinute}
	temp := ex.Rollout.Temperature
	for _, candidates := range []int{30, 10} {
		b.Run(fmt.Sprintf("candidates=%d", candidates), func(b *testing.B) {
			req := &llm.Request{Model: "gpt-4o-mini", Messages: rolloutMessages(b, candidates),
				Temperature: &temp, MaxTokens: ex.Rollout.MaxTokens}
			var rate, tokens float64
			for b.Loop() {
				st, err := llm.NewStack(be, cfg)
				require.NoError(b, err)
				rate, tokens = sustainedRate(b, st, req, max(ex.Backend.Concurrency, 1), 30*time.Second, 15*time.Second)
			}
			b.ReportMetric(rate, "req/s")
			b.ReportMetric(tokens, "tokens/req")
		})
	}
}

// sustainedRate runs workers sending req through be for warm+window and
// returns the answers per second within the window and the mean tokens
// an answer used.
func sustainedRate(b *testing.B, be llm.Backend, req *llm.Request, workers int, warm, window time.Duration) (float64, float64) {
	// A cancel, not a deadline: limiter waits that would outlast a
	// deadline fail at once, and this must measure them waiting.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := time.AfterFunc(warm+window, cancel)
	defer stop.Stop()
	start := time.Now()
	var counted, used atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				resp, err := be.Sample(ctx, req)
				if err != nil {
					if ctx.Err() == nil {
						b.Error(err)
					}
					return
				}
				if time.Since(start) >= warm {
					counted.Add(1)
					used.Add(int64(resp.Usage.PromptTokens + resp.Usage.CompletionTokens))
				}
			}
		})
	}
	wg.Wait()
	n := counted.Load()
	return float64(n) / window.Seconds(), float64(used.Load()) / float64(max(n, 1))
}
