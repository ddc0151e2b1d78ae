package llm_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flexrec/flexrec/llm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ctrlC is how long a cancelled call may take to return: the issue's
// bound for Ctrl-C against a hung server.
const ctrlC = 2 * time.Second

// hungServer accepts requests and never answers them (until the test
// ends), counting them.
func hungServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/version" {
			writeJSON(w, 200, map[string]string{"version": "0.17.4"})
			return
		}
		hits.Add(1)
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	return srv, &hits
}

// cancelAfter runs call with a context cancelled after d and returns its
// error and how long it took past the cancel.
func cancelAfter(d time.Duration, call func(context.Context) error) (time.Duration, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cancelled time.Time
	timer := time.AfterFunc(d, func() { cancelled = time.Now(); cancel() })
	defer timer.Stop()
	err := call(ctx)
	return time.Since(cancelled), err
}

// TestCancelHungServer: Ctrl-C while a request hangs on a server that
// never answers returns within 2 s, with the default 5-minute attempt
// timeout and retries in place, and is never retried.
func TestCancelHungServer(t *testing.T) {
	for _, format := range []string{"openai", "ollama"} {
		t.Run(format, func(t *testing.T) {
			srv, hits := hungServer(t)
			var b llm.Backend = newOllamaBackend(t, srv.URL)
			if format == "openai" {
				b = newOpenAIBackend(t, srv.URL+"/v1", "sk-test")
			}
			st, err := llm.NewStack(b, llm.DefaultStackConfig())
			require.NoError(t, err)
			took, err := cancelAfter(200*time.Millisecond, func(ctx context.Context) error {
				_, err := st.Sample(ctx, matrixRequest())
				return err
			})
			require.Error(t, err)
			assert.True(t, errors.Is(err, context.Canceled), "errors.Is(%v, context.Canceled)", err)
			assert.Less(t, took, ctrlC, "return after the cancel")
			assert.Equal(t, int64(1), hits.Load(), "chat requests: a cancelled call is not retried")
			assert.Equal(t, int64(0), st.Progress().Retries)
		})
	}
}

// scripted is a backend failing every call with err, or answering at
// once when err is nil.
type scripted struct {
	calls atomic.Int64
	err   error
}

func (s *scripted) Sample(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	s.calls.Add(1)
	if s.err != nil {
		return nil, s.err
	}
	return &llm.Response{Samples: []llm.Sample{{Text: "ok"}}, Usage: llm.Usage{PromptTokens: 10, CompletionTokens: 2}}, nil
}

// TestCancelEndsEveryWait: cancelling ends a retry's backoff wait, a
// server's long Retry-After and each limiter wait at once; no wait
// outlives the context.
func TestCancelEndsEveryWait(t *testing.T) {
	retryAfter := &llm.StatusError{Code: 429, Message: "later", RetryAfter: time.Minute}
	tests := []struct {
		name  string
		err   error
		limit llm.LimitConfig
		// first makes a call that fills the limit before the measured one.
		first bool
		want  llm.Throttle
	}{
		{name: "exponential backoff", err: &llm.StatusError{Code: 503}, want: llm.ThrottleBackoff},
		{name: "Retry-After of a minute", err: retryAfter, want: llm.ThrottleBackoff},
		{name: "request rate", limit: llm.LimitConfig{RequestsPerSecond: 1.0 / 3600}, first: true, want: llm.ThrottleRPS},
		{name: "token rate", limit: llm.LimitConfig{TokensPerMinute: 60}, first: true, want: llm.ThrottleTPM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := &scripted{err: tt.err}
			cfg := llm.DefaultStackConfig()
			cfg.Retry.InitialInterval, cfg.Retry.MaxInterval = time.Minute, time.Minute
			cfg.Limit = tt.limit
			st, err := llm.NewStack(be, cfg)
			require.NoError(t, err)
			req := &llm.Request{Model: "m", Messages: chat(""), MaxTokens: 5}
			if tt.first {
				_, err := st.Sample(context.Background(), req)
				require.NoError(t, err, "the call that fills the limit")
			}
			throttle := make(chan llm.Throttle, 1)
			took, err := cancelAfter(300*time.Millisecond, func(ctx context.Context) error {
				go func() {
					time.Sleep(150 * time.Millisecond) // the call is waiting by now
					throttle <- st.Progress().Throttle
				}()
				_, err := st.Sample(ctx, req)
				return err
			})
			require.Error(t, err)
			assert.True(t, errors.Is(err, context.Canceled), "errors.Is(%v, context.Canceled)", err)
			assert.Less(t, took, ctrlC, "return after the cancel")
			assert.Equal(t, tt.want, <-throttle, "Progress().Throttle while the call waits")
			p := st.Progress()
			assert.Equal(t, llm.Waiting{}, p.Waiting, "no call waits after the cancel")
			assert.Equal(t, llm.ThrottleNone, p.Throttle)
		})
	}
}

