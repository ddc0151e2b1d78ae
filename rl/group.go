package rl

import (
	"fmt"
	"slices"
)

// Rollout is one sampled ranking of a group, as package rank parsed it.
type Rollout struct {
	// Permutation lists indices into the episode's gains, best first. All
	// rollouts of a group have the same length K (rank repairs every
	// rollout to the full candidate set).
	Permutation []int
	// Repaired marks, per position, the items the parser filled in
	// because the model never generated them. Such items get no credit:
	// their item advantage is 0 and they stay out of the normalisation
	// statistics. Nil means nothing was repaired.
	Repaired []bool
}

// Group computes the rewards and advantages of the G rollouts of one
// episode (method.md §3–5) into buffers it reuses, so that a steady-state
// loop over episodes allocates nothing. The slices its accessors return
// are views valid until the next Compute.
//
// The zero value is not usable; build one with NewGroup. A Group is not
// safe for concurrent use.
type Group struct {
	cfg        Config
	sc         Scorer
	g, k       int
	reward     []float64 // R_i after the format penalty
	u, scale   []float64 // u_i and c_i
	seq        []float64 // sequence advantages, scaled by c_i
	item, adv  []float64 // G×K row-major item rewards and advantages
	ivar, conf []float64 // G×K item variances and per-item scales
	skip       []bool    // G×K repaired flags
	row        []float64 // scratch of length K
	gen        []int     // scratch: the generated items of one rollout (TailExcluded)
}

// NewGroup returns a Group for cfg, or cfg's validation error.
func NewGroup(cfg Config) (*Group, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Group{cfg: cfg}, nil
}

// Compute scores every rollout against gains (the episode's N candidate
// gains, observed truth or critic means) and variances (per candidate: 0
// for observed, σ² for predicted; nil means all observed), then fills:
//
//   - R_i = Penalized(NDCG_i, repaired_i, K, FormatPenalty);
//   - r_{i,k}, the item rewards under cfg.ItemReward;
//   - under cfg.RepairedTail: TailCounted scores each permutation as
//     given; TailExcluded scores only the generated items, compacted as a
//     partial list (NDCG_i, r_{i,k}, u_i and the item variances of that
//     list; repaired positions get r = 0); TailZero sets NDCG_i and every
//     r_{i,k} of a rollout with any repair to 0 (and its u_i and item
//     variances too);
//   - u_i (cfg.Uncertainty) and c_i = ScalesInto(u, Eps, Scaling); all 1
//     under NoUncertainty or nil variances;
//   - the sequence advantages GRPO(R)_i · c_i;
//   - the item advantages: under LevelItem the r_{i,k} of generated items
//     standardised per position or pooled (repaired items excluded and
//     given 0; a constant set gives 0), then times c_i, or times the
//     per-item scale under PerItem; under LevelSequence the rollout's
//     sequence advantage for every generated item.
//
// Errors wrap ErrGains, ErrPermutation or ErrGroup (no rollouts, lengths
// differ, Repaired not aligned) and leave the Group's contents undefined.
// Cost: O(N log N + G·K), no allocation once the buffers have grown.
func (gr *Group) Compute(gains, variances []float64, rollouts []Rollout) error {
	if err := gr.prepare(gains, variances, rollouts); err != nil {
		return err
	}
	cfg := &gr.cfg
	for i, r := range rollouts {
		if err := gr.scoreRollout(i, r, variances); err != nil {
			return err
		}
	}
	gr.seq = GRPOInto(gr.seq, gr.reward, cfg.Delta)
	if cfg.Uncertainty == NoUncertainty || variances == nil {
		gr.u = fill(gr.u, gr.g, 0)
		gr.scale = fill(gr.scale, gr.g, 1)
	} else {
		gr.scale = ScalesInto(gr.scale, gr.u, cfg.Eps, cfg.Scaling, cfg.ClampMin, cfg.ClampMax)
	}
	for i := range gr.seq {
		gr.seq[i] *= gr.scale[i]
	}
	gr.itemAdvantages(variances != nil)
	return nil
}

// prepare validates the group and sizes the buffers.
func (gr *Group) prepare(gains, variances []float64, rollouts []Rollout) error {
	if len(rollouts) == 0 {
		return fmt.Errorf("rl: group has no rollouts: %w", ErrGroup)
	}
	if err := gr.sc.Reset(gains, gr.cfg.Cutoff); err != nil {
		return err
	}
	if err := gr.sc.checkVariances(variances); err != nil {
		return err
	}
	gr.g, gr.k = len(rollouts), len(rollouts[0].Permutation)
	for i, r := range rollouts {
		if len(r.Permutation) != gr.k {
			return fmt.Errorf("rl: rollout %d has %d positions, rollout 0 has %d: %w", i, len(r.Permutation), gr.k, ErrGroup)
		}
		if r.Repaired != nil && len(r.Repaired) != gr.k {
			return fmt.Errorf("rl: rollout %d: %d repaired flags for %d positions: %w", i, len(r.Repaired), gr.k, ErrGroup)
		}
	}
	gk := gr.g * gr.k
	gr.reward = fill(gr.reward, gr.g, 0)
	gr.u = fill(gr.u, gr.g, 0)
	gr.item = fill(gr.item, gk, 0)
	gr.adv = fill(gr.adv, gk, 0)
	gr.ivar = fill(gr.ivar, gk, 0)
	gr.conf = fill(gr.conf, gk, 1)
	gr.skip = slices.Grow(gr.skip[:0], gk)[:gk]
	return nil
}

// fill returns dst resized to n with every entry v.
func fill(dst []float64, n int, v float64) []float64 {
	dst = slices.Grow(dst[:0], n)[:n]
	for i := range dst {
		dst[i] = v
	}
	return dst
}

