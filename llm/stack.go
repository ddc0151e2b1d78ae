package llm

import (
	"context"
	"log/slog"
)

// StackConfig configures the usual decorator stack around a backend.
type StackConfig struct {
	// Retry configures retries; see DefaultRetryConfig.
	Retry RetryConfig
	// Limit configures the concurrency and rate limits; zero is none.
	Limit LimitConfig
	// Prices prices the usage; zero is free.
	Prices Prices
	// CacheDir turns the response cache on when set.
	CacheDir string
	// Logger receives the decorators' records; nil discards them.
	Logger *slog.Logger
}

// DefaultStackConfig returns retries with their defaults, no limits, no
// prices and no cache.
func DefaultStackConfig() StackConfig {
	return StackConfig{Retry: DefaultRetryConfig()}
}

// Stack is a backend wrapped, outermost first, in Cache (optional),
// Meter, Retry and Limiter: cache hits cost nothing and are not metered,
// each retry waits for the limits again, and the retry config's
// AttemptTimeout starts once a try has passed the limits. Progress reports
// its counts and what holds it back. It is safe for concurrent use.
type Stack struct {
	outer   Backend
	limiter *Limiter
	retry   *Retry
	// Meter counts what reached the server (not cache hits).
	Meter *Meter
	// Cache is nil when CacheDir is empty.
	Cache *Cache
}

// NewStack wraps b as StackConfig says.
func NewStack(b Backend, cfg StackConfig) (*Stack, error) {
	if err := cfg.Retry.Validate(); err != nil {
		return nil, err
	}
	lim, err := NewLimiter(b, cfg.Limit)
	if err != nil {
		return nil, err
	}
	rc := cfg.Retry
	if rc.Logger == nil {
		rc.Logger = cfg.Logger
	}
	// The attempt timeout bounds the call at the server, not the wait
	// for the limits before it.
	lim.callTimeout, rc.AttemptTimeout = rc.AttemptTimeout, 0
	retry, err := NewRetry(lim, rc)
	if err != nil {
		return nil, err
	}
	meter, err := NewMeter(retry, cfg.Prices)
	if err != nil {
		return nil, err
	}
	s := &Stack{outer: meter, Meter: meter, limiter: lim, retry: retry}
	if cfg.CacheDir != "" {
		if s.Cache, err = NewCache(meter, CacheConfig{Dir: cfg.CacheDir, Logger: cfg.Logger}); err != nil {
			return nil, err
		}
		s.outer = s.Cache
	}
	return s, nil
}

// String names the wrapped backend.
func (s *Stack) String() string { return describe(s.outer) }

// Sample runs the request through the stack.
func (s *Stack) Sample(ctx context.Context, req *Request) (*Response, error) {
	return s.outer.Sample(ctx, req)
}
