package llm

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
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
	// The budget refills continuously, TokensPerMinute/60 a second, and
	// holds at most a tenth of a minute's budget (at least 1 token), so a
	// minute's tokens never go out in its first second. Before a call
	// waits for an estimate: prompt bytes / 4, plus per sample the mean
	// completion of the answers so far (MaxTokens until one came, never
	// more than MaxTokens), capped at that tenth. When the answer comes,
	// the estimate is settled against the real usage: what was not used
	// is given back, an overrun is charged (up to a minute's budget),
	// delaying later calls. A failed call keeps only the prompt's
	// estimate. A server that counts max_tokens against its own limit may
	// then answer 429, which Retry waits out.
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
// deadline fails at once, as rate.Limiter.WaitN does. It counts the calls
// waiting at each limit for Stack.Progress. It is safe for concurrent use.
type Limiter struct {
	next    Backend
	maxConc int64
	sem     *semaphore.Weighted // nil: no concurrency limit
	rps     *rate.Limiter       // nil: no request rate
	tpm     *tokenBucket        // nil: no token rate

	conc, reqs, toks waitStat
	inFlight         atomic.Int64
	// callTimeout bounds the call past the limits, as
	// RetryConfig.AttemptTimeout; NewStack moves it here from Retry so
	// that waiting for the limits does not eat into it. 0: none.
	callTimeout time.Duration
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
		l.tpm = newTokenBucket(cfg.TokensPerMinute)
	}
	return l, nil
}

// String names the wrapped backend.
func (l *Limiter) String() string { return describe(l.next) }

// Sample waits for a concurrency slot and the rate limits, then calls the
// wrapped backend, and settles the token estimate with the real usage.
func (l *Limiter) Sample(ctx context.Context, req *Request) (*Response, error) {
	if l.sem != nil {
		w := min(int64(req.Samples()), l.maxConc)
		if err := l.conc.wait(func() error { return l.sem.Acquire(ctx, w) }); err != nil {
			return nil, fmt.Errorf("llm: wait for a concurrency slot: %w", err)
		}
		defer l.sem.Release(w)
	}
	if l.rps != nil {
		if err := l.reqs.wait(func() error { return l.rps.Wait(ctx) }); err != nil {
			return nil, fmt.Errorf("llm: request rate limit: %w", err)
		}
	}
	var est tokenEstimate
	if l.tpm != nil {
		est = estimateTokens(req, l.tpm.burst(), l.tpm.completion())
		if err := l.toks.wait(func() error { return l.tpm.wait(ctx, est.total) }); err != nil {
			return nil, fmt.Errorf("llm: token rate limit: %w", err)
		}
	}
	l.inFlight.Add(1)
	resp, err := withAttemptTimeout(ctx, l.callTimeout, req, l.next.Sample)
	l.inFlight.Add(-1)
	if l.tpm != nil {
		l.tpm.settle(time.Now(), est, used(est, resp, err))
		l.tpm.learn(resp, err)
	}
	return resp, err
}

// tokenEstimate is what a call reserves of the token budget.
type tokenEstimate struct {
	// prompt is the prompt's share: about 4 bytes a token, 4 a message.
	prompt int
	// total adds MaxTokens per sample; it is capped at the burst.
	total int
}

// estimateTokens guesses a request's tokens before it runs, given the
// mean completion tokens per sample so far (negative: none yet).
func estimateTokens(req *Request, burst, perSample int) tokenEstimate {
	p := 0
	for _, m := range req.Messages {
		p += len(m.Content)/4 + 4
	}
	c := req.MaxTokens
	if perSample >= 0 && (c == 0 || perSample < c) {
		c = perSample
	}
	total := max(1, min(p+c*req.Samples(), burst))
	return tokenEstimate{prompt: min(p, total), total: total}
}

// used returns the tokens a call really used: the answer's usage; the
// prompt estimate plus the text's bytes / 4 when the server reports none;
// the prompt estimate alone for a failed call.
func used(est tokenEstimate, resp *Response, err error) int {
	if err != nil || resp == nil {
		return est.prompt
	}
	if n := resp.Usage.PromptTokens + resp.Usage.CompletionTokens; n > 0 {
		return n
	}
	n := est.prompt
	for _, s := range resp.Samples {
		n += len(s.Text) / 4
	}
	return n
}

// limitWaits returns the calls waiting at each limit now and the time
// calls have waited there so far.
func (l *Limiter) limitWaits() (Waiting, Waited) {
	return Waiting{Concurrency: l.conc.now.Load(), RPS: l.reqs.now.Load(), TPM: l.toks.now.Load()},
		Waited{Concurrency: l.conc.spent(), RPS: l.reqs.spent(), TPM: l.toks.spent()}
}

