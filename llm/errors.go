package llm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Errors callers branch on, matched with errors.Is. A *StatusError unwraps
// to ErrAuth or ErrUnknownModel where that is what the server said.
var (
	// ErrUnknownModel means the server does not serve the requested model.
	// The *StatusError that wraps it lists the models the server offers,
	// where its API lists them (/v1/models, /api/tags).
	ErrUnknownModel = errors.New("llm: unknown model")
	// ErrNoLogprobs means logprobs were requested but the server sent none,
	// sent them in a layout this package does not read, or is too old to
	// give them. It is returned only when the request did not set
	// AllowMissingLogprobs.
	ErrNoLogprobs = errors.New("llm: server returned no logprobs")
	// ErrAuth means the server rejected the credentials (HTTP 401 or 403).
	ErrAuth = errors.New("llm: authentication failed")
	// ErrTimeout means one attempt ran past its per-request timeout while
	// the caller's context was still live. Retry retries it.
	ErrTimeout = errors.New("llm: request timed out")
)

// StatusError is an HTTP error answer from a backend. It never holds an
// API key: backends redact the key from server messages.
type StatusError struct {
	// Backend names the backend ("openai", "ollama") and its base URL.
	Backend string
	// Model is the requested model.
	Model string
	// Code is the HTTP status code.
	Code int
	// Message is the server's error message, or the start of its body.
	Message string
	// RetryAfter is the server's Retry-After delay; 0 when absent.
	RetryAfter time.Duration
	// Models lists the models the server offers. It is set (possibly
	// empty) only when a 404 was confirmed to mean an unknown model.
	Models []string
	// Hint says what to do, e.g. which key to check after a 401; may be
	// empty.
	Hint string
}

// Error describes the failure and what to do about it.
func (e *StatusError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "llm: %s: HTTP %d %s", e.Backend, e.Code, http.StatusText(e.Code))
	if e.Models != nil {
		fmt.Fprintf(&b, ": model %q is not served here; available: %s", e.Model, listOrNone(e.Models))
	}
	if e.Hint != "" {
		fmt.Fprintf(&b, ": %s", e.Hint)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %v)", e.RetryAfter)
	}
	return b.String()
}

func listOrNone(models []string) string {
	if len(models) == 0 {
		return "none"
	}
	return strings.Join(models, ", ")
}

// Unwrap returns ErrAuth for 401 and 403, ErrUnknownModel for a confirmed
// unknown model, and nil otherwise.
func (e *StatusError) Unwrap() error {
	switch {
	case e.Code == http.StatusUnauthorized || e.Code == http.StatusForbidden:
		return ErrAuth
	case e.Models != nil:
		return ErrUnknownModel
	}
	return nil
}

// Retryable reports whether the same request may succeed later: 408, 425,
// 429 and every 5xx except 501 and 505. 400, 401, 403 and 404 never are.
func (e *StatusError) Retryable() bool {
	switch e.Code {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	case http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
		return false
	}
	return e.Code >= 500 && e.Code < 600
}

// AnswerError is a success answer (HTTP 2xx) that holds no usable
// completion: an error object where the answer should be, no choices
// (OpenAI), an unfinished or empty answer (Ollama), or a body that is not
// JSON. Overloaded servers and proxies send these; the same request
// usually succeeds later, so Retryable reports true and Retry retries it.
// It never holds an API key: backends redact the key from server messages.
type AnswerError struct {
	// Backend names the backend ("openai", "ollama") and its base URL.
	Backend string
	// Model is the requested model.
	Model string
	// Code is the HTTP status code, 200 almost always.
	Code int
	// Problem says what is wrong with the answer, e.g. "error object in
	// the answer" or "answer has no choices".
	Problem string
	// Message is the server's error message, or the start of the body when
	// it has none; may be empty.
	Message string
}

// Error names the backend, the problem and the server's message.
func (e *AnswerError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "llm: %s: HTTP %d with an unusable answer: %s", e.Backend, e.Code, e.Problem)
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	return b.String()
}

// Retryable reports true: an unusable success answer is a transient fault.
func (e *AnswerError) Retryable() bool { return true }

// transientText lists net/http's messages for a connection the server
// closed under a request, whose error values are unexported.
var transientText = []string{
	"server closed idle connection", // net/http errServerClosedIdle
	"transport connection broken",   // net/http transportReadFromServerError
	"http2: server sent GOAWAY",     // a server shutting down
	"http2: client connection lost", // a dead HTTP/2 connection
}

// IsRetryable reports whether err is a transient failure worth retrying:
// a retryable *StatusError (408, 425, 429, 5xx), an *AnswerError, ErrTimeout,
// a connection refused, reset or closed before or during the answer
// (io.EOF, io.ErrUnexpectedEOF, a broken pipe, net/http's "server closed
// idle connection"), a failed dial, or a network timeout. Cancellation and
// the caller's own deadline never are, whatever else err wraps.
func IsRetryable(err error) bool {
	var se *StatusError
	var ae *AnswerError
	switch {
	case err == nil, errors.Is(err, context.Canceled):
		return false
	case errors.As(err, &se):
		return se.Retryable()
	case errors.As(err, &ae), errors.Is(err, ErrTimeout):
		return true
	case errors.Is(err, context.DeadlineExceeded):
		return false
	}
	return isTransient(err)
}

// isTransient reports network failures a server restart, a proxy's idle
// timeout or a rolling deploy cause.
func isTransient(err error) bool {
	var ne net.Error
	var oe *net.OpError
	var de *net.DNSError
	switch {
	case errors.As(err, &de) && de.IsNotFound:
		return false // a wrong host name stays wrong
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case errors.As(err, &oe) && oe.Op == "dial":
		return true
	case errors.As(err, &ne) && ne.Timeout():
		return true
	}
	msg := err.Error()
	for _, t := range transientText {
		if strings.Contains(msg, t) {
			return true
		}
	}
	return false
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP
// date. It returns 0 when the header is absent or unreadable.
func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 || s > 1e6 {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// redact replaces every occurrence of secret in s, so a server that echoes
// the key cannot leak it into an error or a log.
func redact(s, secret string) string {
	if secret == "" || !strings.Contains(s, secret) {
		return s
	}
	return strings.ReplaceAll(s, secret, "<redacted>")
}

// truncate shortens a server message for an error.
func truncate(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
