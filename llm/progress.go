package llm

import "time"

// Throttle names what is holding a Stack's requests back.
type Throttle string

// The Throttle values; see StackProgress.Throttle for how one is chosen.
const (
	// ThrottleNone means no call is waiting: the server's speed and the
	// callers' demand set the pace.
	ThrottleNone Throttle = "none"
	// ThrottleConcurrency means calls wait for a slot while every slot is
	// taken by a call at the server (LimitConfig.MaxConcurrent).
	ThrottleConcurrency Throttle = "concurrency"
	// ThrottleRPS means calls wait for LimitConfig.RequestsPerSecond.
	ThrottleRPS Throttle = "rps"
	// ThrottleTPM means calls wait for LimitConfig.TokensPerMinute.
	ThrottleTPM Throttle = "tpm"
	// ThrottleBackoff means calls wait before a retry: the backoff after a
	// transient fault, or the server's Retry-After.
	ThrottleBackoff Throttle = "backoff"
)

// Waiting counts the calls waiting at each limit at one instant.
type Waiting struct {
	// Concurrency counts calls waiting for a concurrency slot.
	Concurrency int64 `json:"concurrency"`
	// RPS counts calls waiting for the request rate.
	RPS int64 `json:"rps"`
	// TPM counts calls waiting for the token rate.
	TPM int64 `json:"tpm"`
	// Backoff counts calls waiting before a retry (Retry-After included).
	Backoff int64 `json:"backoff"`
}

// Waited sums the time calls have spent waiting at each limit so far,
// counting each wait once it has ended; the sum over calls can exceed the
// wall time, since calls wait side by side.
type Waited struct {
	// Concurrency is the time spent waiting for concurrency slots.
	Concurrency time.Duration `json:"concurrency_ns"`
	// RPS is the time spent waiting for the request rate.
	RPS time.Duration `json:"rps_ns"`
	// TPM is the time spent waiting for the token rate.
	TPM time.Duration `json:"tpm_ns"`
	// Backoff is the time spent waiting before retries.
	Backoff time.Duration `json:"backoff_ns"`
}

// StackProgress is a snapshot of a Stack's work so far and of what holds
// its requests back now. Counts only grow, so a display gets rates
// (requests/s, tokens/s) from the difference of two snapshots.
type StackProgress struct {
	// Totals counts what reached the backend, cache hits excluded:
	// requests done (Calls succeeded, Failures failed for good after
	// retries), samples, tokens in (Usage.PromptTokens) and out
	// (Usage.CompletionTokens), and Cost in the Prices' currency.
	Totals
	// CacheHits counts calls answered from the response cache; 0 without
	// one.
	CacheHits int64 `json:"cache_hits"`
	// InFlight counts calls at the server now (past every limit).
	InFlight int64 `json:"in_flight"`
	// Retries counts the retries so far (attempts after a call's first).
	Retries int64 `json:"retries"`
	// Waiting counts the calls waiting at each limit now.
	Waiting Waiting `json:"waiting"`
	// Waited sums the time waited at each limit so far.
	Waited Waited `json:"waited"`
	// Throttle is what holds requests back now: of ThrottleTPM,
	// ThrottleRPS and ThrottleBackoff, the one most calls wait on (ties in
	// that order); else ThrottleConcurrency when calls wait for a slot;
	// else ThrottleNone. Calls queue for a slot before the rate limits, so
	// a slot is only the limit when no call waits on a rate.
	Throttle Throttle `json:"throttle"`
}

// Progress returns a snapshot of the stack's counts and of what is
// holding requests back now. It is cheap (atomic loads and one short
// lock) and safe to call concurrently with Sample, e.g. from a progress
// display ticking every second.
func (s *Stack) Progress() StackProgress {
	p := StackProgress{Totals: s.Meter.Totals()}
	if s.Cache != nil {
		p.CacheHits, _ = s.Cache.Stats()
	}
	p.Waiting, p.Waited = s.limiter.limitWaits()
	p.InFlight = s.limiter.inFlight.Load()
	p.Retries = s.retry.retries.Load()
	p.Waiting.Backoff = s.retry.backoff.now.Load()
	p.Waited.Backoff = s.retry.backoff.spent()
	p.Throttle = p.Waiting.throttle()
	return p
}

// throttle picks the Throttle these waits show; see StackProgress.
func (w Waiting) throttle() Throttle {
	best, most := ThrottleNone, int64(0)
	for _, c := range []struct {
		t Throttle
		n int64
	}{{ThrottleTPM, w.TPM}, {ThrottleRPS, w.RPS}, {ThrottleBackoff, w.Backoff}} {
		if c.n > most {
			best, most = c.t, c.n
		}
	}
	if best == ThrottleNone && w.Concurrency > 0 {
		return ThrottleConcurrency
	}
	return best
}
