package llm

import (
	"context"
	"fmt"
	"math"
	"time"

	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"
)

// LimitConfig configures Limiter. Zero values mean no limit.
type LimitConfig struct {
	// MaxConcurrent caps the samples in flight across every caller, >= 0.
	// A request for N samples holds min(N, MaxConcurrent) slots, since a
	// backend may send it as N requests at once.
	MaxConcurrent int
	// RequestsPerSecond caps Sample calls per second, >= 0.
	RequestsPerSecond float64
	// RequestBurst is how many calls may start at once after a quiet
	// spell; default (0) 1.
	RequestBurst int
	// TokensPerMinute caps prompt plus completion tokens per minute, >= 0.
	// Before a call it waits for an estimate (prompt bytes / 4 plus
	// MaxTokens per sample); after it, tokens used beyond the estimate are
	// charged, delaying later calls.
	TokensPerMinute float64
}

// Validate reports a negative limit.
func (c LimitConfig) Validate() error {
	if c.MaxConcurrent < 0 || c.RequestBurst < 0 || !(c.RequestsPerSecond >= 0) || !(c.TokensPerMinute >= 0) {
		return fmt.Errorf("llm: negative or NaN limit in %+v", c)
	}
	return nil
}

// Limiter is a Backend decorator enforcing a concurrency limit and request
// and token rates, shared by every caller of the one Limiter. Waits end
// with the context's error; a wait that cannot finish before the context's
// deadline fails at once, as rate.Limiter.WaitN does. It is safe for
// concurrent use.
type Limiter struct {
	next    Backend
	maxConc int64
	sem     *semaphore.Weighted // nil: no concurrency limit
	rps     *rate.Limiter       // nil: no request rate
	tpm     *rate.Limiter       // nil: no token rate
}

// NewLimiter wraps next.
func NewLimiter(next Backend, cfg LimitConfig) (*Limiter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &Limiter{next: next, maxConc: int64(cfg.MaxConcurrent)}
	if cfg.MaxConcurrent > 0 {
		l.sem = semaphore.NewWeighted(l.maxConc)
	}
	if cfg.RequestsPerSecond > 0 {
		l.rps = rate.NewLimiter(rate.Limit(cfg.RequestsPerSecond), max(cfg.RequestBurst, 1))
	}
	if cfg.TokensPerMinute > 0 {
		burst := int(math.Min(math.Max(cfg.TokensPerMinute, 1), math.MaxInt32))
		l.tpm = rate.NewLimiter(rate.Limit(cfg.TokensPerMinute/60), burst)
	}
	return l, nil
}

// String names the wrapped backend.
func (l *Limiter) String() string { return describe(l.next) }

// Sample waits for a concurrency slot and the rate limits, then calls the
// wrapped backend.
func (l *Limiter) Sample(ctx context.Context, req *Request) (*Response, error) {
	if l.sem != nil {
		w := min(int64(req.Samples()), l.maxConc)
		if err := l.sem.Acquire(ctx, w); err != nil {
			return nil, fmt.Errorf("llm: wait for a concurrency slot: %w", err)
		}
		defer l.sem.Release(w)
	}
	if l.rps != nil {
		if err := l.rps.Wait(ctx); err != nil {
			return nil, fmt.Errorf("llm: request rate limit: %w", err)
		}
	}
	est := l.tokenEstimate(req)
	if l.tpm != nil {
		if err := l.tpm.WaitN(ctx, est); err != nil {
			return nil, fmt.Errorf("llm: token rate limit: %w", err)
		}
	}
	resp, err := l.next.Sample(ctx, req)
	if l.tpm != nil && resp != nil {
		if extra := resp.Usage.PromptTokens + resp.Usage.CompletionTokens - est; extra > 0 {
			// Charge the overrun as debt: the reservation is kept, not waited on.
			l.tpm.ReserveN(time.Now(), min(extra, l.tpm.Burst()))
		}
	}
	return resp, err
}

// tokenEstimate guesses a request's tokens before it runs: about 4 bytes
// per prompt token plus MaxTokens per sample, capped at the token burst.
func (l *Limiter) tokenEstimate(req *Request) int {
	if l.tpm == nil {
		return 0
	}
	n := 0
	for _, m := range req.Messages {
		n += len(m.Content)/4 + 4
	}
	n += req.MaxTokens * req.Samples()
	return max(1, min(n, l.tpm.Burst()))
}
