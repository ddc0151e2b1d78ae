package llm_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flexrec/flexrec/llm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stub is a Backend answering with a fixed usage; block, when set, holds
// each call until it is closed.
type stub struct {
	calls    atomic.Int64
	inFlight atomic.Int64
	peak     atomic.Int64
	usage    llm.Usage
	block    chan struct{}
}

func (s *stub) Sample(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	s.calls.Add(1)
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for {
		p := s.peak.Load()
		if n <= p || s.peak.CompareAndSwap(p, n) {
			break
		}
	}
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	resp := &llm.Response{Model: req.Model, Usage: s.usage}
	for i := range req.Samples() {
		resp.Samples = append(resp.Samples, llm.Sample{Text: "answer " + req.Messages[0].Content, Seed: req.Seed,
			Tokens: []llm.Token{{Text: "answer", Logprob: -0.5 * float64(i+1)}}})
	}
	return resp, nil
}

func (s *stub) String() string { return "stub http://127.0.0.1:1" }

func stubReq(content string) *llm.Request {
	return &llm.Request{Model: "m", Messages: []llm.Message{{Role: "user", Content: content}}, Seed: i64(1)}
}

func TestCacheHitsCostNothing(t *testing.T) {
	s := &stub{}
	c, err := llm.NewCache(s, llm.CacheConfig{Dir: t.TempDir()})
	require.NoError(t, err)
	ctx := context.Background()
	first, err := c.Sample(ctx, stubReq("a"))
	require.NoError(t, err)
	assert.False(t, first.Cached)
	again, err := c.Sample(ctx, stubReq("a"))
	require.NoError(t, err)
	assert.True(t, again.Cached, "second identical request")
	assert.Equal(t, first.Samples, again.Samples)
	assert.Equal(t, int64(1), s.calls.Load(), "backend calls")
	_, err = c.Sample(ctx, stubReq("b"))
	require.NoError(t, err)
	assert.Equal(t, int64(2), s.calls.Load(), "a different request reaches the backend")
	hits, misses := c.Stats()
	assert.Equal(t, [2]int64{1, 2}, [2]int64{hits, misses})
}

func TestCacheCorruptEntryIsRefetched(t *testing.T) {
	s := &stub{}
	dir := t.TempDir()
	c, err := llm.NewCache(s, llm.CacheConfig{Dir: dir})
	require.NoError(t, err)
	req := stubReq("a")
	_, err = c.Sample(context.Background(), req)
	require.NoError(t, err)
	key, err := llm.CacheKey(s.String(), req)
	require.NoError(t, err)
	path := filepath.Join(dir, key[:2], key+".json")
	require.FileExists(t, path)
	require.NoError(t, os.WriteFile(path, []byte(`{"samples": [`), 0o600))
	resp, err := c.Sample(context.Background(), req)
	require.NoError(t, err)
	assert.False(t, resp.Cached)
	assert.Equal(t, int64(2), s.calls.Load())
	resp, err = c.Sample(context.Background(), req)
	require.NoError(t, err)
	assert.True(t, resp.Cached, "the entry was rewritten")
}

// TestCacheKey: every field that shapes the answer changes the key; the
// API key never enters it.
func TestCacheKey(t *testing.T) {
	base := func() *llm.Request {
		return &llm.Request{Model: "m", Messages: chat(""), N: 2, Temperature: f64(1), TopP: f64(0.9), Seed: i64(3),
			MaxTokens: 100, Stop: []string{"x"}, Logprobs: true, TopLogprobs: 5,
			JSONSchema: map[string]any{"type": "object", "required": []string{"a"}}}
	}
	want, err := llm.CacheKey("ns", base())
	require.NoError(t, err)
	assert.Len(t, want, 64)
	edits := map[string]func(*llm.Request){
		"model": func(r *llm.Request) { r.Model = "m2" }, "message": func(r *llm.Request) { r.Messages[1].Content += "!" },
		"role": func(r *llm.Request) { r.Messages[0].Role = "user" }, "n": func(r *llm.Request) { r.N = 3 },
		"temperature 0": func(r *llm.Request) { r.Temperature = f64(0) }, "no temperature": func(r *llm.Request) { r.Temperature = nil },
		"top_p": func(r *llm.Request) { r.TopP = f64(1) }, "seed": func(r *llm.Request) { r.Seed = i64(4) },
		"seed 0": func(r *llm.Request) { r.Seed = i64(0) }, "max tokens": func(r *llm.Request) { r.MaxTokens = 101 },
		"stop": func(r *llm.Request) { r.Stop = nil }, "logprobs": func(r *llm.Request) { r.Logprobs, r.TopLogprobs = false, 0 },
		"top logprobs": func(r *llm.Request) { r.TopLogprobs = 4 }, "schema": func(r *llm.Request) { r.JSONSchema = nil },
		"think": func(r *llm.Request) { r.Think = new(bool) }, "allow missing": func(r *llm.Request) { r.AllowMissingLogprobs = true },
	}
	for name, edit := range edits {
		r := base()
		edit(r)
		got, err := llm.CacheKey("ns", r)
		require.NoError(t, err)
		assert.NotEqual(t, want, got, "key unchanged by %s", name)
	}
	got, err := llm.CacheKey("ns2", base())
	require.NoError(t, err)
	assert.NotEqual(t, want, got, "namespace")
	got, err = llm.CacheKey("ns", base())
	require.NoError(t, err)
	assert.Equal(t, want, got, "same request, same key")

	// Two OpenAI backends that differ only in their key share entries.
	a := newOpenAIBackend(t, "http://127.0.0.1:1/v1", "sk-one")
	b := newOpenAIBackend(t, "http://127.0.0.1:1/v1", "sk-two")
	assert.Equal(t, a.String(), b.String())
	assert.NotContains(t, a.String(), "sk-one")
}

