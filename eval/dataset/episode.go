package dataset

import (
	"math"
	"math/rand/v2"

	"github.com/flexrec/flexrec/prompt"
)

// cand is one candidate while its episode is assembled.
type cand struct {
	item int32
	eng  float64 // the user's held-out engagement; 0 when unseen
	gain float64
	rel  bool
}

// addEpisode builds user u's episode into sp, or counts why there is none.
func (b *builder) addEpisode(sp *Split, u int) {
	list, pos := b.ix.byUser[u], b.cutPos[u]
	if pos < b.cfg.MinHistory || pos >= len(list) {
		sp.Skipped++
		return
	}
	b.epoch++
	cut := b.cutTime(u)
	hist := b.history(list[:pos])
	pool := b.heldOut(list[pos:], cut)
	var positives, negatives []cand
	for _, c := range pool {
		if c.rel {
			positives = append(positives, c)
		} else {
			negatives = append(negatives, c)
		}
	}
	if len(positives) == 0 {
		sp.Dropped++
		return
	}
	user := b.ix.users[u]
	rng := newRand(b.cfg.Seed, b.need.ID, user)
	cands := b.candidates(rng, positives, negatives, cut)
	ep := b.assemble(rng, user, cut, hist, cands)
	if b.cfg.Sparse > 0 {
		ep.Labels.Observed = make([]bool, len(ep.Candidates))
		for i, c := range ep.Candidates {
			ep.Labels.Observed[i] = b.observed(user, c.ItemID)
		}
		ep.Labels.HistoryObserved = make([]bool, len(ep.History))
		for i, h := range ep.History {
			ep.Labels.HistoryObserved[i] = b.observed(user, h.ItemID)
		}
	}
	if len(cands) < b.cfg.NumCandidates {
		sp.Short++
	}
	for _, c := range cands {
		if c.rel {
			sp.Relevant++
		}
	}
	sp.Episodes = append(sp.Episodes, ep)
}

// cutTime is user u's cut: the global cut, or the time of the first
// held-out interaction.
func (b *builder) cutTime(u int) int64 {
	if b.cfg.Split == SplitTemporal {
		return b.globalCut
	}
	return b.ix.ds.Interactions[b.ix.byUser[u][b.cutPos[u]]].Time
}

// history marks every item met before the cut and returns the last
// HistoryLen interactions, oldest first, marking their categories seen.
func (b *builder) history(before []int32) []prompt.HistoryItem {
	ds := b.ix.ds
	for _, k := range before {
		b.met[b.ix.itemOf[k]] = b.epoch
	}
	shown := before[max(0, len(before)-b.cfg.HistoryLen):]
	hist := make([]prompt.HistoryItem, len(shown))
	for i, k := range shown {
		in, item := ds.Interactions[k], b.ix.itemOf[k]
		it := ds.Items[item]
		hist[i] = prompt.HistoryItem{ItemID: it.ID, Text: it.Title, Engagement: in.Value, Categories: it.Categories}
		if ds.HasTime {
			hist[i].Time = in.Time
		}
		for _, c := range b.ix.cats[item] {
			b.seenCat[c] = b.epoch
		}
	}
	return hist
}

// heldOut returns the distinct held-out items not met before the cut, in
// first-seen order, each with its latest engagement, gain and relevance.
func (b *builder) heldOut(after []int32, cut int64) []cand {
	var out []cand
	at := map[int32]int{}
	for _, k := range after {
		item := b.ix.itemOf[k]
		if b.met[item] == b.epoch {
			continue
		}
		v := b.ix.ds.Interactions[k].Value
		if i, ok := at[item]; ok {
			out[i].eng = v
			continue
		}
		b.fut[item] = b.epoch
		at[item] = len(out)
		out = append(out, cand{item: item, eng: v})
	}
	for i := range out {
		out[i].gain = b.gainOf(out[i].item, out[i].eng, cut)
		out[i].rel = out[i].gain > b.threshold
	}
	return out
}

// candidates picks at most MaxPositives positives, then the negatives:
// a HeldOut share from neg, the rest unseen items.
func (b *builder) candidates(rng *rand.Rand, pos, neg []cand, cut int64) []cand {
	n := b.cfg.NumCandidates
	out := sampleK(rng, pos, b.cfg.MaxPositives)
	nNeg := n - len(out)
	held := sampleK(rng, neg, int(math.Round(b.cfg.Negatives.HeldOut*float64(nNeg))))
	out = append(out, held...)
	for _, c := range out {
		b.picked[c.item] = b.epoch
	}
	for _, item := range b.unseen(rng, n-len(out), out[:len(out)-len(held)], cut) {
		out = append(out, cand{item: item, gain: b.gainOf(item, 0, cut)})
	}
	return out
}

// sampleK returns k elements of xs (all when k >= len(xs)) chosen by a
// partial Fisher–Yates shuffle of a copy.
func sampleK[T any](rng *rand.Rand, xs []T, k int) []T {
	xs = append([]T(nil), xs...)
	if k >= len(xs) {
		return xs
	}
	for i := range k {
		j := i + rng.IntN(len(xs)-i)
		xs[i], xs[j] = xs[j], xs[i]
	}
	return xs[:k]
}

// assemble shuffles the candidates and writes the episode.
func (b *builder) assemble(rng *rand.Rand, user string, cut int64, hist []prompt.HistoryItem, cands []cand) prompt.Episode {
	rng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	ds := b.ix.ds
	ep := prompt.Episode{ID: b.need.ID + "/u" + user, UserID: user, Need: b.need.ID, History: hist,
		Candidates: make([]prompt.Candidate, len(cands)),
		Labels:     &prompt.Labels{Gains: make([]float64, len(cands)), Relevant: make([]bool, len(cands))}}
	if ds.HasTime {
		ep.CutTime = cut
	}
	for i, c := range cands {
		it := ds.Items[c.item]
		ep.Candidates[i] = prompt.Candidate{ItemID: it.ID, Text: it.Title, Categories: it.Categories,
			Popularity: b.popularity(c.item, cut)}
		if ds.HasTime {
			ep.Candidates[i].RecentPopularity = float64(b.ix.countIn(c.item, cut-b.window, cut))
		}
		ep.Labels.Gains[i], ep.Labels.Relevant[i] = c.gain, c.rel
	}
	return ep
}
