package llm

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"
)

// MaxSamples is the largest Request.N a backend accepts.
const MaxSamples = 256

// Validate reports the first field of r out of its documented range.
func (r *Request) Validate() error {
	switch {
	case r.Model == "":
		return fmt.Errorf("llm: request has no model")
	case len(r.Messages) == 0:
		return fmt.Errorf("llm: request has no messages")
	case r.N < 0 || r.N > MaxSamples:
		return fmt.Errorf("llm: n %d outside 0..%d", r.N, MaxSamples)
	case r.Temperature != nil && !(*r.Temperature >= 0 && *r.Temperature <= 2):
		return fmt.Errorf("llm: temperature %v outside [0, 2]", *r.Temperature)
	case r.TopP != nil && !(*r.TopP > 0 && *r.TopP <= 1):
		return fmt.Errorf("llm: top_p %v outside (0, 1]", *r.TopP)
	case r.MaxTokens < 0:
		return fmt.Errorf("llm: max_tokens %d is negative", r.MaxTokens)
	case r.TopLogprobs < 0 || r.TopLogprobs > 20:
		return fmt.Errorf("llm: top_logprobs %d outside 0..20", r.TopLogprobs)
	case r.TopLogprobs > 0 && !r.Logprobs:
		return fmt.Errorf("llm: top_logprobs %d needs logprobs", r.TopLogprobs)
	}
	return nil
}

// seedAt returns the seed of sample i: Seed+i, or nil without a seed.
func seedAt(req *Request, i int) *int64 {
	if req.Seed == nil {
		return nil
	}
	s := *req.Seed + int64(i)
	return &s
}

// single returns a copy of req for sample i alone: N 1, seed Seed+i.
func single(req *Request, i int) *Request {
	r := *req
	r.N = 1
	r.Seed = seedAt(req, i)
	return &r
}

// fanOut draws samples first..n-1 of req with one single-sample request
// each, all at once, and returns them in order with their usage summed.
// The first error cancels the others.
func fanOut(ctx context.Context, req *Request, first int, one func(context.Context, *Request) (*Response, error)) (*Response, error) {
	n := req.Samples()
	parts := make([]*Response, n-first)
	g, gctx := errgroup.WithContext(ctx)
	for i := first; i < n; i++ {
		g.Go(func() error {
			r, err := one(gctx, single(req, i))
			parts[i-first] = r
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := &Response{Samples: make([]Sample, 0, n)}
	for _, p := range parts {
		out.append(p)
	}
	return out, nil
}

// append adds p's samples and usage to r, taking p's model and
// fingerprint when r has none yet.
func (r *Response) append(p *Response) {
	r.Samples = append(r.Samples, p.Samples...)
	r.Usage.PromptTokens += p.Usage.PromptTokens
	r.Usage.CompletionTokens += p.Usage.CompletionTokens
	if r.Model == "" {
		r.Model = p.Model
	}
	if r.Fingerprint == "" {
		r.Fingerprint = p.Fingerprint
	}
}

// checkLogprobs returns ErrNoLogprobs for a sample with text but no
// tokens when logprobs were asked for and missing ones are not allowed.
func checkLogprobs(req *Request, backend string, i int, s *Sample) error {
	if !req.Logprobs || len(s.Tokens) > 0 || s.Text == "" || req.AllowMissingLogprobs {
		return nil
	}
	return fmt.Errorf("%w: %s: sample %d has %d bytes of text and no token logprobs in the answer",
		ErrNoLogprobs, backend, i, len(s.Text))
}
