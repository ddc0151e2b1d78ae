package llm

import (
	"context"
	"fmt"
	"sync"
)

// Prices are what a hosted API charges, in currency units (e.g. USD) per
// million tokens. The zero value means free (a local server).
type Prices struct {
	// InputPerMillion is the price of a million prompt tokens, >= 0.
	InputPerMillion float64 `json:"input_per_million"`
	// OutputPerMillion is the price of a million completion tokens, >= 0.
	OutputPerMillion float64 `json:"output_per_million"`
}

// Validate reports a negative or NaN price.
func (p Prices) Validate() error {
	if !(p.InputPerMillion >= 0) || !(p.OutputPerMillion >= 0) {
		return fmt.Errorf("llm: prices %+v, want >= 0", p)
	}
	return nil
}

// Cost returns the price of u: in*InputPerMillion/1e6 + out*OutputPerMillion/1e6.
func (p Prices) Cost(u Usage) float64 {
	return float64(u.PromptTokens)*p.InputPerMillion/1e6 + float64(u.CompletionTokens)*p.OutputPerMillion/1e6
}

// Totals is what a Meter has counted so far.
type Totals struct {
	// Calls is the number of Sample calls that succeeded.
	Calls int64 `json:"calls"`
	// Failures is the number of Sample calls that returned an error.
	Failures int64 `json:"failures"`
	// Samples is the number of samples returned.
	Samples int64 `json:"samples"`
	// Usage sums the responses' usage.
	Usage Usage `json:"usage"`
	// Cost is Usage priced with the Meter's Prices.
	Cost float64 `json:"cost"`
}

// Meter is a Backend decorator counting calls, samples, tokens and cost.
// It is safe for concurrent use.
type Meter struct {
	next   Backend
	prices Prices

	mu sync.Mutex
	t  Totals
}

// NewMeter wraps next; prices may be zero.
func NewMeter(next Backend, prices Prices) (*Meter, error) {
	if err := prices.Validate(); err != nil {
		return nil, err
	}
	return &Meter{next: next, prices: prices}, nil
}

// String names the wrapped backend.
func (m *Meter) String() string { return describe(m.next) }

// Sample calls the wrapped backend and counts the outcome.
func (m *Meter) Sample(ctx context.Context, req *Request) (*Response, error) {
	resp, err := m.next.Sample(ctx, req)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.t.Failures++
		return nil, err
	}
	m.t.Calls++
	m.t.Samples += int64(len(resp.Samples))
	m.t.Usage.PromptTokens += resp.Usage.PromptTokens
	m.t.Usage.CompletionTokens += resp.Usage.CompletionTokens
	m.t.Cost += m.prices.Cost(resp.Usage)
	return resp, nil
}

// Totals returns a snapshot of the counts.
func (m *Meter) Totals() Totals {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.t
}
