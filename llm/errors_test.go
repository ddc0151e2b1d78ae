package llm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestIsRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"429", &StatusError{Code: 429}, true},
		{"500", &StatusError{Code: 500}, true},
		{"502 wrapped", fmt.Errorf("x: %w", &StatusError{Code: 502}), true},
		{"503", &StatusError{Code: 503}, true},
		{"408", &StatusError{Code: 408}, true},
		{"400", &StatusError{Code: 400}, false},
		{"401", &StatusError{Code: 401}, false},
		{"403", &StatusError{Code: 403}, false},
		{"404", &StatusError{Code: 404}, false},
		{"501", &StatusError{Code: 501}, false},
		{"attempt timeout", fmt.Errorf("%w: %w", ErrTimeout, context.DeadlineExceeded), true},
		{"caller deadline", context.DeadlineExceeded, false},
		{"canceled", fmt.Errorf("post: %w", context.Canceled), false},
		{"connection reset", &url.Error{Op: "Post", URL: "u", Err: syscall.ECONNRESET}, true},
		{"broken pipe", syscall.EPIPE, true},
		{"body cut short", fmt.Errorf("decode: %w", io.ErrUnexpectedEOF), true},
		{"net timeout", &url.Error{Op: "Post", URL: "u", Err: timeoutErr{}}, true},
		{"connection refused", &url.Error{Op: "Post", URL: "u", Err: &net.OpError{Op: "dial", Net: "tcp",
			Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}}, true},
		{"dial failure", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("no route to host")}, true},
		{"unknown host", &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}}, false},
		{"EOF before the answer", &url.Error{Op: "Post", URL: "u", Err: io.EOF}, true},
		{"server closed idle connection", &url.Error{Op: "Post", URL: "u", Err: errors.New("http: server closed idle connection")}, true},
		{"425", &StatusError{Code: 425}, true},
		{"504", &StatusError{Code: 504}, true},
		{"505", &StatusError{Code: 505}, false},
		{"200 with an error object", fmt.Errorf("x: %w", &AnswerError{Code: 200, Problem: "error object"}), true},
		{"canceled during a reset", fmt.Errorf("%w: %w", context.Canceled, syscall.ECONNRESET), false},
		{"caller deadline during EOF", fmt.Errorf("%w: %w", context.DeadlineExceeded, io.EOF), false},
		{"no logprobs", ErrNoLogprobs, false},
		{"syntax", errors.New("invalid character"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, IsRetryable(tt.err), "IsRetryable(%v)", tt.err)
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{"1.5", 1500 * time.Millisecond},
		{"0", 0},
		{"-3", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.value != "" {
			h.Set("Retry-After", tt.value)
		}
		assert.Equal(t, tt.want, parseRetryAfter(h, now), "Retry-After %q", tt.value)
	}
}

func TestStatusErrorUnwrap(t *testing.T) {
	assert.ErrorIs(t, &StatusError{Code: 401}, ErrAuth)
	assert.ErrorIs(t, &StatusError{Code: 403}, ErrAuth)
	assert.ErrorIs(t, &StatusError{Code: 404, Models: []string{}}, ErrUnknownModel)
	assert.NotErrorIs(t, &StatusError{Code: 404}, ErrUnknownModel, "a 404 not confirmed by the model list")
	e := &StatusError{Backend: "openai http://x/v1", Model: "m", Code: 404, Models: []string{}, Message: "gone"}
	assert.Equal(t, `llm: openai http://x/v1: HTTP 404 Not Found: model "m" is not served here; available: none: gone`, e.Error())
}

func TestMergeMembers(t *testing.T) {
	tests := []struct{ body, members, want string }{
		{`{"a":1}`, `"b":2`, `{"a":1,"b":2}`},
		{`{}`, `"b":2`, `{"b":2}`},
		{"{\"a\":1}\n", `"b":2,"c":{}`, `{"a":1,"b":2,"c":{}}`},
	}
	for _, tt := range tests {
		got, err := mergeMembers([]byte(tt.body), []byte(tt.members))
		require.NoError(t, err)
		assert.JSONEq(t, tt.want, string(got))
	}
	_, err := mergeMembers([]byte(`[1]`), []byte(`"b":2`))
	assert.Error(t, err)
}

func TestRedact(t *testing.T) {
	assert.Equal(t, "bad key <redacted>!", redact("bad key sk-1!", "sk-1"))
	assert.Equal(t, "no key here", redact("no key here", ""))
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in   string
		want [3]int
		ok   bool
	}{
		{"0.17.4", [3]int{0, 17, 4}, true},
		{"v0.12.11-rc2", [3]int{0, 12, 11}, true},
		{"0.0.0", [3]int{}, true},
		{"1.2", [3]int{}, false},
		{"x.y.z", [3]int{}, false},
	}
	for _, tt := range tests {
		got, ok := parseVersion(tt.in)
		assert.Equal(t, tt.ok, ok, "parseVersion(%q) ok", tt.in)
		if tt.ok {
			assert.Equal(t, tt.want, got, "parseVersion(%q)", tt.in)
		}
	}
}
