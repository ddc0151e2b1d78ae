package critic

import (
	"fmt"

	"github.com/flexrec/flexrec/mf"
	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rl"
)

// Rules maps a need id to its gain rule; BuiltinRules gives the four
// built-in needs.
type Rules map[string]prompt.GainRule

// BuiltinRules returns the gain rules of prompt.BuiltinNeeds by need id.
func BuiltinRules() Rules {
	r := Rules{}
	for _, n := range prompt.BuiltinNeeds() {
		r[n.ID] = n.Gain
	}
	return r
}

// Observed is what episodes let a critic learn from.
type Observed struct {
	// Ratings are the observed engagements (> 0): every observed history
	// item with Engagement > 0, plus every observed candidate whose gain is its
	// engagement and above 0.
	Ratings []mf.Rating
	// Exposures are the observed candidates whose gain is their engagement,
	// zeros included: a candidate the user never interacted with has gain 0.
	// They fit the hurdle (TrainHurdle).
	Exposures []mf.Rating
}

// TrainingPairs returns what episodes let a critic learn from, never an
// unobserved candidate's label:
//
//   - every history item with Engagement > 0 (0 means unknown) whose
//     feedback is observed (Episode.HistoryIsObserved: all of it in dense
//     mode, the sampled fraction in sparse mode);
//   - every observed candidate (Labels.IsObserved) whose gain is its
//     engagement: under an engagement rule (interest), and under
//     novel_engagement (explore) when the candidate is novel. Gains under
//     trend or query_relevance do not reveal the engagement and are skipped.
//
// A rating seen more than once keeps its last value; pairs come out in
// order of first appearance. An episode whose need is not in rules is an
// error naming it.
func TrainingPairs(eps []*prompt.Episode, rules Rules) (Observed, error) {
	type key struct{ u, i string }
	pos := map[key]int{}
	var out Observed
	add := func(u, i string, v float64) {
		if k, ok := pos[key{u, i}]; ok {
			out.Ratings[k].Value = v
			return
		}
		pos[key{u, i}] = len(out.Ratings)
		out.Ratings = append(out.Ratings, mf.Rating{User: u, Item: i, Value: v})
	}
	for _, ep := range eps {
		rule, ok := rules[ep.Need]
		if !ok {
			return Observed{}, fmt.Errorf("critic: episode %q: unknown need %q", ep.ID, ep.Need)
		}
		for i, h := range ep.History {
			if h.Engagement > 0 && ep.HistoryIsObserved(i) {
				add(ep.UserID, h.ItemID, h.Engagement)
			}
		}
		if ep.Labels == nil || (rule.Rule != prompt.RuleEngagement && rule.Rule != prompt.RuleNovelEngagement) {
			continue
		}
		novel := novelty(ep, rule)
		for i, c := range ep.Candidates {
			if i < len(ep.Labels.Gains) && ep.Labels.IsObserved(i) && novel(c) {
				g := ep.Labels.Gains[i]
				out.Exposures = append(out.Exposures, mf.Rating{User: ep.UserID, Item: c.ItemID, Value: g})
				if g > 0 {
					add(ep.UserID, c.ItemID, g)
				}
			}
		}
	}
	return out, nil
}

// novelty reports, under rule, whether a candidate's gain is its
// engagement: always for engagement, for novel items under
// novel_engagement.
func novelty(ep *prompt.Episode, rule prompt.GainRule) func(prompt.Candidate) bool {
	if rule.Rule != prompt.RuleNovelEngagement {
		return func(prompt.Candidate) bool { return true }
	}
	seen := map[string]bool{}
	for _, h := range ep.History {
		for _, c := range h.Categories {
			seen[c] = true
		}
	}
	return func(c prompt.Candidate) bool {
		overlap := 0
		for _, cat := range c.Categories {
			if seen[cat] {
				overlap++
			}
		}
		return rule.Gain(prompt.GainInput{Engagement: 1, Overlap: overlap}) > 0
	}
}

