package llm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
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
	// deadline still applies). Default 5 minutes. In a Stack it starts
	// once the try has passed the limits, so waiting for them does not
	// eat into it.
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
// IsRetryable: connection refused, reset or closed, 408, 425, 429, 5xx,
// an unusable 200, timeouts) with exponential backoff and jitter, waits at
// least a server's Retry-After, and never retries 400, 401, 403, 404 or a
// cancelled context. The caller's context bounds the whole call, retries
// and waits included: cancelling it ends a try in flight and a backoff
// wait at once, and when a Retry-After would outlast its deadline, Retry
// fails at once. Each retry is logged at warning level with the failure,
// the server's message included. It is safe for concurrent use.
type Retry struct {
	next Backend
	cfg  RetryConfig
	log  *slog.Logger
	// newTimer is the backoff timer factory; tests swap in a fake clock.
	newTimer func() backoff.Timer

	retries atomic.Int64 // retries so far, for Stack.Progress
	backoff waitStat     // calls in a backoff wait now, time waited
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
	ra.deadline, _ = ctx.Deadline()
	b := backoff.WithContext(ra, ctx)
	attempts := 0
	var last error
	var waitStart time.Time // zero when not in a backoff wait
	endWait := func() {
		if !waitStart.IsZero() {
			r.backoff.total.Add(int64(time.Since(waitStart)))
			r.backoff.now.Add(-1)
			waitStart = time.Time{}
		}
	}
	defer endWait()
	op := func() (*Response, error) {
		endWait()
		attempts++
		resp, err := r.attempt(ctx, req)
		if err == nil {
			return resp, nil
		}
		last = err
		if ctx.Err() != nil || !IsRetryable(err) {
			return nil, backoff.Permanent(err)
		}
		return nil, r.honourRetryAfter(ctx, ra, err)
	}
	notify := func(err error, wait time.Duration) {
		r.retries.Add(1)
		r.backoff.now.Add(1)
		waitStart = time.Now()
		r.log.Warn("llm: retrying", "backend", r.String(), "model", req.Model, "attempt", attempts,
			"of", r.cfg.MaxAttempts, "wait", wait, "err", err)
	}
	resp, err := backoff.RetryNotifyWithTimerAndData(op, b, notify, r.newTimer())
	switch {
	case err == nil:
		return resp, nil
	case ra.pastDeadline > 0:
		return nil, fmt.Errorf("llm: %s: next retry in %v is past the deadline, after %d attempts: %w", r, ra.pastDeadline, attempts, err)
	case last != nil && err != last && ctx.Err() != nil:
		return nil, fmt.Errorf("llm: %s: stopped after %d attempts: %w (last failure: %w)", r, attempts, ctx.Err(), last)
	case attempts > 1 && IsRetryable(err):
		return nil, fmt.Errorf("llm: %s: giving up after %d attempts: %w", r, attempts, err)
	}
	return nil, err
}

// attempt runs one try under the per-attempt timeout.
func (r *Retry) attempt(ctx context.Context, req *Request) (*Response, error) {
	return withAttemptTimeout(ctx, r.cfg.AttemptTimeout, req, r.next.Sample)
}

// withAttemptTimeout calls call under timeout d (none when d <= 0),
// turning that timeout, not the caller's deadline, into ErrTimeout.
func withAttemptTimeout(ctx context.Context, d time.Duration, req *Request,
	call func(context.Context, *Request) (*Response, error)) (*Response, error) {
	if d <= 0 {
		return call(ctx, req)
	}
	actx, cancel := context.WithTimeoutCause(ctx, d, ErrTimeout)
	defer cancel()
	resp, err := call(actx, req)
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(actx), ErrTimeout) {
		return nil, fmt.Errorf("%w after %v: %w", ErrTimeout, d, err)
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

// retryAfterBackOff makes the next delay at least a server's Retry-After,
// and stops when the delay would end past the deadline, so no wait
// outlives the caller's context. It sits inside backoff.WithContext, which
// must stay outermost for the retry loop to see the context.
type retryAfterBackOff struct {
	backoff.BackOff
	after time.Duration
	// deadline is the context's deadline; zero when it has none.
	deadline time.Time
	// pastDeadline is the delay that was refused for ending past the
	// deadline; 0 when none was.
	pastDeadline time.Duration
}

// NextBackOff returns the wrapped delay, raised to the pending Retry-After,
// or backoff.Stop when that ends past the deadline.
func (b *retryAfterBackOff) NextBackOff() time.Duration {
	d := b.BackOff.NextBackOff()
	if d != backoff.Stop && b.after > d {
		d = b.after
	}
	b.after = 0
	if d != backoff.Stop && !b.deadline.IsZero() && time.Until(b.deadline) < d {
		b.pastDeadline = d
		return backoff.Stop
	}
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