// waitStat counts the calls waiting at one limit and the time they spent
// there. It is safe for concurrent use.
type waitStat struct {
	now   atomic.Int64 // calls waiting now
	total atomic.Int64 // nanoseconds waited by calls that finished waiting
}

// wait runs f, a wait, counting it.
func (w *waitStat) wait(f func() error) error {
	w.now.Add(1)
	start := time.Now()
	err := f()
	w.total.Add(int64(time.Since(start)))
	w.now.Add(-1)
	return err
}

func (w *waitStat) spent() time.Duration { return time.Duration(w.total.Load()) }

// tokenBucket is a tokens-per-minute budget: a rate.Limiter refilled
// continuously at tpm/60 a second holding at most a tenth of tpm, plus a
// credit of tokens given back. rate.Limiter cannot take tokens back, so a
// refund goes to the credit, which later takes spend before they wait on
// the limiter; the credit is capped so that it and the limiter's tokens
// never hold more than the burst, as one bucket would. It is safe for
// concurrent use.
type tokenBucket struct {
	lim *rate.Limiter

	mu     sync.Mutex
	credit float64 // tokens given back and not yet spent, >= 0
	// perSample is the moving mean of completion tokens per sample
	// (weight 1/8 for the newest answer); -1 before the first answer.
	perSample float64
}

func newTokenBucket(tpm float64) *tokenBucket {
	burst := int(math.Min(math.Max(math.Ceil(tpm/10), 1), math.MaxInt32))
	return &tokenBucket{lim: rate.NewLimiter(rate.Limit(tpm/60), burst), perSample: -1}
}

// completion returns the mean completion tokens per sample so far,
// rounded up; -1 before the first answer.
func (b *tokenBucket) completion() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.perSample < 0 {
		return -1
	}
	return int(math.Ceil(b.perSample))
}

// learn adds an answer's completion tokens per sample (its text's bytes
// / 4 where the server reports none) to the moving mean.
func (b *tokenBucket) learn(resp *Response, err error) {
	if err != nil || resp == nil || len(resp.Samples) == 0 {
		return
	}
	n := resp.Usage.CompletionTokens
	if n == 0 {
		for _, s := range resp.Samples {
			n += len(s.Text) / 4
		}
	}
	x := float64(n) / float64(len(resp.Samples))
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.perSample < 0 {
		b.perSample = x
		return
	}
	b.perSample += (x - b.perSample) / 8
}

// burst is the most tokens the bucket holds.
func (b *tokenBucket) burst() int { return b.lim.Burst() }

// wait takes n tokens, 1 <= n <= burst: credit first, then the limiter,
// waiting as rate.Limiter.WaitN does. On error nothing is taken.
func (b *tokenBucket) wait(ctx context.Context, n int) error {
	got := b.spendCredit(time.Now(), n)
	if got == n {
		return nil
	}
	if err := b.lim.WaitN(ctx, n-got); err != nil {
		b.refund(time.Now(), got)
		return err
	}
	return nil
}

// settle corrects a taken estimate at t to the tokens really used: the
// surplus goes back, an overrun is charged.
func (b *tokenBucket) settle(t time.Time, est tokenEstimate, used int) {
	switch d := used - est.total; {
	case d < 0:
		b.refund(t, -d)
	case d > 0:
		b.charge(t, d)
	}
}

// refund gives n tokens back at t.
func (b *tokenBucket) refund(t time.Time, n int) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.credit += float64(n)
	b.capCredit(t)
}

// charge takes n tokens at t without waiting: credit first, then the
// limiter's tokens, going into debt that delays later waits. At most a
// minute's budget (ten bursts) is charged.
func (b *tokenBucket) charge(t time.Time, n int) {
	n -= b.spendCredit(t, n)
	for i := 0; n > 0 && i < 10; i++ {
		k := min(n, b.lim.Burst())
		b.lim.ReserveN(t, k) // never waited on: the debt delays the next WaitN
		n -= k
	}
}

// spendCredit takes up to n tokens of credit at t and returns how many.
func (b *tokenBucket) spendCredit(t time.Time, n int) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.capCredit(t)
	got := int(math.Min(b.credit, float64(n)))
	b.credit -= float64(got)
	return got
}

// capCredit drops the credit that would not fit in the bucket at t.
// b.mu must be held.
func (b *tokenBucket) capCredit(t time.Time) {
	room := float64(b.lim.Burst()) - b.lim.TokensAt(t)
	b.credit = math.Max(0, math.Min(b.credit, room))
}

// level returns the tokens available at t, credit included; negative
// means debt.
func (b *tokenBucket) level(t time.Time) float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.capCredit(t)
	return b.lim.TokensAt(t) + b.credit
}