// TestCacheNeverHoldsTheKey runs real requests through an OpenAI backend
// with a key and greps the cache folder for it.
func TestCacheNeverHoldsTheKey(t *testing.T) {
	f := newFake(t, "openai")
	dir := t.TempDir()
	c, err := llm.NewCache(newOpenAIBackend(t, f.URL(), secretKey), llm.CacheConfig{Dir: dir})
	require.NoError(t, err)
	_, err = c.Sample(context.Background(), &llm.Request{Model: "flexrec-tiny", Messages: chat(""), Seed: i64(1), Logprobs: true})
	require.NoError(t, err)
	files := 0
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		raw, err := os.ReadFile(p)
		require.NoError(t, err)
		assert.NotContains(t, string(raw), secretKey, "cache file %s", p)
		assert.False(t, strings.HasPrefix(d.Name(), ".tmp-"), "temporary file left behind: %s", p)
		return nil
	}))
	assert.Equal(t, 1, files)
}

// TestMeter checks counts and cost against hand-computed values, under
// concurrent callers.
func TestMeter(t *testing.T) {
	s := &stub{usage: llm.Usage{PromptTokens: 1000, CompletionTokens: 200}}
	m, err := llm.NewMeter(s, llm.Prices{InputPerMillion: 2, OutputPerMillion: 10})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for range 10 {
				_, err := m.Sample(context.Background(), stubReq("x"))
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	got := m.Totals()
	assert.Equal(t, int64(640), got.Calls)
	assert.Equal(t, int64(640), got.Samples)
	assert.Equal(t, llm.Usage{PromptTokens: 640_000, CompletionTokens: 128_000}, got.Usage)
	// 640 * (1000*2 + 200*10) / 1e6 = 640 * 0.004
	assert.InDelta(t, 2.56, got.Cost, 1e-9)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	blocked := &stub{block: make(chan struct{})}
	fm, err := llm.NewMeter(blocked, llm.Prices{})
	require.NoError(t, err)
	_, err = fm.Sample(ctx, stubReq("x"))
	require.Error(t, err)
	assert.Equal(t, llm.Totals{Failures: 1}, fm.Totals())
	_, err = llm.NewMeter(s, llm.Prices{InputPerMillion: -1})
	assert.Error(t, err, "negative price")
}

func TestLimiterConcurrency(t *testing.T) {
	s := &stub{block: make(chan struct{})}
	l, err := llm.NewLimiter(s, llm.LimitConfig{MaxConcurrent: 3})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			_, err := l.Sample(context.Background(), stubReq("x"))
			assert.NoError(t, err)
		})
	}
	require.Eventually(t, func() bool { return s.inFlight.Load() == 3 }, 5*time.Second, time.Millisecond)
	time.Sleep(20 * time.Millisecond) // would let a fourth call in, were the limit broken
	close(s.block)
	wg.Wait()
	assert.Equal(t, int64(3), s.peak.Load(), "peak concurrent calls")
	assert.Equal(t, int64(20), s.calls.Load())
}

// TestLimiterSamplesHoldSlots: a request for 5 samples holds all 3 slots.
func TestLimiterSamplesHoldSlots(t *testing.T) {
	s := &stub{block: make(chan struct{})}
	l, err := llm.NewLimiter(s, llm.LimitConfig{MaxConcurrent: 3})
	require.NoError(t, err)
	big := stubReq("big")
	big.N = 5
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err := l.Sample(context.Background(), big)
		assert.NoError(t, err)
	}()
	require.Eventually(t, func() bool { return s.inFlight.Load() == 1 }, 5*time.Second, time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err = l.Sample(ctx, stubReq("small"))
	assert.ErrorIs(t, err, context.DeadlineExceeded, "a one-sample call while 5 samples hold every slot")
	close(s.block)
	<-done
}

// TestLimiterRates: past the request or token budget, a call that cannot
// be served before its deadline fails at once.
func TestLimiterRates(t *testing.T) {
	tests := []struct {
		name string
		cfg  llm.LimitConfig
		use  llm.Usage
	}{
		{"requests per second", llm.LimitConfig{RequestsPerSecond: 1}, llm.Usage{}},
		{"tokens per minute", llm.LimitConfig{TokensPerMinute: 60}, llm.Usage{PromptTokens: 5000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := llm.NewLimiter(&stub{usage: tt.use}, tt.cfg)
			require.NoError(t, err)
			_, err = l.Sample(context.Background(), stubReq("x"))
			require.NoError(t, err, "the first call is within budget")
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err = l.Sample(ctx, stubReq("x"))
			assert.ErrorContains(t, err, "rate limit")
			assert.Less(t, time.Since(start), 250*time.Millisecond, "failed at once, not at the deadline")
		})
	}
	_, err := llm.NewLimiter(&stub{}, llm.LimitConfig{MaxConcurrent: -1})
	assert.Error(t, err)
}

// TestStack: the cache sits outside the meter, so hits are not metered.
func TestStack(t *testing.T) {
	s := &stub{usage: llm.Usage{PromptTokens: 10, CompletionTokens: 5}}
	cfg := llm.DefaultStackConfig()
	cfg.CacheDir = t.TempDir()
	st, err := llm.NewStack(s, cfg)
	require.NoError(t, err)
	for range 3 {
		_, err := st.Sample(context.Background(), stubReq("x"))
		require.NoError(t, err)
	}
	assert.Equal(t, int64(1), st.Meter.Totals().Calls)
	assert.Equal(t, int64(1), s.calls.Load())
	assert.Equal(t, "stub http://127.0.0.1:1", st.String())
}
