package rollout

import (
	"context"
	"errors"
	"strconv"

	"github.com/flexrec/flexrec/llm"
	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rank"
)

// ErrNoSample is returned by Draw when the backend answered without any
// sample.
var ErrNoSample = errors.New("rollout: the backend returned no sample")

// Drawn is one rendered prompt sampled once and parsed.
type Drawn struct {
	// Response is the backend's answer; Sample its first sample.
	Response *llm.Response
	Sample   *llm.Sample
	// Result is the parse of the sample against the shown ids, completed in
	// prompt order (rank.Parse's default repair); callers may Repair again.
	Result *rank.Result
}

// Draw samples the rendered prompt of ep once through b and parses the
// answer. req is a template: Draw sets its Messages, N = 1, Seed and
// Subject (and JSONSchema when schema is true) and keeps every other field.
// Backend errors come back as they are, for the caller to wrap with its
// context; an empty answer is ErrNoSample. It is the one path from a
// rendered prompt to a parsed ranking that rollouts, `flexrec rank` and
// the LLM ranker share.
func Draw(ctx context.Context, b llm.Backend, ep *prompt.Episode, rendered *prompt.Rendered, req llm.Request, seed int64, schema bool) (*Drawn, error) {
	req.N, req.Seed = 1, &seed
	req.Subject = &llm.Subject{Episode: ep, Order: rendered.Order}
	req.Messages = make([]llm.Message, len(rendered.Messages))
	for k, m := range rendered.Messages {
		req.Messages[k] = llm.Message{Role: m.Role, Content: m.Content}
	}
	if schema {
		req.JSONSchema = rendered.JSONSchema()
	}
	resp, err := b.Sample(ctx, &req)
	if err != nil {
		return nil, err
	}
	if len(resp.Samples) == 0 {
		return nil, ErrNoSample
	}
	smp := &resp.Samples[0]
	return &Drawn{Response: resp, Sample: smp, Result: rank.ParseSample(smp, ShownCandidates(rendered))}, nil
}

// ShownCandidates returns the closed set as the model saw it: the short
// ids "1".."N" with the shown titles.
func ShownCandidates(r *prompt.Rendered) []rank.Candidate {
	cands := make([]rank.Candidate, len(r.Order))
	for k := range cands {
		cands[k] = rank.Candidate{ID: strconv.Itoa(k + 1), Title: r.Titles[k]}
	}
	return cands
}
