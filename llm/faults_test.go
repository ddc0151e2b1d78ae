package llm_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/flexrec/flexrec/llm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// errBody is an error answer in the fake's wire format.
func errBody(format, msg string) string {
	if format == "ollama" {
		return fmt.Sprintf(`{"error":%q}`, msg)
	}
	return fmt.Sprintf(`{"error":{"message":%q,"type":"invalid_request_error"}}`, msg)
}

const secretKey = "sk-secret-0123456789"

type faultCase struct {
	name   string
	faults func(format string) []fault
	setup  func(*fake)
	edit   func(*llm.Request)
	ctxTTL time.Duration // 0: no deadline
	// want: nil error, or one errors.Is / errors.As target and a message part.
	wantIs    error
	wantCode  int
	wantMsg   string
	wantCalls int64
	wantWait  time.Duration // the first backoff wait, at least
	maxWait   time.Duration // and at most (0: unchecked)
	check     func(*testing.T, *llm.Response, *fake)
}

func faultCases() []faultCase {
	one := func(f fault) func(string) []fault { return func(string) []fault { return []fault{f} } }
	return []faultCase{
		{name: "429 with Retry-After", wantCalls: 2, wantWait: 7 * time.Second, maxWait: 7 * time.Second,
			faults: func(fm string) []fault { return []fault{status(429, errBody(fm, "slow down"), "Retry-After", "7")} }},
		{name: "500 then success", wantCalls: 2, wantWait: 250 * time.Millisecond, maxWait: 750 * time.Millisecond,
			faults: func(fm string) []fault { return []fault{status(500, errBody(fm, "boom"))} }},
		{name: "503 every time", wantCode: 503, wantMsg: "giving up after 3 attempts", wantCalls: 3,
			faults: func(fm string) []fault {
				f := status(503, errBody(fm, "overloaded"))
				return []fault{f, f, f}
			}},
		{name: "hang past the timeout", wantCalls: 2, faults: one(hang)},
		{name: "hang every time", wantIs: llm.ErrTimeout, wantMsg: "timed out", wantCalls: 3,
			faults: func(string) []fault { return []fault{hang, hang, hang} }},
		{name: "truncated JSON then success", wantCalls: 2, faults: one(truncated)},
		{name: "connection reset then success", wantCalls: 2, faults: one(reset)},
		{name: "missing logprobs", wantIs: llm.ErrNoLogprobs, wantMsg: "no token logprobs", wantCalls: 1,
			setup: func(f *fake) { f.noLogprobs = true }},
		{name: "missing logprobs allowed", wantCalls: 1,
			setup: func(f *fake) { f.noLogprobs = true },
			edit:  func(r *llm.Request) { r.AllowMissingLogprobs = true },
			check: func(t *testing.T, r *llm.Response, _ *fake) {
				assert.NotEmpty(t, r.Samples[0].Text)
				assert.Nil(t, r.Samples[0].Tokens, "tokens of a server without logprobs")
			}},
		{name: "401 bad key", wantIs: llm.ErrAuth, wantCode: 401, wantMsg: "Unauthorized: the server", wantCalls: 1,
			faults: func(fm string) []fault {
				msg := "unauthorized"
				if fm == "openai" { // a server echoing the key it got
					msg = "Incorrect API key provided: " + secretKey
				}
				return []fault{status(401, errBody(fm, msg))}
			}},
		{name: "unknown model", wantIs: llm.ErrUnknownModel, wantCode: 404, wantMsg: "available: flexrec-tiny", wantCalls: 1,
			edit: func(r *llm.Request) { r.Model = "nope" }},
		{name: "400 is not retried", wantCode: 400, wantMsg: "bad field", wantCalls: 1,
			faults: func(fm string) []fault { return []fault{status(400, errBody(fm, "bad field"))} }},
		{name: "Retry-After past the deadline", wantCode: 429, wantMsg: "past the deadline", wantCalls: 1, ctxTTL: time.Second,
			faults: func(fm string) []fault { return []fault{status(429, errBody(fm, "later"), "Retry-After", "60")} }},
	}
}

