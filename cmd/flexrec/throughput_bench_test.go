package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/batch/batchtest"
	"github.com/flexrec/flexrec/eval/dataset"
	"github.com/flexrec/flexrec/pipeline"
	"github.com/flexrec/flexrec/rollout"
)

// benchLatency is the loopback server's answer time.
const benchLatency = 200 * time.Millisecond

// slowServer answers every chat completion after benchLatency with the
// fake's deterministic completion, and records the most requests it held
// at once.
func slowServer() (*httptest.Server, *atomic.Int64) {
	var now, peak atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := now.Add(1)
		defer now.Add(-1)
		for p := peak.Load(); n > p; p = peak.Load() {
			if peak.CompareAndSwap(p, n) {
				break
			}
		}
		body, _ := io.ReadAll(r.Body)
		time.Sleep(benchLatency)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(batchtest.Answer(body)) // the client reports a short answer
	}))
	return srv, &peak
}

// BenchmarkThroughput measures requests per second against a loopback
// server answering after 200 ms, at concurrency 16, 64 and 256: rollout.Run
// through the real OpenAI backend and its decorator stack (G = 8, episodes
// of 10 candidates), and a bare Go HTTP client sending the same number of
// requests (twelve waves of the concurrency) at the same concurrency, in
// the same run. Metrics: req/s of
// each, of_ideal = rollout req/s ÷ (concurrency ÷ latency), vs_bare =
// rollout ÷ bare, and the server's peak of requests in flight. Run it
// once per size:
//
//	go test ./cmd/flexrec -run '^$' -bench Throughput -benchtime 1x
//
// It asserts nothing about time: the figures go to docs/scale.md.
func BenchmarkThroughput(b *testing.B) {
	for _, conc := range []int{16, 64, 256} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			total := conc * 12 // twelve waves: mostly steady state; ramp-up and drain still count, as in a real job
			eps := benchEpisodes(b, total/8)
			for range b.N {
				srv, peak := slowServer()
				rps := benchRollout(b, srv.URL+"/v1", eps, conc)
				bare := benchBare(b, srv.URL+"/v1/chat/completions", total, conc)
				srv.Close()
				b.ReportMetric(rps, "req/s")
				b.ReportMetric(bare, "bare_req/s")
				b.ReportMetric(rps/(float64(conc)/benchLatency.Seconds()), "of_ideal")
				b.ReportMetric(rps/bare, "vs_bare")
				b.ReportMetric(float64(peak.Load()), "peak_in_flight")
			}
		})
	}
}

func benchEpisodes(b *testing.B, n int) string {
	path := filepath.Join(b.TempDir(), "eps.jsonl")
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"episodes", "--limit", fmt.Sprint(n), "--candidates", "10", "--out", path},
		strings.NewReader(""), &out, &errb)
	require.Equal(b, 0, code, "episodes: %s", errb.String())
	return path
}

// benchRollout runs rollout.Run over the episodes and returns requests/s.
func benchRollout(b *testing.B, baseURL, path string, conc int) float64 {
	ctx := context.Background()
	eps, err := dataset.ReadEpisodesFile(ctx, path)
	require.NoError(b, err)
	bc := pipeline.DefaultJob().Backend
	bc.Kind, bc.Model, bc.BaseURL, bc.Concurrency = "openai", "bench", baseURL, conc
	ob, err := pipeline.OpenBackend(ctx, bc, nil, "", nil)
	require.NoError(b, err)
	cfg := rollout.DefaultConfig()
	cfg.Model, cfg.MaxTokens = "bench", 100
	r, err := rollout.NewRunner(ob, rollout.BackendInfo{Name: "openai", Model: "bench"}, cfg, nil)
	require.NoError(b, err)
	start := time.Now()
	st, err := rollout.Run(ctx, r, eps, rollout.RunOptions{Path: filepath.Join(b.TempDir(), "r.jsonl"), Concurrency: conc})
	require.NoError(b, err)
	return float64(st.Rollouts) / time.Since(start).Seconds()
}

// benchBare sends total requests with conc workers through a plain
// net/http client and returns requests/s.
func benchBare(b *testing.B, url string, total, conc int) float64 {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = conc
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	body := []byte(`{"model":"bench","messages":[{"role":"user","content":"rank [1] [2] [3]"}],"logprobs":true}`)
	var left atomic.Int64
	left.Store(int64(total))
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				resp, err := client.Post(url, "application/json", bytes.NewReader(body))
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body) // drained for reuse; the answer does not matter
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	return float64(total) / time.Since(start).Seconds()
}
