package rl

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/flexrec/flexrec/prompt"
)

// Predictor predicts a user's engagement with an item (a rating, a watch
// ratio) as a Gaussian: its mean and variance (>= 0). Every critic of
// package rl/critic is one.
type Predictor interface {
	Predict(user, item string) (mean, variance float64)
}

// HurdlePredictor is a Predictor whose engagement has a mass at zero: the
// user met the item with probability p, and then engaged X ~ N(mean,
// variance); else the engagement is 0. critic.Hurdle is one. Fill uses it
// for exact gain moments under that mixture.
type HurdlePredictor interface {
	Predictor
	PredictHurdle(user, item string) (p, mean, variance float64)
}

// ErrNoPrediction is returned by Fill when a candidate is unobserved and
// no prediction can stand in for its gain: no Predictor, or a gain rule
// (query_relevance) whose input is not an engagement.
var ErrNoPrediction = errors.New("rl: no prediction for an unobserved gain")

// Fill writes the gains and gain variances of ep's candidates into gains
// and variances (grown only when their capacity is short) and returns them:
// an observed candidate (Labels.IsObserved; every candidate in dense mode)
// keeps its true gain with variance 0; an unobserved one, or every one when
// ep has no labels, gets the moments of rule.Gain under the predicted
// engagement X ~ N(μ, σ²) of p.Predict(ep.UserID, item). The moments are
// exact for a Gaussian X, not a first-order approximation:
//
//   - engagement: g = max(X, 0), the rectified Gaussian:
//     E g = μΦ(z) + σφ(z), E g² = (μ²+σ²)Φ(z) + μσφ(z), z = μ/σ;
//   - novel_engagement: as engagement when the candidate is novel (at most
//     MaxOverlap of its categories appear among the history's, compared as
//     exact strings), else exactly 0 with variance 0;
//   - trend: g = 1[X >= θ]·w with θ = RelevanceMin and w the transformed
//     RecentPopularity: q = Φ((μ−θ)/σ), E g = q w, Var g = q(1−q) w²;
//   - query_relevance: ErrNoPrediction (a critic predicts engagement, not
//     query grades).
//
// When p is a HurdlePredictor the engagement is 0 with probability 1 − π
// and X ~ N(μ, σ²) otherwise (π, μ, σ² from PredictHurdle), and the
// moments are exact under that mixture: E g = π E max(X, 0),
// E g² = π E max(X, 0)² (engagement, novel_engagement), and
// q = π Φ((μ−θ)/σ) (trend).
//
// σ = 0 gives the deterministic gain. Unobserved candidates' true gains are
// never read. Errors: ErrNoPrediction; a Predictor returning a non-finite
// mean or a negative or non-finite variance (naming the item). O(N + H)
// for H history items plus N predictions.
func Fill(gains, variances []float64, ep *prompt.Episode, rule prompt.GainRule, p Predictor) ([]float64, []float64, error) {
	n := len(ep.Candidates)
	gains = slices.Grow(gains[:0], n)[:n]
	variances = slices.Grow(variances[:0], n)[:n]
	var seen map[string]bool // history categories, built on first need
	for i, c := range ep.Candidates {
		if l := ep.Labels; l != nil && i < len(l.Gains) && l.IsObserved(i) {
			gains[i], variances[i] = l.Gains[i], 0
			continue
		}
		if p == nil || rule.Rule == prompt.RuleQueryRelevance {
			return gains, variances, fmt.Errorf("rl: episode %q candidate %q (rule %s): %w", ep.ID, c.ItemID, rule.Rule, ErrNoPrediction)
		}
		pi, mu, v := 1.0, 0.0, 0.0
		if hp, ok := p.(HurdlePredictor); ok {
			pi, mu, v = hp.PredictHurdle(ep.UserID, c.ItemID)
		} else {
			mu, v = p.Predict(ep.UserID, c.ItemID)
		}
		if math.IsNaN(mu) || math.IsInf(mu, 0) || !(v >= 0) || math.IsInf(v, 1) || !(pi >= 0 && pi <= 1) {
			return gains, variances, fmt.Errorf("rl: episode %q candidate %q: prediction (%v, %v, %v) not finite", ep.ID, c.ItemID, pi, mu, v)
		}
		if rule.Rule == prompt.RuleNovelEngagement && seen == nil {
			seen = historyCategories(ep)
		}
		gains[i], variances[i] = gainMoments(rule, c, seen, pi, mu, math.Sqrt(v))
	}
	return gains, variances, nil
}

func historyCategories(ep *prompt.Episode) map[string]bool {
	seen := map[string]bool{}
	for _, h := range ep.History {
		for _, c := range h.Categories {
			seen[c] = true
		}
	}
	return seen
}

// gainMoments returns the mean and variance of rule's gain for candidate c
// when its engagement is N(mu, sd²) with probability pi and 0 otherwise.
func gainMoments(rule prompt.GainRule, c prompt.Candidate, seen map[string]bool, pi, mu, sd float64) (float64, float64) {
	switch rule.Rule {
	case prompt.RuleEngagement:
		return hurdled(pi, mu, sd)
	case prompt.RuleNovelEngagement:
		overlap := 0
		for _, cat := range c.Categories {
			if seen[cat] {
				overlap++
			}
		}
		if rule.Gain(prompt.GainInput{Engagement: 1, Overlap: overlap}) == 0 {
			return 0, 0
		}
		return hurdled(pi, mu, sd)
	case prompt.RuleTrend:
		// The weight of a relevant item: the rule's own transform.
		w := rule.Gain(prompt.GainInput{Engagement: math.Inf(1), WindowPopularity: c.RecentPopularity})
		q := pi * upperTail(mu, sd, trendThreshold(rule))
		return q * w, q * (1 - q) * w * w
	}
	return 0, 0
}

// trendThreshold mirrors GainRule's default relevance threshold (4).
func trendThreshold(r prompt.GainRule) float64 {
	if r.RelevanceMin > 0 {
		return r.RelevanceMin
	}
	return 4
}

// hurdled returns the mean and variance of g = max(X, 0) with probability
// pi and 0 otherwise, X ~ N(mu, sd²): E g = pi m1, Var g = pi m2 − (pi m1)²
// with m1, m2 the rectified Gaussian's first two moments.
func hurdled(pi, mu, sd float64) (float64, float64) {
	m, v := rectified(mu, sd)
	if pi == 1 {
		return m, v
	}
	m2 := v + m*m
	return pi * m, math.Max(pi*m2-pi*pi*m*m, 0)
}

// rectified returns the mean and variance of max(X, 0), X ~ N(mu, sd²).
func rectified(mu, sd float64) (float64, float64) {
	if sd == 0 {
		return math.Max(mu, 0), 0
	}
	z := mu / sd
	cdf, pdf := 0.5*math.Erfc(-z/math.Sqrt2), math.Exp(-z*z/2)/math.Sqrt(2*math.Pi)
	m := mu*cdf + sd*pdf
	m2 := (mu*mu+sd*sd)*cdf + mu*sd*pdf
	return m, math.Max(m2-m*m, 0)
}

// upperTail returns P(X >= t) for X ~ N(mu, sd²); a step when sd = 0.
func upperTail(mu, sd, t float64) float64 {
	if sd == 0 {
		if mu >= t {
			return 1
		}
		return 0
	}
	return 0.5 * math.Erfc((t-mu)/(sd*math.Sqrt2))
}