// Held-out selections for EvaluateEpisodes.
const (
	// OnUnobserved evaluates on the candidates whose labels are hidden from
	// training (the sparse mode's held-out pairs). The default.
	OnUnobserved = "unobserved"
	// OnObserved evaluates on the observed candidates (in-sample when the
	// critic was trained on the same episodes).
	OnObserved = "observed"
	// OnAll evaluates on every labelled candidate.
	OnAll = "all"
)

// EpisodeReport is the result of EvaluateEpisodes.
type EpisodeReport struct {
	Calibration
	// Episodes is the number of episodes that contributed pairs.
	Episodes int `json:"episodes"`
	// Skipped is the number of episodes without labels or whose rule a
	// critic cannot predict (query_relevance).
	Skipped int `json:"skipped"`
	// Positive is the calibration on the selected pairs whose true gain is
	// above 0 only. Under interest on MovieLens these are the rated pairs;
	// the others are unseen candidates, whose gain the episode builder sets
	// to 0 and which a critic trained on ratings cannot know.
	Positive Calibration `json:"positive"`
}

// MixturePredictor is a critic that predicts a gain's Mixture (Hurdle).
type MixturePredictor interface {
	PredictMixture(user, item string) Mixture
}

// EvaluateEpisodes compares p's predicted gains (rl.Fill on the episode
// with its labels hidden, so every candidate is predicted) with the true
// gains of the candidates selected by on (OnUnobserved, OnObserved,
// OnAll). Where the gain is the engagement (interest; explore for novel
// items) and p is a MixturePredictor, coverage and log score come from
// the mixture (Calibrator.AddMixture); elsewhere from the Gaussian of the
// filled gain's mean and variance. Under the interest need gains are engagements, so this is the
// critic's calibration on held-out pairs; under other needs it measures
// the gain moments. Errors: an unknown on or need, or a failing
// prediction, naming the episode.
func EvaluateEpisodes(p rl.Predictor, eps []*prompt.Episode, rules Rules, on string) (EpisodeReport, error) {
	if on != OnUnobserved && on != OnObserved && on != OnAll {
		return EpisodeReport{}, fmt.Errorf("critic: evaluate on %q, want unobserved, observed or all", on)
	}
	var cal, pos Calibrator
	var rep EpisodeReport
	var mu, vs []float64
	for _, ep := range eps {
		rule, ok := rules[ep.Need]
		if !ok {
			return rep, fmt.Errorf("critic: episode %q: unknown need %q", ep.ID, ep.Need)
		}
		if ep.Labels == nil || rule.Rule == prompt.RuleQueryRelevance {
			rep.Skipped++
			continue
		}
		hidden := *ep
		hidden.Labels = nil
		var err error
		if mu, vs, err = rl.Fill(mu, vs, &hidden, rule, p); err != nil {
			return rep, fmt.Errorf("critic: evaluate: %w", err)
		}
		mix, isMix := p.(MixturePredictor)
		novel := novelty(ep, rule)
		used := false
		for i, g := range ep.Labels.Gains[:min(len(ep.Labels.Gains), len(mu))] {
			obs := ep.Labels.IsObserved(i)
			if on == OnAll || (on == OnObserved) == obs {
				c := ep.Candidates[i]
				if isMix && (rule.Rule == prompt.RuleEngagement || rule.Rule == prompt.RuleNovelEngagement) && novel(c) {
					m := mix.PredictMixture(ep.UserID, c.ItemID)
					cal.AddMixture(g, m)
					if g > 0 {
						pos.AddMixture(g, m)
					}
				} else {
					cal.Add(g, mu[i], vs[i])
					if g > 0 {
						pos.Add(g, mu[i], vs[i])
					}
				}
				used = true
			}
		}
		if used {
			rep.Episodes++
		}
	}
	rep.Calibration, rep.Positive = cal.Result(), pos.Result()
	return rep, nil
}
