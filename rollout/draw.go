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

// Sampler is flexrec's one sample path: it renders an episode's prompt
// (seeded candidate shuffle), samples it once through the backend (Draw),
// parses the answer, repairs it and aligns its tokens, into a Record
// without rewards. Rollouts (Runner), `flexrec rank` and eval's LLM ranker
// all sample through it. A Sampler is safe for concurrent use when its
// RepairScores is.
type Sampler struct {
	// Backend answers the requests; required.
	Backend llm.Backend
	// Request is the template of every request (see Draw).
	Request llm.Request
	// Prompt are the rendering options.
	Prompt prompt.Options
	// Schema asks for structured output (the ids as a JSON array).
	Schema bool
	// Repair completes a partial answer; the zero value is rank's default.
	Repair rank.Policy
	// RepairScores gives the score repair its scores (shown order); nil
	// orders it by the prompt.
	RepairScores func(ep *prompt.Episode, rendered *prompt.Rendered) []float64
}

// Sample draws the rollout of ep under need with seed (the shuffle's and
// the server's). The record has the episode, prompt, completion, parse
// report, usage, the model the server named and the placement (permutation,
// generated flags, tokens, item spans); rewards, the rollout's index and
// the backend's kind are the caller's to fill. Backend errors come back as
// they are, for the caller to wrap.
func (s *Sampler) Sample(ctx context.Context, ep *prompt.Episode, need *prompt.Need, seed int64) (*Record, *Drawn, error) {
	rendered, err := prompt.Render(ep, need, s.Prompt, seed)
	if err != nil {
		return nil, nil, err
	}
	d, err := Draw(ctx, s.Backend, ep, rendered, s.Request, seed, s.Schema)
	if err != nil {
		return nil, nil, err
	}
	var scores []float64
	if s.RepairScores != nil {
		scores = s.RepairScores(ep, rendered)
	}
	if s.Repair != "" {
		if err := rank.Repair(d.Result, s.Repair, scores); err != nil {
			return nil, nil, err
		}
	}
	resp, smp := d.Response, d.Sample
	rec := &Record{
		Schema: SchemaVersion, EpisodeID: ep.ID, UserID: ep.UserID, Need: ep.Need,
		Seed: seed, Messages: rendered.Messages, Order: rendered.Order,
		Completion: smp.Text, FinishReason: smp.FinishReason, Parse: d.Result.Report(), Usage: smp.Usage,
		Backend: BackendInfo{Model: resp.Model, Fingerprint: resp.Fingerprint},
	}
	fillPlacement(rec, ep, rendered, d.Result, smp.Tokens)
	return rec, d, nil
}

// ShortID returns the id the prompt showed candidate c under (its place in
// rec.Order, from 1), or "" when it was not shown.
func (rec *Record) ShortID(c int) string {
	for k, idx := range rec.Order {
		if idx == c {
			return strconv.Itoa(k + 1)
		}
	}
	return ""
}
