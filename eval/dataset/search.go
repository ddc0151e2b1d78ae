package dataset

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/flexrec/flexrec/prompt"
)

// buildSearch makes one episode per query of ds.Judgements (queries in id
// order): the query's relevant judged products (at most MaxPositives), a
// HeldOut share of its non-relevant judged products, and products never
// judged for the query (gain 0) to fill N. History is empty and Train nil.
func (b *builder) buildSearch(ctx context.Context) (*Split, error) {
	ds := b.ds
	sp := &Split{Need: b.need.ID, Threshold: b.threshold, Rule: b.need}
	byQuery, order := map[string][]Judgement{}, []string{}
	for _, j := range ds.Judgements {
		if _, ok := byQuery[j.QueryID]; !ok {
			order = append(order, j.QueryID)
		}
		byQuery[j.QueryID] = append(byQuery[j.QueryID], j)
	}
	slices.SortFunc(order, compareIDs)
	for i, q := range order {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if b.cfg.Limit > 0 && len(sp.Episodes) == b.cfg.Limit {
			break
		}
		sp.Users++
		b.addSearchEpisode(sp, ds, byQuery[q])
	}
	return sp, nil
}

func (b *builder) addSearchEpisode(sp *Split, ds *Dataset, js []Judgement) {
	var pos, neg []cand
	judged := map[int32]bool{}
	for _, j := range js {
		item := int32(ds.ItemIndex[j.Item])
		if judged[item] {
			continue // a repeated judgement keeps the first label
		}
		judged[item] = true
		g := b.need.Gain.Gain(prompt.GainInput{Grade: j.Label})
		c := cand{item: item, gain: g, rel: g > b.threshold}
		if c.rel {
			pos = append(pos, c)
		} else {
			neg = append(neg, c)
		}
	}
	if len(pos) == 0 {
		sp.Dropped++
		return
	}
	q := js[0]
	rng := newRand(b.cfg.Seed, b.need.ID, q.QueryID)
	cands := sampleK(rng, pos, b.cfg.MaxPositives)
	nNeg := b.cfg.NumCandidates - len(cands)
	cands = append(cands, sampleK(rng, neg, int(math.Round(b.cfg.Negatives.HeldOut*float64(nNeg))))...)
	for _, item := range drawUnjudged(rng, len(ds.Items), b.cfg.NumCandidates-len(cands), judged) {
		cands = append(cands, cand{item: item})
	}
	ep := b.searchEpisode(rng, ds, q, cands)
	if b.cfg.Sparse > 0 {
		ep.Labels.Observed = make([]bool, len(ep.Candidates))
		for i, c := range ep.Candidates {
			ep.Labels.Observed[i] = b.observed("query:"+q.QueryID, c.ItemID)
		}
	}
	if len(cands) < b.cfg.NumCandidates {
		sp.Short++
	}
	sp.Relevant += min(len(pos), b.cfg.MaxPositives)
	sp.Episodes = append(sp.Episodes, ep)
}

// drawUnjudged draws k distinct products of n not in judged (which it
// extends): by rejection while that works, then from a scan of the rest.
func drawUnjudged(rng *rand.Rand, n, k int, judged map[int32]bool) []int32 {
	var out []int32
	for tries := 32*k + 64; len(out) < k && tries > 0; tries-- {
		if item := int32(rng.IntN(n)); !judged[item] {
			judged[item] = true
			out = append(out, item)
		}
	}
	if len(out) == k {
		return out
	}
	var rest []int32
	for i := range int32(n) {
		if !judged[i] {
			rest = append(rest, i)
		}
	}
	return append(out, sampleK(rng, rest, k-len(out))...)
}

func (b *builder) searchEpisode(rng *rand.Rand, ds *Dataset, q Judgement, cands []cand) prompt.Episode {
	rng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	ep := prompt.Episode{ID: b.need.ID + "/q" + q.QueryID, UserID: q.QueryID, Need: b.need.ID, Query: q.Query,
		History:    []prompt.HistoryItem{},
		Candidates: make([]prompt.Candidate, len(cands)),
		Labels:     &prompt.Labels{Gains: make([]float64, len(cands)), Relevant: make([]bool, len(cands))}}
	for i, c := range cands {
		it := ds.Items[c.item]
		ep.Candidates[i] = prompt.Candidate{ItemID: it.ID, Text: it.Title, Categories: it.Categories}
		ep.Labels.Gains[i], ep.Labels.Relevant[i] = c.gain, c.rel
	}
	return ep
}
