package dataset

import (
	"math"
	"math/rand/v2"
)

// unseen draws k items the user never met (not before the cut, not held
// out, not already picked), uniformly over the items with any interaction,
// or popularity-matched to the positives when the config says so. When
// rejection sampling cannot find enough (a user who met most of the
// catalogue), the rest come from a scan of every eligible item; fewer than k
// come back only when fewer exist.
func (b *builder) unseen(rng *rand.Rand, k int, pos []cand, cut int64) []int32 {
	var out []int32
	active := b.ix.active
	for tries := 32*k + 64; len(out) < k && tries > 0; tries-- {
		item, ok := b.drawEligible(rng, &tries)
		if !ok {
			break
		}
		if b.cfg.Negatives.PopularityMatched && len(pos) > 0 {
			item = b.matchPopularity(rng, item, pos[rng.IntN(len(pos))].item, cut, &tries)
		}
		b.picked[item] = b.epoch
		out = append(out, item)
	}
	if len(out) == k {
		return out
	}
	var rest []int32
	for _, item := range active {
		if b.eligible(item) {
			rest = append(rest, item)
		}
	}
	for _, item := range sampleK(rng, rest, k-len(out)) {
		b.picked[item] = b.epoch
		out = append(out, item)
	}
	return out
}

// eligible reports whether item may be an unseen negative of this episode.
func (b *builder) eligible(item int32) bool {
	return b.met[item] != b.epoch && b.fut[item] != b.epoch && b.picked[item] != b.epoch
}

// drawEligible draws uniform active items until one is eligible, spending
// tries; ok is false when the tries run out.
func (b *builder) drawEligible(rng *rand.Rand, tries *int) (int32, bool) {
	active := b.ix.active
	for ; *tries > 0; *tries-- {
		item := active[rng.IntN(len(active))]
		if b.eligible(item) {
			return item, true
		}
	}
	return 0, false
}

// matchPopularity returns, among first and MatchPool-1 more eligible draws,
// the item whose log(1+popularity) before the cut is closest to target's.
func (b *builder) matchPopularity(rng *rand.Rand, first, target int32, cut int64, tries *int) int32 {
	want := math.Log1p(b.popularity(target, cut))
	best, bestD := first, math.Abs(math.Log1p(b.popularity(first, cut))-want)
	for range b.cfg.Negatives.MatchPool - 1 {
		item, ok := b.drawEligible(rng, tries)
		if !ok {
			break
		}
		if d := math.Abs(math.Log1p(b.popularity(item, cut)) - want); d < bestD {
			best, bestD = item, d
		}
	}
	return best
}
