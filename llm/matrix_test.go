package llm_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flexrec/flexrec/llm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The fault matrix: every transient fault a server, a proxy or the network
// produces, against both wire formats, behind Retry on a fake clock.

// eofBeforeAnswer reads the request and closes the connection without a
// byte of answer (a FIN: the client reads EOF).
func eofBeforeAnswer(w http.ResponseWriter, _ *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

// eofMidBody promises a long body, sends its start and closes.
func eofMidBody(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", "4096")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, `{"model":"flexrec-tiny","choices":[{"index":0,"message":{"role":"assi`) // the cut is the fault
	conn, _, err := w.(http.Hijacker).Hijack()                                                        // flushes what was written
	if err == nil {
		conn.Close()
	}
}

// hangFault answers only when the client gives up.
func hangFault(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

// matrixCase is one row of the fault matrix.
type matrixCase struct {
	name string
	// fault answers the first chat request; nil with refused.
	fault func(format string) fault
	// refused sends the first chat request to a closed port instead.
	refused bool
	// msg is the server's message that the retry log must show.
	msg string
	// wait is the least first backoff wait (a Retry-After); 0 unchecked.
	wait time.Duration
}

func transientCases() []matrixCase {
	st := func(code int, msg string, header ...string) func(string) fault {
		return func(fm string) fault { return status(code, errBody(fm, msg), header...) }
	}
	is := func(f fault) func(string) fault { return func(string) fault { return f } }
	return []matrixCase{
		{name: "connection refused", refused: true, msg: "connection refused"},
		{name: "EOF before the answer", fault: is(eofBeforeAnswer), msg: "EOF"},
		{name: "EOF mid-body", fault: is(eofMidBody), msg: "unexpected EOF"},
		{name: "connection reset", fault: is(reset), msg: "connection reset"},
		{name: "408", fault: st(408, "request timeout here"), msg: "request timeout here"},
		{name: "425", fault: st(425, "too early here"), msg: "too early here"},
		{name: "429 with Retry-After", fault: st(429, "slow down please", "Retry-After", "3"), msg: "slow down please", wait: 3 * time.Second},
		{name: "500", fault: st(500, "internal boom"), msg: "internal boom"},
		{name: "502", fault: st(502, "bad gateway here"), msg: "bad gateway here"},
		{name: "503", fault: st(503, "overloaded now"), msg: "overloaded now"},
		{name: "504", fault: st(504, "gateway timeout here"), msg: "gateway timeout here"},
		{name: "200 with an error object", fault: st(200, "model is loading"), msg: "model is loading"},
		{name: "200 without an answer", msg: "HTTP 200", fault: func(fm string) fault {
			if fm == "ollama" {
				return status(200, `{"model":"flexrec-tiny","done":false}`)
			}
			return status(200, `{"id":"x","object":"chat.completion","model":"flexrec-tiny","choices":[]}`)
		}},
		{name: "200 not JSON", fault: is(status(200, "<html>proxy says hi</html>")), msg: "proxy says hi"},
		{name: "truncated JSON", fault: is(truncated), msg: "unexpected EOF"},
		{name: "hang then timeout", fault: is(hangFault), msg: "timed out"},
	}
}

// countingDoer counts chat requests and, while refuse is set, sends the
// next one to a port where nothing listens.
type countingDoer struct {
	next   llm.HTTPDoer
	closed string // host:port of a closed port
	chats  atomic.Int64
	refuse atomic.Bool
}

func (d *countingDoer) Do(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/chat") || strings.HasSuffix(req.URL.Path, "/completions") {
		d.chats.Add(1)
		if d.refuse.Swap(false) {
			req = req.Clone(req.Context())
			req.URL.Host = d.closed
		}
	}
	return d.next.Do(req)
}

// closedPort returns a loopback host:port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// matrixBackend returns a format's backend on the fake behind a counting
// doer, and Retry around it on a fake clock, logging into log.
func matrixBackend(t *testing.T, f *fake, log *bytes.Buffer) (*countingDoer, *llm.Retry, *[]time.Duration) {
	t.Helper()
	doer := &countingDoer{next: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}, closed: closedPort(t)}
	var b llm.Backend
	if f.format == "openai" {
		cfg := llm.DefaultOpenAIConfig()
		cfg.BaseURL, cfg.APIKey, cfg.HTTPClient = f.URL(), secretKey, doer
		o, err := llm.NewOpenAI(cfg)
		require.NoError(t, err)
		b = o
	} else {
		o, err := llm.NewOllama(llm.OllamaConfig{Host: f.URL(), HTTPClient: doer})
		require.NoError(t, err)
		b = o
	}
	cfg := llm.DefaultRetryConfig()
	cfg.MaxAttempts, cfg.AttemptTimeout = 3, 300*time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: log}, nil))
	r, err := llm.NewRetry(b, cfg)
	require.NoError(t, err)
	var waits []time.Duration
	llm.UseFakeClock(r, &waits)
	return doer, r, &waits
}

// lockedWriter serializes writes to a buffer shared with the test.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func matrixRequest() *llm.Request {
	return &llm.Request{Model: "flexrec-tiny", Messages: chat("flexrec-tiny"), Seed: i64(1), Logprobs: true, MaxTokens: 100}
}

// TestFaultMatrix: every transient fault, once, against both backends: the
// call is retried once and succeeds, and the retry's log line carries the
// failure with the server's own message.
func TestFaultMatrix(t *testing.T) {
	faults, retried := 0, 0
	for _, format := range []string{"openai", "ollama"} {
		for _, tc := range transientCases() {
			t.Run(format+"/"+tc.name, func(t *testing.T) {
				f := newFake(t, format)
				var log bytes.Buffer
				doer, r, waits := matrixBackend(t, f, &log)
				if tc.refused {
					doer.refuse.Store(true)
				} else {
					f.queue(tc.fault(format))
				}
				resp, err := r.Sample(context.Background(), matrixRequest())
				require.NoError(t, err, "Sample after %s", tc.name)
				require.Len(t, resp.Samples, 1)
				assert.NotEmpty(t, resp.Samples[0].Tokens, "the retried answer is whole")
				assert.Equal(t, int64(2), doer.chats.Load(), "chat requests sent: the fault, then the retry")
				require.Len(t, *waits, 1, "one backoff wait")
				assert.GreaterOrEqual(t, (*waits)[0], tc.wait, "the wait honours Retry-After")
				assert.Contains(t, log.String(), "llm: retrying", "the retry is logged")
				assert.Contains(t, log.String(), tc.msg, "the retry log line carries the failure")
				assert.NotContains(t, log.String(), secretKey, "the log leaks the key")
				faults++
				retried += int(doer.chats.Load()) - 1
			})
		}
	}
	t.Logf("fault matrix: %d faults injected, %d retries, %d calls lost", faults, retried, faults-retried)
}

// TestFaultMatrixPermanent: 400, 401, 403 and 404 are answered once and
// never retried; the error is a *StatusError with the server's message.
func TestFaultMatrixPermanent(t *testing.T) {
	for _, format := range []string{"openai", "ollama"} {
		for _, code := range []int{400, 401, 403, 404} {
			t.Run(fmt.Sprintf("%s/%d", format, code), func(t *testing.T) {
				f := newFake(t, format)
				var log bytes.Buffer
				doer, r, waits := matrixBackend(t, f, &log)
				msg := fmt.Sprintf("no way %d", code)
				f.queue(status(code, errBody(format, msg)))
				_, err := r.Sample(context.Background(), matrixRequest())
				require.Error(t, err)
				var se *llm.StatusError
				require.True(t, errors.As(err, &se), "errors.As(%v, *StatusError)", err)
				assert.Equal(t, code, se.Code)
				assert.Contains(t, err.Error(), msg, "the server's message")
				assert.Equal(t, int64(1), doer.chats.Load(), "chat requests sent")
				assert.Empty(t, *waits, "backoff waits")
				assert.False(t, llm.IsRetryable(err))
			})
		}
	}
}

// TestUnusableAnswerKeepsTheMessage: a 200 with an error object every
// time ends, after the retries, in an *AnswerError with the server's
// message, and the key a server echoes is redacted.
func TestUnusableAnswerKeepsTheMessage(t *testing.T) {
	for _, format := range []string{"openai", "ollama"} {
		t.Run(format, func(t *testing.T) {
			f := newFake(t, format)
			var log bytes.Buffer
			doer, r, waits := matrixBackend(t, f, &log)
			msg := "upstream exploded"
			if format == "openai" {
				msg += " for key " + secretKey
			}
			bad := status(200, errBody(format, msg))
			f.queue(bad, bad, bad)
			_, err := r.Sample(context.Background(), matrixRequest())
			require.Error(t, err)
			var ae *llm.AnswerError
			require.True(t, errors.As(err, &ae), "errors.As(%v, *AnswerError)", err)
			assert.Equal(t, 200, ae.Code)
			assert.Contains(t, ae.Message, "upstream exploded")
			assert.Contains(t, err.Error(), "giving up after 3 attempts")
			assert.NotContains(t, err.Error(), secretKey, "the error leaks the key")
			assert.NotContains(t, log.String(), secretKey, "the log leaks the key")
			assert.Equal(t, int64(3), doer.chats.Load(), "chat requests sent")
			assert.Len(t, *waits, 2, "backoff waits")
		})
	}
}
