package testbed

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/eval/dataset"
	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rl"
)

// syntheticEpisodeFor is one synthetic episode of user under need.
func syntheticEpisodeFor(user string, need prompt.Need) prompt.Episode {
	return syntheticEpisode(rand.New(rand.NewPCG(1, 1)), user, need)
}

func TestHeldOutUserShare(t *testing.T) {
	for _, frac := range []float64{0.1, 0.3, 0.5} {
		held := 0
		const users = 20000
		for u := range users {
			if heldOutUser(1, fmt.Sprint(u+1), frac) {
				held++
			}
		}
		// Binomial standard error at 20000 users is at most 0.0035.
		assert.InDelta(t, frac, float64(held)/users, 0.015, "held-out share of consecutive user ids at %v", frac)
		assert.Equal(t, heldOutUser(1, "42", frac), heldOutUser(1, "42", frac), "deterministic")
	}
}

func TestPrepareMLLatestSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("loads ml-latest-small and trains MF models and a critic (about 2 s)")
	}
	ctx := context.Background()
	ds, err := dataset.Load(ctx, dataset.BuiltinMLLatestSmall)
	require.NoError(t, err)
	cfg := QuickConfig()
	cfg.Measures = measures
	p, err := Prepare(ctx, ds, cfg, nil)
	require.NoError(t, err, "Prepare")
	train, held := p.Counts()
	for n, need := range p.Needs() {
		assert.Positive(t, train[n], "%s training episodes", need)
		assert.Positive(t, held[n], "%s held-out episodes", need)
	}
	users := map[string]bool{}
	for _, e := range p.train {
		users[userOf(e.id)] = true
		require.Contains(t, e.filled, "ensemble", "episode %s has critic-filled gains", e.id)
	}
	for _, e := range p.heldOut {
		assert.False(t, users[userOf(e.id)], "held-out episode %s belongs to a training user", e.id)
	}
	// The sparse mode hides the truth of unobserved candidates: about 90%
	// of the positive gains are 0 in the observed gains.
	var pos, hidden float64
	for _, e := range p.train {
		for i, g := range e.truth {
			if g > 0 {
				pos++
				if e.observed[i] == 0 {
					hidden++
				}
			}
		}
	}
	assert.InDelta(t, 0.9, hidden/pos, 0.05, "share of positive gains hidden in the sparse mode")
	// One mask for candidates and history, as in the pipeline: the
	// critic's history pairs are the observed share, not all of them.
	sp := p.Sparsity()
	require.Positive(t, sp.History, "history items counted")
	assert.InDelta(t, cfg.Sparse, sp.HistoryShare(), 0.01, "observed share of history items (%d of %d)", sp.HistoryObserved, sp.History)
	assert.InDelta(t, cfg.Sparse, sp.CandidateShare(), 0.01, "observed share of candidates (%d of %d)", sp.CandidatesObserved, sp.Candidates)
	// The sparse mode's features come from models trained on the observed
	// feedback only, so they differ from the dense mode's.
	assert.NotEqual(t, p.train[0].x, p.train[0].xs, "sparse features differ from dense ones")
	init := p.Evaluate(p.InitialWeights(1), measures)
	assert.Greater(t, init[0][0], 0.5, "the initial (affinity) policy is a good interest ranker")
}

// userOf returns the user part of an episode id "need/uUSER".
func userOf(id string) string {
	for i := range id {
		if id[i] == '/' {
			return id[i+1:]
		}
	}
	return id
}

func TestNewProblemErrors(t *testing.T) {
	needs := syntheticNeeds()
	good := Data{Needs: needs, Affinity: noise, Rating: noise,
		Train:   []prompt.Episode{syntheticEpisodeFor("u1", needs[0])},
		HeldOut: []prompt.Episode{syntheticEpisodeFor("u2", needs[0])}}
	_, err := NewProblem(good)
	require.NoError(t, err, "NewProblem")
	for _, tc := range []struct {
		name string
		edit func(*Data)
	}{
		{"no held-out", func(d *Data) { d.HeldOut = nil }},
		{"nil scorer", func(d *Data) { d.Rating = nil }},
		{"unknown need", func(d *Data) { d.Needs = needs[1:] }},
		{"no labels", func(d *Data) { d.Train[0].Labels = nil }},
		{"NaN score", func(d *Data) { d.Affinity = func(string, string) float64 { return math.NaN() } }},
		{"failing critic", func(d *Data) {
			d.Critics = map[string]rl.Predictor{"ensemble": constCritic{math.NaN(), 1}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := good
			d.Train = []prompt.Episode{syntheticEpisodeFor("u1", needs[0])}
			tc.edit(&d)
			_, err := NewProblem(d)
			assert.Error(t, err, "NewProblem with %s", tc.name)
		})
	}
}
