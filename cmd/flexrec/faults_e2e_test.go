package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// faultKinds are the transient faults the proxy injects: every one a
// real deployment produces (a restart, a proxy's idle timeout, an
// overloaded server, a load balancer cutting a body) and a real server
// will not produce on demand.
var faultKinds = []string{"eof", "reset", "hang-eof", "truncated", "408", "425", "429", "500", "502", "503", "504", "200-error", "200-empty"}

// faultProxy forwards to a real server and injects a seeded share of
// faults into the sampling requests (POSTs); other requests pass.
type faultProxy struct {
	rp      *httputil.ReverseProxy
	openai  bool
	rate    float64
	mu      sync.Mutex
	rng     *rand.Rand
	counts  map[string]int
	samples int
}

func newFaultProxy(t *testing.T, target string, openai bool, rate float64, seed uint64) (*faultProxy, string) {
	u, err := url.Parse(target)
	require.NoError(t, err)
	p := &faultProxy{rp: httputil.NewSingleHostReverseProxy(u), openai: openai, rate: rate,
		rng: rand.New(rand.NewPCG(seed, seed+1)), counts: map[string]int{}}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv.URL
}

func (p *faultProxy) pick() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.samples++
	fault := ""
	if p.rng.Float64() < p.rate {
		faults := p.samples - 1 - p.counts[""]
		fault = faultKinds[faults%len(faultKinds)] // every kind in turn
		if fault == "200-empty" && !p.openai {
			fault = "200-error" // Ollama has no choices list to leave empty
		}
	}
	p.counts[fault]++
	return fault
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		p.rp.ServeHTTP(w, r)
		return
	}
	fault := p.pick()
	hangUp := func(linger bool) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		if tc, ok := conn.(*net.TCPConn); ok && linger {
			_ = tc.SetLinger(0) // close with RST: a connection reset
		}
		conn.Close()
	}
	switch fault {
	case "":
		p.rp.ServeHTTP(w, r)
	case "eof":
		hangUp(false)
	case "reset":
		hangUp(true)
	case "hang-eof":
		time.Sleep(300 * time.Millisecond)
		hangUp(false)
	case "truncated":
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "4096")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"id":"chatcmpl-1","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"[3] > [`))
	case "200-error":
		w.Header().Set("Content-Type", "application/json")
		if p.openai {
			_, _ = w.Write([]byte(`{"error":{"message":"injected: the model is overloaded","type":"server_error"}}`))
		} else {
			_, _ = w.Write([]byte(`{"error":"injected: the model is overloaded"}`))
		}
	case "200-empty":
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"chatcmpl-1","object":"chat.completion","model":"m","choices":[]}`))
	default:
		code, err := strconv.Atoi(fault)
		if err != nil {
			panic("faultKinds holds " + fault) // the table above is the test's own
		}
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "0.2")
		}
		http.Error(w, "injected "+fault, code)
	}
}

// TestRunUnderFaultMixRealOllama runs the main job through a proxy that
// injects a seeded 20% mix of every transient fault in front of the real
// Ollama, through both APIs, and checks that one invocation finishes with
// the outputs of a clean run, byte for byte: no episode lost, none twice.
func TestRunUnderFaultMixRealOllama(t *testing.T) {
	host, model := realOllama(t)
	for _, backend := range []string{"ollama", "openai"} {
		t.Run(backend, func(t *testing.T) {
			direct := host
			if backend == "openai" {
				direct = strings.TrimRight(host, "/") + "/v1"
			}
			proxy, purl := newFaultProxy(t, host, backend == "openai", 0.2, 7)
			if backend == "openai" {
				purl += "/v1"
			}
			cfg := filepath.Join(t.TempDir(), "job.yaml")
			require.NoError(t, os.WriteFile(cfg, []byte("episodes: {limit: 18, candidates: 12, history: 3}\n"), 0o644))
			base := []string{"--config", cfg, "--backend", backend, "--model", model, "--samples", "4", "--holdout", "0",
				"--max-tokens", "60", "--no-eval", "--cache=false", "--exports", "native,trl-grpo", "--concurrency", "4"}
			clean := filepath.Join(t.TempDir(), "clean")
			code, _, stderr := runCLI(t, "", append([]string{"run", "--out", clean, "--base-url", direct}, base...)...)
			require.Equal(t, 0, code, "clean run: %s", stderr)
			faulty := filepath.Join(t.TempDir(), "faulty")
			code, stdout, stderr := runCLI(t, "", append([]string{"run", "--out", faulty, "--base-url", purl, "--retries", "8"}, base...)...)
			require.Equal(t, 0, code, "one invocation under faults: %s", stderr)
			assert.Contains(t, stdout, "(complete)")
			faults := proxy.samples - proxy.counts[""]
			t.Logf("%s: %d sampling requests, %d faults injected %v, retries logged %d", backend, proxy.samples, faults,
				proxy.counts, strings.Count(stderr, "retrying"))
			require.Positive(t, faults, "the proxy injected faults")
			compared := 0
			require.NoError(t, filepath.WalkDir(clean, func(path string, d os.DirEntry, err error) error {
				rel, _ := filepath.Rel(clean, path)
				if err != nil || d.IsDir() || !(rel == "rollouts.jsonl" || strings.HasPrefix(rel, "exports"+string(filepath.Separator))) ||
					d.Name() == "manifest.json" {
					return err // manifests record timings
				}
				want, err := os.ReadFile(path)
				require.NoError(t, err)
				got, err := os.ReadFile(filepath.Join(faulty, rel))
				require.NoError(t, err, "%s under faults", rel)
				assert.True(t, bytes.Equal(want, got), "%s is byte-identical to the clean run's", rel)
				compared++
				return nil
			}))
			assert.GreaterOrEqual(t, compared, 3, "rollouts and the exports' files were compared")
			recs := readRecords(t, filepath.Join(faulty, "rollouts.jsonl"))
			keys := make([]string, len(recs))
			for i, r := range recs {
				keys[i] = fmt.Sprintf("%s/%d", r.EpisodeID, r.Rollout)
			}
			assert.Len(t, slices.Compact(slices.Clone(keys)), len(keys), "no rollout twice")
		})
	}
}
