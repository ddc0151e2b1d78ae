package llm_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flexrec/flexrec/llm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLimiterRefund: the unused part of a call's token estimate comes back
// when the answer arrives, so the next call does not wait for it. 600
// tokens a minute holds 60; the first call's estimate is 54 (4 for the
// prompt, MaxTokens 50), the second's 44 for its prompt plus the learned
// completion: it fits only if the first call's surplus came back.
func TestLimiterRefund(t *testing.T) {
	tests := []struct {
		name     string
		usage    llm.Usage
		wantWait bool
	}{
		{"usage below the estimate is refunded", llm.Usage{PromptTokens: 2, CompletionTokens: 2}, false},
		{"usage at the estimate is kept", llm.Usage{PromptTokens: 5, CompletionTokens: 55}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := llm.NewLimiter(&stub{usage: tt.usage}, llm.LimitConfig{TokensPerMinute: 600})
			require.NoError(t, err)
			req := stubReq("x")
			req.MaxTokens = 50
			_, err = l.Sample(context.Background(), req)
			require.NoError(t, err)
			req = stubReq(strings.Repeat("p", 160))
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			_, err = l.Sample(ctx, req)
			if tt.wantWait {
				assert.ErrorContains(t, err, "token rate limit", "the second call must wait for the budget")
			} else {
				assert.NoError(t, err, "the refund pays the second call")
			}
		})
	}
}

// TestStackProgress: counts of calls, tokens, cost and retries, and the
// concurrency limit named while calls queue for a slot.
func TestStackProgress(t *testing.T) {
	s := &stub{usage: llm.Usage{PromptTokens: 1000, CompletionTokens: 100}, block: make(chan struct{})}
	cfg := llm.DefaultStackConfig()
	cfg.Limit = llm.LimitConfig{MaxConcurrent: 2}
	cfg.Prices = llm.Prices{InputPerMillion: 1, OutputPerMillion: 10}
	st, err := llm.NewStack(s, cfg)
	require.NoError(t, err)
	assert.Equal(t, llm.StackProgress{Throttle: llm.ThrottleNone}, st.Progress(), "before any call")
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			_, err := st.Sample(context.Background(), stubReq("x"))
			assert.NoError(t, err)
		})
	}
	require.Eventually(t, func() bool {
		p := st.Progress()
		return p.InFlight == 2 && p.Waiting.Concurrency == 3
	}, 5*time.Second, time.Millisecond, "2 calls at the server, 3 waiting for a slot")
	assert.Equal(t, llm.ThrottleConcurrency, st.Progress().Throttle)
	close(s.block)
	wg.Wait()
	p := st.Progress()
	assert.Equal(t, int64(5), p.Calls)
	assert.Equal(t, llm.Usage{PromptTokens: 5000, CompletionTokens: 500}, p.Usage)
	assert.InDelta(t, 5*(1000*1+100*10)/1e6, p.Cost, 1e-12, "5 × (1000 × 1 + 100 × 10) / 1e6")
	assert.Equal(t, llm.ThrottleNone, p.Throttle)
	assert.Equal(t, llm.Waiting{}, p.Waiting)
	assert.Positive(t, p.Waited.Concurrency, "time waited for slots")
	assert.Zero(t, p.Retries)
}

// TestStackProgressRetries: retries are counted, and the failure of a
// call that gave up is a failure once, not once per attempt.
func TestStackProgressRetries(t *testing.T) {
	be := &scripted{err: &llm.StatusError{Code: 503, Message: "busy"}}
	cfg := llm.DefaultStackConfig()
	cfg.Retry.MaxAttempts, cfg.Retry.InitialInterval, cfg.Retry.MaxInterval = 3, time.Millisecond, time.Millisecond
	st, err := llm.NewStack(be, cfg)
	require.NoError(t, err)
	_, err = st.Sample(context.Background(), stubReq("x"))
	require.Error(t, err)
	p := st.Progress()
	assert.Equal(t, int64(2), p.Retries)
	assert.Equal(t, int64(1), p.Failures)
	assert.Positive(t, p.Waited.Backoff)
	assert.Equal(t, int64(3), be.calls.Load())
}

// TestLimiterSpreadsTokens: 6000 tokens a minute lets out at most 600 at
// once (a tenth), so of calls using 100 tokens each, six go back to back
// and the seventh must wait; before, the whole minute's budget went out
// in the first second.
func TestLimiterSpreadsTokens(t *testing.T) {
	l, err := llm.NewLimiter(&stub{usage: llm.Usage{PromptTokens: 50, CompletionTokens: 50}}, llm.LimitConfig{TokensPerMinute: 6000})
	require.NoError(t, err)
	req := stubReq("x")
	req.MaxTokens = 96 // with the prompt's 4, an estimate of 100
	done := 0
	for range 60 {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, err := l.Sample(ctx, req)
		cancel()
		if err != nil {
			assert.ErrorContains(t, err, "token rate limit")
			break
		}
		done++
	}
	assert.Equal(t, 6, done, "calls let through at once")
}
