package eval

import (
	"context"
	"math"

	"github.com/flexrec/flexrec/prompt"
)

// needAware wraps a scoring ranker so that it follows the episode's need
// instead of interest alone; its name is the base name plus "+need". With
// q_i in (0, 1] the base score's percentile within the episode
// (q_i = (|{j: s_j < s_i}| + 1) / N):
//
//	novel_engagement (explore): score = q_i + 1 when at most max_overlap of
//	  the item's categories appear in the history, else q_i — novel items
//	  first, each group in the base order;
//	trend: score = q_i · log(1 + RecentPopularity_i), the gain rule with the
//	  base ranker's belief in place of the user's relevance;
//	any other rule: the base score unchanged.
//
// It reads no labels. Cost per episode O(N²) on top of the base ranker.
func needAware(base *scorer, needs needResolver) *scorer {
	return &scorer{name: base.name + "+need", seed: base.seed, score: func(ctx context.Context, ep *prompt.Episode, dst []float64) error {
		if err := base.score(ctx, ep, dst); err != nil {
			return err
		}
		need, err := needs.need(ep.Need)
		if err != nil {
			return err
		}
		adapt(need.Gain, ep, dst)
		return nil
	}}
}

// adapt rewrites the base scores s in place as needAware describes.
func adapt(rule prompt.GainRule, ep *prompt.Episode, s []float64) {
	if rule.Rule != prompt.RuleNovelEngagement && rule.Rule != prompt.RuleTrend {
		return
	}
	q := percentiles(s)
	overlap := Overlaps(ep)
	for i, c := range ep.Candidates {
		switch rule.Rule {
		case prompt.RuleNovelEngagement:
			s[i] = q[i]
			if overlap[i] <= rule.MaxOverlap {
				s[i]++
			}
		case prompt.RuleTrend:
			s[i] = q[i] * log1p(c.RecentPopularity)
		}
	}
}

// percentiles returns q_i = (|{j: s_j < s_i}| + 1) / N for every i.
func percentiles(s []float64) []float64 {
	q := make([]float64, len(s))
	for i := range s {
		below := 0
		for j := range s {
			if s[j] < s[i] {
				below++
			}
		}
		q[i] = float64(below+1) / float64(len(s))
	}
	return q
}

// log1p is math.Log1p clamped at 0 for negative input.
func log1p(x float64) float64 {
	if !(x > 0) {
		return 0
	}
	return math.Log1p(x)
}
