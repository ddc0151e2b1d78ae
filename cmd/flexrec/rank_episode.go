package main

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/flexrec/flexrec/llm"
	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rank"
	"github.com/flexrec/flexrec/rollout"
)

// rankConfig is how `flexrec rank` samples one episode.
type rankConfig struct {
	request llm.Request // template: rollout.Draw sets Messages, N, Seed and JSONSchema per sample
	prompt  prompt.Options
	samples int
	seed    int64
	policy  rank.Policy
	schema  bool
	needID  string // "" means the episode's need
}

// rankOutput is the command's JSON document.
type rankOutput struct {
	Episode   string       `json:"episode"`
	Need      string       `json:"need"`
	Backend   string       `json:"backend"`
	Samples   []rankSample `json:"samples"`
	Totals    llm.Totals   `json:"totals"`
	CacheHits int64        `json:"cache_hits"`
}

// rankSample is one rollout.
type rankSample struct {
	Index        int         `json:"index"`
	Seed         int64       `json:"seed"`
	Model        string      `json:"model"`
	Fingerprint  string      `json:"fingerprint,omitempty"`
	Text         string      `json:"text"`
	FinishReason string      `json:"finish_reason"`
	Permutation  []rankItem  `json:"permutation"`
	Report       rank.Report `json:"report"`
	Logprob      *float64    `json:"logprob,omitempty"`
	Tokens       int         `json:"tokens"`
	AlignError   string      `json:"align_error,omitempty"`
	Usage        llm.Usage   `json:"usage"`
	LatencyMS    int64       `json:"latency_ms"`
	Cached       bool        `json:"cached,omitempty"`
}

// rankItem is one place of a permutation.
type rankItem struct {
	Rank      int      `json:"rank"`
	ItemID    string   `json:"item_id"`
	ShortID   string   `json:"short_id"`
	Generated bool     `json:"generated"`
	Logprob   *float64 `json:"logprob,omitempty"`
	Tokens    *[2]int  `json:"tokens,omitempty"`
}

// rankEpisode samples the episode cfg.samples times, concurrently (the
// backend's limiter bounds it); the first failure cancels the rest.
func rankEpisode(ctx context.Context, b llm.Backend, ep *prompt.Episode, cfg *rankConfig) (*rankOutput, error) {
	needID := cfg.needID
	if needID == "" {
		needID = ep.Need
	}
	need, err := prompt.ResolveNeed(needID)
	if err != nil {
		return nil, err
	}
	out := &rankOutput{Episode: ep.ID, Need: need.ID, Samples: make([]rankSample, cfg.samples)}
	g, gctx := errgroup.WithContext(ctx)
	for i := range out.Samples {
		g.Go(func() error { return rankOne(gctx, b, ep, &need, cfg, i, &out.Samples[i]) })
	}
	return out, g.Wait()
}

// rankOne samples rollout i through rollout's one sample path and
// describes it.
func rankOne(ctx context.Context, b llm.Backend, ep *prompt.Episode, need *prompt.Need, cfg *rankConfig, i int, dst *rankSample) error {
	seed := rollout.Seed(cfg.seed, ep.ID, i)
	s := rollout.Sampler{Backend: b, Request: cfg.request, Prompt: cfg.prompt, Schema: cfg.schema,
		Repair: cfg.policy, RepairScores: popularity}
	rec, d, err := s.Sample(ctx, ep, need, seed)
	if err != nil {
		return fmt.Errorf("rank: episode %q sample %d: %w", ep.ID, i, err)
	}
	*dst = rankSample{Index: i, Seed: seed, Model: rec.Backend.Model, Fingerprint: rec.Backend.Fingerprint, Text: rec.Completion,
		FinishReason: rec.FinishReason, Report: rec.Parse, Tokens: len(rec.Tokens), Usage: rec.Usage,
		LatencyMS: d.Sample.Latency.Milliseconds(), Cached: d.Response.Cached, Permutation: rankItems(rec), AlignError: rec.AlignError}
	if len(rec.Tokens) > 0 {
		var sum float64
		for _, t := range rec.Tokens {
			sum += t.Logprob
		}
		dst.Logprob = &sum
	}
	return nil
}

// popularity is the score of the score repair: candidate popularity, in
// the order shown.
func popularity(ep *prompt.Episode, r *prompt.Rendered) []float64 {
	scores := make([]float64, len(r.Order))
	for k, c := range r.Order {
		scores[k] = ep.Candidates[c].Popularity
	}
	return scores
}

// rankItems describes the record's permutation: each place's item and
// short id, and for a generated item the logprob and token range of the
// mention that placed it (when the tokens aligned).
func rankItems(rec *rollout.Record) []rankItem {
	items := make([]rankItem, len(rec.Permutation))
	for p, id := range rec.Permutation {
		items[p] = rankItem{Rank: p + 1, ItemID: id, ShortID: rec.ShortID(rec.Ranking[p]), Generated: rec.Generated[p]}
	}
	for _, sp := range rec.ItemSpans {
		if sp.FirstToken >= 0 {
			lp, rg := sp.Logprob, [2]int{sp.FirstToken, sp.LastToken}
			items[sp.Position].Logprob, items[sp.Position].Tokens = &lp, &rg
		}
	}
	return items
}