// scoreRollout fills R_i, u_i, the item rewards, their variances (PerItem)
// and the repaired flags of rollout i, under cfg.RepairedTail.
func (gr *Group) scoreRollout(i int, r Rollout, variances []float64) error {
	cfg, k := &gr.cfg, gr.k
	row, ivar := gr.item[i*k:(i+1)*k], gr.ivar[i*k:(i+1)*k]
	repaired := 0
	skip := gr.skip[i*k : (i+1)*k]
	for p := range skip {
		skip[p] = r.Repaired != nil && r.Repaired[p]
		if skip[p] {
			repaired++
		}
	}
	if err := gr.sc.check(r.Permutation); err != nil {
		return fmt.Errorf("rl: rollout %d: %w", i, err)
	}
	perm := r.Permutation
	switch {
	case repaired > 0 && cfg.RepairedTail == TailZero:
		gr.reward[i] = Penalized(0, repaired, k, cfg.FormatPenalty)
		return nil // row, u_i and ivar stay 0
	case repaired > 0 && cfg.RepairedTail == TailExcluded:
		gr.gen = gr.gen[:0]
		for p, item := range perm {
			if !skip[p] {
				gr.gen = append(gr.gen, item)
			}
		}
		perm = gr.gen
		if len(perm) == 0 {
			gr.reward[i] = Penalized(0, repaired, k, cfg.FormatPenalty)
			return nil
		}
	}
	gr.reward[i] = Penalized(gr.sc.listReward(perm), repaired, k, cfg.FormatPenalty)
	gr.u[i] = gr.sc.variance(perm, variances, cfg.Uncertainty)
	perItem := cfg.PerItem && variances != nil && cfg.Uncertainty != NoUncertainty
	// check has passed for the full permutation, so a compacted one (a
	// subset of it) is valid too and these calls cannot fail.
	gr.row, _ = gr.sc.ItemRewardsInto(gr.row, perm, cfg.ItemReward)
	gr.scatter(row, gr.row, skip, len(perm) < k)
	if perItem {
		gr.row, _ = gr.sc.ItemVariancesInto(gr.row, perm, variances, cfg.ItemReward)
		gr.scatter(ivar, gr.row, skip, len(perm) < k)
	}
	return nil
}

// scatter copies src into dst: position by position, or, when compacted,
// src's entries into the positions skip leaves free, in order, and 0 into
// the others.
func (gr *Group) scatter(dst, src []float64, skip []bool, compacted bool) {
	if !compacted {
		copy(dst, src)
		return
	}
	t := 0
	for p := range dst {
		dst[p] = 0
		if !skip[p] {
			dst[p] = src[t]
			t++
		}
	}
}

// itemAdvantages standardises the item rewards and applies the scales.
func (gr *Group) itemAdvantages(haveVar bool) {
	cfg, g, k := &gr.cfg, gr.g, gr.k
	if cfg.Level == LevelSequence {
		for j := range gr.adv {
			gr.adv[j] = 0
			if !gr.skip[j] {
				gr.adv[j] = gr.seq[j/k]
			}
		}
		return
	}
	perItem := cfg.PerItem && haveVar && cfg.Uncertainty != NoUncertainty
	if cfg.Normalize == Pooled {
		standardize(gr.adv, gr.item, gr.skip, 0, 1, g*k, cfg.Delta)
		if perItem {
			gr.itemScales(0, 1, g*k)
		}
	} else {
		for p := 0; p < k; p++ {
			standardize(gr.adv, gr.item, gr.skip, p, k, g, cfg.Delta)
			if perItem {
				gr.itemScales(p, k, g)
			}
		}
	}
	for j := range gr.adv {
		if perItem {
			gr.adv[j] *= gr.conf[j]
		} else {
			gr.adv[j] *= gr.scale[j/k]
		}
	}
}

// itemScales sets the per-item scales of the strided set from the item
// variances, as ScalesInto does for rollouts.
func (gr *Group) itemScales(off, stride, n int) {
	cfg := &gr.cfg
	gr.row = slices.Grow(gr.row[:0], n)[:n]
	for t := range n {
		gr.row[t] = gr.ivar[off+t*stride]
	}
	// ScalesInto works in place: entry t is read before it is written.
	gr.row = ScalesInto(gr.row, gr.row, cfg.Eps, cfg.Scaling, cfg.ClampMin, cfg.ClampMax)
	for t := range n {
		gr.conf[off+t*stride] = gr.row[t]
	}
}

// G returns the number of rollouts of the last Compute.
func (gr *Group) G() int { return gr.g }

// K returns the number of positions per rollout of the last Compute.
func (gr *Group) K() int { return gr.k }

// Rewards returns the list rewards R_i (after the format penalty).
func (gr *Group) Rewards() []float64 { return gr.reward }

// Uncertainties returns the rollout uncertainties u_i (0 without variances).
func (gr *Group) Uncertainties() []float64 { return gr.u }

// Scales returns the rollout scales c_i (1 without uncertainty).
func (gr *Group) Scales() []float64 { return gr.scale }

// SequenceAdvantages returns GRPO(R)_i · c_i.
func (gr *Group) SequenceAdvantages() []float64 { return gr.seq }

// ItemRewards returns rollout i's item rewards r_{i,k}, k = 1..K.
func (gr *Group) ItemRewards(i int) []float64 { return gr.item[i*gr.k : (i+1)*gr.k] }

// ItemAdvantages returns rollout i's item advantages A_{i,k}, k = 1..K
// (0 for repaired items).
func (gr *Group) ItemAdvantages(i int) []float64 { return gr.adv[i*gr.k : (i+1)*gr.k] }

// Config returns the configuration the Group computes with.
func (gr *Group) Config() Config { return gr.cfg }
