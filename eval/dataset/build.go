package dataset

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/flexrec/flexrec/prompt"
)

// Build turns ds into need-specific episodes and the training split.
//
// Split: leave-last-out holds out each user's last HoldOut interactions by
// time (file order breaking ties) and cuts at the first held-out one;
// temporal holds out every interaction at or after one global cut time.
// History is the last HistoryLen interactions before the cut, oldest first.
// The candidate set is at most MaxPositives held-out items relevant under the
// need, then negatives: a HeldOut share of the user's non-relevant held-out
// items, the rest unseen items (never met by the user; engagement 0). Gains
// come from cfg.Need's rule (prompt.GainRule.Gain) with these inputs: the
// user's held-out engagement (the latest, if repeated); as overlap, how many
// of the item's categories appear in the episode's shown History, so labels
// can be recomputed from the episode alone; as window popularity, all
// users' interactions with the item in [cut − window, cut). A candidate is
// relevant when its gain is above the (scaled) threshold. Users with no relevant held-out item
// are dropped and counted. Candidate order is a seeded shuffle, so it does
// not leak labels.
//
// Every random choice comes from a generator seeded by (Seed, need id, user
// id), so an episode does not depend on the other users, on Limit, or on the
// order of work, and equal inputs give equal Splits. Episodes share item
// category slices with ds: treat them as read-only. The errors are a
// cfg.Validate error, ErrUnsupported (wrapped) when ds cannot serve the need
// or split, and ctx.Err() when ctx is cancelled.
func Build(ctx context.Context, ds *Dataset, cfg BuildConfig) (*Split, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b, err := newBuilder(ds, cfg)
	if err != nil {
		return nil, err
	}
	if b.need.Gain.Rule == prompt.RuleQueryRelevance {
		return b.buildSearch(ctx)
	}
	sp := &Split{Need: cfg.Need.ID, Threshold: b.threshold, CutTime: b.globalCut, Rule: b.need}
	sp.Train, sp.TrainTotal = b.train()
	for u := range b.ix.users {
		if u%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if cfg.Limit > 0 && len(sp.Episodes) == cfg.Limit {
			break
		}
		sp.Users++
		b.addEpisode(sp, u)
	}
	return sp, nil
}

// builder holds what the episodes of one Build share.
type builder struct {
	ds         *Dataset
	ix         *index
	cfg        BuildConfig
	need       prompt.Need // with thresholds scaled to the dataset
	threshold  float64
	window     int64   // trend window in seconds
	globalCut  int64   // temporal split; 0 otherwise
	cutPos     []int   // per user: first held-out position in byUser; len = none
	trainCount []int   // per item: interactions in Train (dense)
	met, fut   []int32 // per item: epoch stamps (met before the cut, held out)
	picked     []int32 // per item: epoch stamp (already a candidate)
	seenCat    []int32 // per category: epoch stamp (in the shown history)
	epoch      int32
}

func newBuilder(ds *Dataset, cfg BuildConfig) (*builder, error) {
	rule := cfg.Need.Gain.Rule
	switch {
	case rule == prompt.RuleQueryRelevance && len(ds.Judgements) == 0:
		return nil, fmt.Errorf("%w: need %q wants query judgements; %s (%s) has none", ErrUnsupported, cfg.Need.ID, ds.Name, ds.Layout)
	case rule != prompt.RuleQueryRelevance && len(ds.Interactions) == 0:
		return nil, fmt.Errorf("%w: need %q wants interactions; %s (%s) has none", ErrUnsupported, cfg.Need.ID, ds.Name, ds.Layout)
	case rule == prompt.RuleTrend && !ds.HasTime:
		return nil, fmt.Errorf("%w: need %q wants interaction times; %s (%s) has none", ErrUnsupported, cfg.Need.ID, ds.Name, ds.Layout)
	case cfg.Split == SplitTemporal && !ds.HasTime && rule != prompt.RuleQueryRelevance:
		return nil, fmt.Errorf("%w: the temporal split wants interaction times; %s (%s) has none", ErrUnsupported, ds.Name, ds.Layout)
	}
	b := &builder{ds: ds, cfg: cfg, need: cfg.Need}
	b.scaleThresholds(ds)
	b.window = b.need.Gain.Window()
	if rule == prompt.RuleQueryRelevance {
		return b, nil
	}
	b.ix = newIndex(ds)
	n := len(ds.Items)
	b.met, b.fut, b.picked = make([]int32, n), make([]int32, n), make([]int32, n)
	b.seenCat = make([]int32, b.ix.numCats)
	b.planCuts()
	return b, nil
}