// TestFaults runs the fault table against each backend behind Retry on a
// fake clock (no test sleeps for a backoff).
func TestFaults(t *testing.T) {
	for _, format := range []string{"openai", "ollama"} {
		for _, tc := range faultCases() {
			t.Run(format+"/"+tc.name, func(t *testing.T) { runFault(t, format, tc) })
		}
	}
}

func runFault(t *testing.T, format string, tc faultCase) {
	f := newFake(t, format)
	if tc.setup != nil {
		tc.setup(f)
	}
	if tc.faults != nil {
		f.queue(tc.faults(format)...)
	}
	var b llm.Backend = newOllamaBackend(t, f.URL())
	if format == "openai" {
		b = newOpenAIBackend(t, f.URL(), secretKey)
	}
	cfg := llm.DefaultRetryConfig()
	cfg.MaxAttempts, cfg.AttemptTimeout = 3, 300*time.Millisecond
	r, err := llm.NewRetry(b, cfg)
	require.NoError(t, err)
	var waits []time.Duration
	llm.UseFakeClock(r, &waits)

	ctx := context.Background()
	if tc.ctxTTL > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, tc.ctxTTL)
		defer cancel()
	}
	req := &llm.Request{Model: "flexrec-tiny", Messages: chat("flexrec-tiny"), Seed: i64(1), Logprobs: true, MaxTokens: 100}
	if tc.edit != nil {
		tc.edit(req)
	}
	resp, err := r.Sample(ctx, req)
	assert.Equal(t, tc.wantCalls, f.chats.Load(), "chat requests the server saw")
	if tc.wantIs == nil && tc.wantCode == 0 {
		require.NoError(t, err, "Sample")
		require.Len(t, resp.Samples, 1)
		if tc.check != nil {
			tc.check(t, resp, f)
		}
	} else {
		require.Error(t, err, "Sample")
		checkFaultError(t, err, tc)
	}
	if tc.wantWait > 0 {
		require.NotEmpty(t, waits, "backoff waits")
		assert.GreaterOrEqual(t, waits[0], tc.wantWait, "first wait")
		if tc.maxWait > 0 {
			assert.LessOrEqual(t, waits[0], tc.maxWait, "first wait")
		}
	}
	assert.Len(t, waits, int(tc.wantCalls-1), "one backoff wait per retry")
}

func checkFaultError(t *testing.T, err error, tc faultCase) {
	t.Helper()
	if tc.wantIs != nil {
		assert.True(t, errors.Is(err, tc.wantIs), "errors.Is(%v, %v)", err, tc.wantIs)
	}
	if tc.wantCode != 0 {
		var se *llm.StatusError
		require.True(t, errors.As(err, &se), "errors.As(%v, *StatusError)", err)
		assert.Equal(t, tc.wantCode, se.Code)
	}
	assert.Contains(t, err.Error(), tc.wantMsg)
	assert.NotContains(t, err.Error(), secretKey, "the error leaks the API key")
}

// TestOllamaTooOld: a server before logprobs is named in the error, and
// with AllowMissingLogprobs the request goes on without asking for them.
func TestOllamaTooOld(t *testing.T) {
	f := newFake(t, "ollama")
	f.version = "0.12.3"
	b := newOllamaBackend(t, f.URL())
	req := &llm.Request{Model: "flexrec-tiny", Messages: chat(""), Logprobs: true, TopLogprobs: 2}
	_, err := b.Sample(context.Background(), req)
	require.Error(t, err)
	assert.True(t, errors.Is(err, llm.ErrNoLogprobs), "errors.Is(%v, ErrNoLogprobs)", err)
	assert.Contains(t, err.Error(), "Ollama 0.12.3")
	assert.Contains(t, err.Error(), llm.MinOllamaLogprobsVersion)
	assert.Zero(t, f.chats.Load(), "no chat request to a server too old")

	req.AllowMissingLogprobs = true
	resp, err := b.Sample(context.Background(), req)
	require.NoError(t, err)
	assert.Nil(t, resp.Samples[0].Tokens)
	_, asked := f.lastBody()["logprobs"]
	assert.False(t, asked, "logprobs asked of a server too old")
}
