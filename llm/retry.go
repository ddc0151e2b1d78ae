package llm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// RetryConfig configures Retry. Durations are wall time.
type RetryConfig struct {
	// MaxAttempts is the number of tries including the first, >= 1.
	// Default 5; 1 disables retries.
	MaxAttempts int
	// InitialInterval is the first backoff delay. Default 500ms.
	InitialInterval time.Duration
	// MaxInterval caps one backoff delay. Default 30s.
	MaxInterval time.Duration
	// Multiplier grows the delay after each retry, >= 1. Default 2.
	Multiplier float64
	// Jitter randomizes each delay by ±Jitter of it, in [0, 1]. Default 0.5.
	Jitter float64
	// AttemptTimeout bounds each try; one that runs past it fails with
	// ErrTimeout and is retried. 0 means no per-try limit (the context's
	// deadline still applies). Default 5 minutes.
	AttemptTimeout time.Duration
	// MaxRetryAfter caps how long a server's Retry-After is honoured.
	// Default 5 minutes.
	MaxRetryAfter time.Duration
	// Logger receives a record per retry; nil discards them.
	Logger *slog.Logger
}

// DefaultRetryConfig returns the documented defaults.
func DefaultRetryConfig() RetryConfig {
	return RetryConfig{MaxAttempts: 5, InitialInterval: 500 * time.Millisecond, MaxInterval: 30 * time.Second,
		Multiplier: 2, Jitter: 0.5, AttemptTimeout: 5 * time.Minute, MaxRetryAfter: 5 * time.Minute}
}

// Validate reports a field out of range.
func (c RetryConfig) Validate() error {
	switch {
	case c.MaxAttempts < 1:
		return fmt.Errorf("llm: retry attempts %d, want >= 1", c.MaxAttempts)
	case c.InitialInterval < 0 || c.MaxInterval < c.InitialInterval:
		return fmt.Errorf("llm: retry intervals %v..%v, want 0 <= initial <= max", c.InitialInterval, c.MaxInterval)
	case !(c.Multiplier >= 1):
		return fmt.Errorf("llm: retry multiplier %v, want >= 1", c.Multiplier)
	case !(c.Jitter >= 0 && c.Jitter <= 1):
		return fmt.Errorf("llm: retry jitter %v outside [0, 1]", c.Jitter)
	case c.AttemptTimeout < 0 || c.MaxRetryAfter < 0:
		return fmt.Errorf("llm: negative retry timeout")
	}
	return nil
}

// Retry is a Backend decorator that retries transient failures (see
// IsRetryable: 429, 5xx, timeouts, connection resets) with exponential
// backoff and jitter, waits at least a server's Retry-After, and never
// retries 400, 401, 403 or 404. The caller's context bounds the whole
// call, retries included; when a Retry-After would outlast its deadline,
// Retry fails at once. It is safe for concurrent use.
type Retry struct {
	next Backend
	cfg  RetryConfig
	log  *slog.Logger
	// newTimer is the backoff timer factory; tests swap in a fake clock.
	newTimer func() backoff.Timer
}

// NewRetry wraps next.
func NewRetry(next Backend, cfg RetryConfig) (*Retry, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Retry{next: next, cfg: cfg, log: loggerOr(cfg.Logger), newTimer: func() backoff.Timer { return nil }}, nil
}

// String names the wrapped backend.
func (r *Retry) String() string { return describe(r.next) }

// Sample calls the wrapped backend until it succeeds, fails for good, or
// runs out of attempts or time. The error of a call that gave up wraps the
// last failure and, when the context ended it, the context's error.
func (r *Retry) Sample(ctx context.Context, req *Request) (*Response, error) {
	ra := &retryAfterBackOff{BackOff: backoff.WithMaxRetries(r.exponential(), uint64(r.cfg.MaxAttempts-1))}
	b := backoff.WithContext(ra, ctx)
	attempts := 0
	var last error
	op := func() (*Response, error) {
		attempts++
		resp, err := r.attempt(ctx, req)
		if err == nil {
			return resp, nil
		}
		last = err
		if !IsRetryable(err) {
			return nil, backoff.Permanent(err)
		}
		return nil, r.honourRetryAfter(ctx, ra, err)
	}
	notify := func(err error, wait time.Duration) {
		r.log.Warn("llm: retrying", "backend", r.String(), "model", req.Model, "attempt", attempts, "wait", wait, "err", err)
	}
	resp, err := backoff.RetryNotifyWithTimerAndData(op, b, notify, r.newTimer())
	switch {
	case err == nil:
		return resp, nil
	case last != nil && err != last && ctx.Err() != nil:
		return nil, fmt.Errorf("llm: %s: stopped after %d attempts: %w (last failure: %w)", r, attempts, ctx.Err(), last)
	case attempts > 1 && IsRetryable(err):
		return nil, fmt.Errorf("llm: %s: giving up after %d attempts: %w", r, attempts, err)
	}
	return nil, err
}

// attempt runs one try under the per-attempt timeout, turning that
// timeout (not the caller's deadline) into ErrTimeout.
func (r *Retry) attempt(ctx context.Context, req *Request) (*Response, error) {
	if r.cfg.AttemptTimeout <= 0 {
		return r.next.Sample(ctx, req)
	}
	actx, cancel := context.WithTimeoutCause(ctx, r.cfg.AttemptTimeout, ErrTimeout)
	defer cancel()
	resp, err := r.next.Sample(actx, req)
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(actx), ErrTimeout) {
		return nil, fmt.Errorf("%w after %v: %w", ErrTimeout, r.cfg.AttemptTimeout, err)
	}
	return resp, err
}

// honourRetryAfter sets the next wait to the server's Retry-After (capped
// at MaxRetryAfter) and fails for good when it outlasts the deadline.
func (r *Retry) honourRetryAfter(ctx context.Context, ra *retryAfterBackOff, err error) error {
	var se *StatusError
	if !errors.As(err, &se) || se.RetryAfter <= 0 {
		return err
	}
	wait := min(se.RetryAfter, r.cfg.MaxRetryAfter)
	if d, ok := ctx.Deadline(); ok && time.Until(d) < wait {
		return backoff.Permanent(fmt.Errorf("llm: %s: server asks to retry after %v, past the deadline: %w", r, wait, err))
	}
	ra.after = wait
	return err
}

func (r *Retry) exponential() *backoff.ExponentialBackOff {
	return backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(r.cfg.InitialInterval),
		backoff.WithMaxInterval(r.cfg.MaxInterval),
		backoff.WithMultiplier(r.cfg.Multiplier),
		backoff.WithRandomizationFactor(r.cfg.Jitter),
		backoff.WithMaxElapsedTime(0), // the context bounds the total
	)
}

// retryAfterBackOff makes the next delay at least a server's Retry-After.
// It sits inside backoff.WithContext, which must stay outermost for the
// retry loop to see the context.
type retryAfterBackOff struct {
	backoff.BackOff
	after time.Duration
}

// NextBackOff returns the wrapped delay, raised to the pending Retry-After.
func (b *retryAfterBackOff) NextBackOff() time.Duration {
	d := b.BackOff.NextBackOff()
	if d != backoff.Stop && b.after > d {
		d = b.after
	}
	b.after = 0
	return d
}

// describe names a backend for logs and cache namespaces: its String
// method where it has one.
func describe(b Backend) string {
	if s, ok := b.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", b)
}
