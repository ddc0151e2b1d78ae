package rl

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/flexrec/flexrec/prompt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixed predicts the same Gaussian for every pair.
type fixed struct{ mu, v float64 }

func (f fixed) Predict(string, string) (float64, float64) { return f.mu, f.v }

// monteCarlo estimates the mean and variance of rule's gain for c.
func monteCarlo(rule prompt.GainRule, overlap int, pop, mu, sd float64) (float64, float64) {
	rng := rand.New(rand.NewPCG(9, 9))
	const n = 400000
	var s, s2 float64
	for range n {
		g := rule.Gain(prompt.GainInput{Engagement: mu + sd*rng.NormFloat64(), Overlap: overlap, WindowPopularity: pop})
		s += g
		s2 += g * g
	}
	m := s / n
	return m, s2/n - m*m
}

func TestFillMomentsMatchMonteCarlo(t *testing.T) {
	ep := &prompt.Episode{ID: "e", UserID: "u",
		History:    []prompt.HistoryItem{{ItemID: "h", Categories: []string{"Drama"}}},
		Candidates: []prompt.Candidate{{ItemID: "a", Categories: []string{"Comedy"}, RecentPopularity: 12}, {ItemID: "b", Categories: []string{"Drama"}}}}
	tests := []struct {
		name    string
		rule    prompt.GainRule
		mu, v   float64
		overlap []int
	}{
		{"engagement far from 0", prompt.GainRule{Rule: prompt.RuleEngagement}, 3.5, 0.8, []int{0, 1}},
		{"engagement rectified", prompt.GainRule{Rule: prompt.RuleEngagement}, 0.3, 1, []int{0, 1}},
		{"novel", prompt.GainRule{Rule: prompt.RuleNovelEngagement}, 3, 0.6, []int{0, 1}},
		{"trend", prompt.GainRule{Rule: prompt.RuleTrend, RelevanceMin: 4}, 3.7, 0.5, []int{0, 1}},
		{"trend linear", prompt.GainRule{Rule: prompt.RuleTrend, Transform: "linear"}, 4.2, 0.3, []int{0, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, v, err := Fill(nil, nil, ep, tc.rule, fixed{tc.mu, tc.v})
			require.NoError(t, err)
			for i, c := range ep.Candidates {
				wm, wv := monteCarlo(tc.rule, tc.overlap[i], c.RecentPopularity, tc.mu, math.Sqrt(tc.v))
				assert.InDelta(t, wm, g[i], 0.01*(1+wm), "mean of candidate %s", c.ItemID)
				assert.InDelta(t, wv, v[i], 0.02*(1+wv), "variance of candidate %s", c.ItemID)
			}
		})
	}
}

func TestFillObservedAndErrors(t *testing.T) {
	ep := &prompt.Episode{ID: "e", UserID: "u",
		Candidates: []prompt.Candidate{{ItemID: "a"}, {ItemID: "b"}, {ItemID: "c"}},
		Labels: &prompt.Labels{Gains: []float64{4, 99, 1}, Relevant: []bool{true, true, false},
			Observed: []bool{true, false, true}}}
	rule := prompt.GainRule{Rule: prompt.RuleEngagement}
	g, v, err := Fill(nil, nil, ep, rule, fixed{3, 0})
	require.NoError(t, err)
	assert.Equal(t, []float64{4, 3, 1}, g, "observed gains kept, unobserved truth (99) never used")
	assert.Equal(t, []float64{0, 0, 0}, v)

	_, _, err = Fill(nil, nil, ep, rule, nil)
	assert.ErrorIs(t, err, ErrNoPrediction, "no predictor")
	_, _, err = Fill(nil, nil, ep, prompt.GainRule{Rule: prompt.RuleQueryRelevance}, fixed{3, 1})
	assert.ErrorIs(t, err, ErrNoPrediction, "query relevance")
	_, _, err = Fill(nil, nil, ep, rule, fixed{math.NaN(), 1})
	assert.ErrorContains(t, err, `candidate "b"`)

	ep.Labels.Observed = nil // dense mode: nothing predicted
	g, _, err = Fill(g, v, ep, rule, nil)
	require.NoError(t, err)
	assert.Equal(t, []float64{4, 99, 1}, g)
}

// hurdleFixed predicts the same mixture for every pair: met with
// probability p, then N(mu, v).
type hurdleFixed struct{ p, mu, v float64 }

func (f hurdleFixed) Predict(string, string) (float64, float64) {
	return f.p * f.mu, f.p*f.v + f.p*(1-f.p)*f.mu*f.mu
}

func (f hurdleFixed) PredictHurdle(string, string) (float64, float64, float64) { return f.p, f.mu, f.v }

func TestFillHurdleMomentsMatchMonteCarlo(t *testing.T) {
	ep := &prompt.Episode{ID: "e", UserID: "u",
		History:    []prompt.HistoryItem{{ItemID: "h", Categories: []string{"Drama"}}},
		Candidates: []prompt.Candidate{{ItemID: "a", Categories: []string{"Comedy"}, RecentPopularity: 12}, {ItemID: "b", Categories: []string{"Drama"}}}}
	for _, tc := range []struct {
		name string
		rule prompt.GainRule
		h    hurdleFixed
	}{
		{"engagement", prompt.GainRule{Rule: prompt.RuleEngagement}, hurdleFixed{0.3, 3.5, 0.8}},
		{"engagement rectified", prompt.GainRule{Rule: prompt.RuleEngagement}, hurdleFixed{0.6, 0.2, 1}},
		{"novel", prompt.GainRule{Rule: prompt.RuleNovelEngagement}, hurdleFixed{0.4, 3, 0.6}},
		{"trend", prompt.GainRule{Rule: prompt.RuleTrend, RelevanceMin: 4}, hurdleFixed{0.5, 3.7, 0.5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, v, err := Fill(nil, nil, ep, tc.rule, tc.h)
			require.NoError(t, err)
			rng := rand.New(rand.NewPCG(10, 10))
			for i, c := range ep.Candidates {
				overlap := i // candidate b shares the history's genre
				const n = 400000
				var s, s2 float64
				for range n {
					eng := 0.0
					if rng.Float64() < tc.h.p {
						eng = tc.h.mu + math.Sqrt(tc.h.v)*rng.NormFloat64()
					}
					x := tc.rule.Gain(prompt.GainInput{Engagement: eng, Overlap: overlap, WindowPopularity: c.RecentPopularity})
					s += x
					s2 += x * x
				}
				wm := s / n
				wv := s2/n - wm*wm
				assert.InDelta(t, wm, g[i], 0.01*(1+wm), "mean of candidate %s", c.ItemID)
				assert.InDelta(t, wv, v[i], 0.02*(1+wv), "variance of candidate %s", c.ItemID)
			}
		})
	}
}
