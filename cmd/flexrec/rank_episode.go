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

// rankOne renders, samples, parses, repairs and aligns rollout i.
func rankOne(ctx context.Context, b llm.Backend, ep *prompt.Episode, need *prompt.Need, cfg *rankConfig, i int, dst *rankSample) error {
	seed := rollout.Seed(cfg.seed, ep.ID, i)
	r, err := prompt.Render(ep, need, cfg.prompt, seed)
	if err != nil {
		return err
	}
	d, err := rollout.Draw(ctx, b, ep, r, cfg.request, seed, cfg.schema)
	if err != nil {
		return fmt.Errorf("rank: episode %q sample %d: %w", ep.ID, i, err)
	}
	resp, smp, parsed := d.Response, d.Sample, d.Result
	if err := rank.Repair(parsed, cfg.policy, popularity(ep, r)); err != nil {
		return fmt.Errorf("rank: episode %q sample %d: %w", ep.ID, i, err)
	}
	*dst = rankSample{Index: i, Seed: seed, Model: resp.Model, Fingerprint: resp.Fingerprint, Text: smp.Text,
		FinishReason: smp.FinishReason, Report: parsed.Report(), Tokens: len(smp.Tokens), Usage: smp.Usage,
		LatencyMS: smp.Latency.Milliseconds(), Cached: resp.Cached, Permutation: rankItems(ep, r, parsed)}
	if len(smp.Tokens) > 0 {
		dst.Logprob = tokenSum(smp.Tokens)
		if err := itemLogprobs(dst.Permutation, parsed, smp.Tokens); err != nil {
			dst.AlignError = err.Error()
		}
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

// rankItems maps the parsed order (shown positions) to episode items.
func rankItems(ep *prompt.Episode, r *prompt.Rendered, parsed *rank.Result) []rankItem {
	items := make([]rankItem, len(parsed.Order))
	for p, k := range parsed.Order {
		items[p] = rankItem{Rank: p + 1, ItemID: ep.Candidates[r.Order[k]].ItemID, ShortID: parsed.Cands[k].ID,
			Generated: p < parsed.NGenerated}
	}
	return items
}

// itemLogprobs gives each generated item the logprob and token range of
// the mention that placed it (its first, counted one).
func itemLogprobs(items []rankItem, parsed *rank.Result, toks []llm.Token) error {
	spans, err := rank.Align(parsed, toks)
	if err != nil {
		return err
	}
	byCand := make(map[int]rank.ItemTokens, len(spans))
	for _, sp := range spans {
		if it := parsed.Items[sp.Item]; it.Status == rank.OK {
			byCand[it.Cand] = sp
		}
	}
	for p := range items {
		if sp, ok := byCand[parsed.Order[p]]; ok && items[p].Generated {
			lp, rg := sp.Logprob, [2]int{sp.First, sp.Last}
			items[p].Logprob, items[p].Tokens = &lp, &rg
		}
	}
	return nil
}

func tokenSum(toks []llm.Token) *float64 {
	var s float64
	for _, t := range toks {
		s += t.Logprob
	}
	return &s
}