// scaleThresholds puts the need's engagement thresholds on the dataset's
// scale: built-in thresholds assume a like at 4 (stars), so they are
// multiplied by LikeAt/4. cfg.Threshold, when set, replaces the result.
func (b *builder) scaleThresholds(ds *Dataset) {
	like := b.cfg.LikeAt
	if like == 0 {
		like = ds.likeAt()
	}
	b.threshold = b.need.Threshold
	if b.need.Gain.Rule != prompt.RuleQueryRelevance {
		scale := like / 4
		b.threshold *= scale
		rm := b.need.Gain.RelevanceMin
		if rm <= 0 {
			rm = 4 // prompt.GainRule's default
		}
		b.need.Gain.RelevanceMin = rm * scale
	}
	if b.cfg.Threshold != nil {
		b.threshold = *b.cfg.Threshold
	}
	b.need.Threshold = b.threshold
}

// planCuts fills cutPos (and globalCut for the temporal split).
func (b *builder) planCuts() {
	ix, cfg := b.ix, b.cfg
	b.cutPos = make([]int, len(ix.users))
	if cfg.Split == SplitTemporal {
		b.globalCut = cfg.CutTime
		if b.globalCut == 0 {
			b.globalCut = quantileTime(ix.ds.Interactions, cfg.CutQuantile)
		}
	}
	for u, list := range ix.byUser {
		if cfg.Split == SplitTemporal {
			b.cutPos[u], _ = slices.BinarySearchFunc(list, b.globalCut, func(k int32, t int64) int {
				return cmpInt(ix.ds.Interactions[k].Time, t)
			})
			continue
		}
		hold := min(cfg.HoldOut, len(list)-cfg.MinHistory)
		b.cutPos[u] = len(list) - max(hold, 0)
	}
}

// quantileTime returns the interaction time at quantile q (nearest rank).
func quantileTime(ins []Interaction, q float64) int64 {
	ts := make([]int64, len(ins))
	for i, in := range ins {
		ts[i] = in.Time
	}
	slices.Sort(ts)
	return ts[int(q*float64(len(ts)-1))]
}

// train returns the interactions before every user's cut, in file order,
// thinned to the Sparse fraction in sparse mode, and the count before
// thinning. It also fills trainCount.
func (b *builder) train() ([]Interaction, int) {
	ins := b.ix.ds.Interactions
	held := make([]bool, len(ins))
	for u, list := range b.ix.byUser {
		for _, k := range list[b.cutPos[u]:] {
			held[k] = true
		}
	}
	b.trainCount = make([]int, len(b.ix.ds.Items))
	out := make([]Interaction, 0, len(ins))
	total := 0
	for k, in := range ins {
		if held[k] {
			continue
		}
		total++
		b.trainCount[b.ix.itemOf[k]]++
		if b.cfg.Sparse == 0 || b.observed(in.User, in.Item) {
			out = append(out, in)
		}
	}
	return out, total
}

// newRand returns a generator seeded by the seed and the given parts, so
// every (seed, need, user) has its own stream.
func newRand(seed int64, parts ...string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(strconv.FormatInt(seed, 10))) // hash writes cannot fail
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	s := h.Sum64()
	return rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15))
}

// gainOf scores one user–item pair under the (scaled) need.
func (b *builder) gainOf(item int32, eng float64, cut int64) float64 {
	in := prompt.GainInput{Engagement: eng}
	for _, c := range b.ix.cats[item] {
		if b.seenCat[c] == b.epoch {
			in.Overlap++
		}
	}
	if b.ix.ds.HasTime {
		in.WindowPopularity = float64(b.ix.countIn(item, cut-b.window, cut))
	}
	return b.need.Gain.Gain(in)
}

// popularity is the item's interactions before the cut; without times, its
// interactions in Train.
func (b *builder) popularity(item int32, cut int64) float64 {
	if !b.ix.ds.HasTime {
		return float64(b.trainCount[item])
	}
	return float64(b.ix.countBefore(item, cut))
}

// observed reports whether the sparse mode observes the feedback of the
// pair (user, item): a seeded hash of the pair below the Sparse fraction.
// The same pair is observed, or not, in every need's episodes, in the
// history and in the training interactions alike, so no need's labels
// can reveal another's hidden feedback.
func (b *builder) observed(user, item string) bool {
	h := fnv.New64a()
	h.Write([]byte(strconv.FormatInt(b.cfg.Seed, 10) + "\x00observed\x00" + user + "\x00" + item)) // hash writes cannot fail
	x := h.Sum64()
	// splitmix64's finaliser: FNV's high bits are poorly mixed for short keys.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11)/(1<<53) < b.cfg.Sparse
}