// TestRetryWaitPastDeadline: a backoff wait that would end past the
// caller's deadline is not started: the call fails at once, naming it.
func TestRetryWaitPastDeadline(t *testing.T) {
	be := &scripted{err: &llm.StatusError{Code: 503, Message: "busy"}}
	cfg := llm.DefaultRetryConfig()
	cfg.InitialInterval, cfg.MaxInterval, cfg.Jitter = 10*time.Second, 10*time.Second, 0
	r, err := llm.NewRetry(be, cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err = r.Sample(ctx, &llm.Request{Model: "m", Messages: chat("")})
	require.Error(t, err)
	assert.Less(t, time.Since(start), ctrlC, "failed at once, not at the deadline")
	assert.Contains(t, err.Error(), "past the deadline")
	assert.Contains(t, err.Error(), "busy", "the server's message")
	assert.Equal(t, int64(1), be.calls.Load())
}

// TestNetworkErrorsHideURLSecrets: a key in the base URL's user info or
// query never reaches the error of a failed connection.
func TestNetworkErrorsHideURLSecrets(t *testing.T) {
	addr := closedPort(t)
	base := fmt.Sprintf("http://user:sk-userinfo-canary@%s/v1?api_key=sk-query-canary", addr)
	backends := map[string]llm.Backend{
		"openai": newOpenAIBackend(t, base, ""),
		"ollama": newOllamaBackend(t, fmt.Sprintf("http://user:sk-userinfo-canary@%s?api_key=sk-query-canary", addr)),
	}
	for name, b := range backends {
		t.Run(name, func(t *testing.T) {
			_, err := b.Sample(context.Background(), &llm.Request{Model: "m", Messages: chat("")})
			require.Error(t, err)
			assert.True(t, llm.IsRetryable(err), "a refused connection is retryable: %v", err)
			assert.NotContains(t, err.Error(), "canary")
		})
	}
}

// TestStackAttemptTimeout: in a Stack the attempt timeout bounds the time
// at the server, not the wait for the limits: a try that waits 400 ms for
// the request rate still has its 300 ms at the server, and a hung try is
// cut at 300 ms and retried.
func TestStackAttemptTimeout(t *testing.T) {
	f := newFake(t, "ollama")
	cfg := llm.DefaultStackConfig()
	cfg.Retry.AttemptTimeout, cfg.Retry.InitialInterval = 300*time.Millisecond, time.Millisecond
	cfg.Limit = llm.LimitConfig{RequestsPerSecond: 2.5}
	st, err := llm.NewStack(newOllamaBackend(t, f.URL()), cfg)
	require.NoError(t, err)
	_, err = st.Sample(context.Background(), matrixRequest())
	require.NoError(t, err, "the first call")
	_, err = st.Sample(context.Background(), matrixRequest())
	require.NoError(t, err, "a call that waits 400 ms for the request rate")
	f.queue(hangFault)
	_, err = st.Sample(context.Background(), matrixRequest())
	require.NoError(t, err, "a call whose first try hangs")
	assert.Equal(t, int64(4), f.chats.Load(), "chat requests")
	assert.Equal(t, int64(1), st.Progress().Retries)
}
