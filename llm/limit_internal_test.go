package llm

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestTokenBucketBurst: the bucket holds a tenth of a minute's budget, at
// least one token.
func TestTokenBucketBurst(t *testing.T) {
	tests := []struct {
		tpm  float64
		want int
	}{{200_000, 20_000}, {600, 60}, {61, 7}, {5, 1}, {1e12, 1<<31 - 1}}
	for _, tt := range tests {
		assert.Equal(t, tt.want, newTokenBucket(tt.tpm).burst(), "burst of %v tokens per minute", tt.tpm)
	}
}

// TestTokenBucketSettle checks the bucket's level after takes, refunds and
// overruns against hand-computed values, on explicit times: 600 tokens a
// minute is 10 a second with a burst of 60.
func TestTokenBucketSettle(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	type step struct {
		at        float64 // seconds after t0
		take      int     // charged as a call's estimate
		est, used int     // settled: estimate and real usage
		want      float64 // level after the step
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"full at the start", []step{{want: 60}}},
		{"unused estimate comes back", []step{{take: 50, want: 10}, {est: 50, used: 20, want: 40}}},
		{"refund capped at the burst", []step{{take: 10, want: 50}, {est: 10, used: 0, want: 60}, {at: 10, want: 60}}},
		{"overrun is debt", []step{{take: 50, want: 10}, {est: 50, used: 110, want: -50}, {at: 5, want: 0}, {at: 11, want: 60}}},
		{"refill is continuous", []step{{take: 60, want: 0}, {at: 0.5, want: 5}, {at: 3, want: 30}}},
		{"credit and refill share the burst", []step{{take: 60, want: 0}, {est: 60, used: 30, want: 30}, {at: 2, want: 50}, {at: 4, want: 60}}},
		{"credit pays the next take first", []step{{take: 60, want: 0}, {est: 60, used: 10, want: 50}, {take: 40, want: 10}}},
		{"overrun beyond a minute's budget is capped", []step{{est: 0, used: 10_000, want: 60 - 600}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTokenBucket(600)
			for i, s := range tt.steps {
				now := at(s.at)
				if s.take > 0 {
					b.charge(now, s.take)
				}
				if s.est > 0 || s.used > 0 {
					b.settle(now, tokenEstimate{total: s.est}, s.used)
				}
				assert.InDelta(t, s.want, b.level(now), 1e-6, "step %d: level", i)
			}
		})
	}
}

// TestEstimateTokens: the prompt at 4 bytes a token plus 4 a message, and
// per sample MaxTokens until answers teach the mean completion.
func TestEstimateTokens(t *testing.T) {
	req := &Request{Messages: []Message{{Content: "12345678"}, {Content: "1234"}}, MaxTokens: 100, N: 2}
	tests := []struct {
		name             string
		burst, perSample int
		want             tokenEstimate
	}{
		{"before any answer", 1000, -1, tokenEstimate{prompt: 11, total: 211}},
		{"learned mean", 1000, 30, tokenEstimate{prompt: 11, total: 71}},
		{"mean above max tokens", 1000, 500, tokenEstimate{prompt: 11, total: 211}},
		{"capped at the burst", 50, -1, tokenEstimate{prompt: 11, total: 50}},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, estimateTokens(req, tt.burst, tt.perSample), tt.name)
	}
}

// TestThrottle: the rate most calls wait on, else concurrency, else none.
func TestThrottle(t *testing.T) {
	tests := []struct {
		w    Waiting
		want Throttle
	}{
		{Waiting{}, ThrottleNone},
		{Waiting{Concurrency: 40}, ThrottleConcurrency},
		{Waiting{Concurrency: 40, TPM: 16}, ThrottleTPM},
		{Waiting{Concurrency: 40, RPS: 3, TPM: 1}, ThrottleRPS},
		{Waiting{RPS: 2, TPM: 2, Backoff: 2}, ThrottleTPM},
		{Waiting{TPM: 1, Backoff: 5}, ThrottleBackoff},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.w.throttle(), "%+v", tt.w)
	}
}

// TestTokenBucketLearns: the mean completion per sample starts at the
// first answer and moves an eighth of the way to each next one; the text
// stands in for a usage the server did not report.
func TestTokenBucketLearns(t *testing.T) {
	b := newTokenBucket(600)
	assert.Equal(t, -1, b.completion(), "before any answer")
	b.learn(&Response{Samples: make([]Sample, 2), Usage: Usage{CompletionTokens: 80}}, nil)
	assert.Equal(t, 40, b.completion(), "first answer: 80 tokens over 2 samples")
	b.learn(&Response{Samples: []Sample{{Text: string(make([]byte, 480))}}}, nil)
	assert.Equal(t, 50, b.completion(), "40 + (120-40)/8")
	b.learn(nil, assert.AnError)
	assert.Equal(t, 50, b.completion(), "a failure teaches nothing")
}
