package critic

import (
	"math"
	"testing"

	"github.com/flexrec/flexrec/mf"
	"github.com/flexrec/flexrec/prompt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testEpisodes() []*prompt.Episode {
	hist := []prompt.HistoryItem{
		{ItemID: "h1", Engagement: 4, Categories: []string{"Drama"}},
		{ItemID: "h2", Engagement: 0}, // unknown engagement
	}
	cands := []prompt.Candidate{{ItemID: "a", Categories: []string{"Drama"}}, {ItemID: "b", Categories: []string{"Comedy"}}, {ItemID: "c"}}
	return []*prompt.Episode{
		{ID: "interest/u1", UserID: "u1", Need: "interest", History: hist, Candidates: cands,
			Labels: &prompt.Labels{Gains: []float64{5, 2, 3}, Relevant: []bool{true, false, false}, Observed: []bool{true, false, true}}},
		{ID: "explore/u1", UserID: "u1", Need: "explore", History: hist, Candidates: cands,
			Labels: &prompt.Labels{Gains: []float64{0, 4.5, 1}, Relevant: []bool{false, true, false}, Observed: []bool{true, true, false}}},
		{ID: "trend/u2", UserID: "u2", Need: "trend", History: []prompt.HistoryItem{{ItemID: "h1", Engagement: 2}}, Candidates: cands,
			Labels: &prompt.Labels{Gains: []float64{1, 1, 1}, Relevant: []bool{true, true, true}}},
	}
}

func TestTrainingPairs(t *testing.T) {
	eps := testEpisodes()
	eps[0].Labels.Gains[2] = 0 // candidate c: never met, an exposure but no rating
	got, err := TrainingPairs(eps, BuiltinRules())
	require.NoError(t, err)
	want := []mf.Rating{
		{User: "u1", Item: "h1", Value: 4},  // history
		{User: "u1", Item: "a", Value: 5},   // interest, observed; b is unobserved
		{User: "u1", Item: "b", Value: 4.5}, // explore: b is novel and observed; a is not novel
		{User: "u2", Item: "h1", Value: 2},  // trend gives history only
	}
	assert.Equal(t, want, got.Ratings)
	assert.Equal(t, []mf.Rating{{User: "u1", Item: "a", Value: 5}, {User: "u1", Item: "c", Value: 0},
		{User: "u1", Item: "b", Value: 4.5}}, got.Exposures)

	_, err = TrainingPairs([]*prompt.Episode{{ID: "x", Need: "nope"}}, BuiltinRules())
	assert.ErrorContains(t, err, `episode "x"`)
}

func TestEvaluateEpisodes(t *testing.T) {
	eps := testEpisodes()[:1] // interest: gains 5 (obs), 2 (unobs), 3 (obs)
	p := constant{3, 1}
	rep, err := EvaluateEpisodes(p, eps, BuiltinRules(), OnUnobserved)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Pairs)
	// The rectified mean of N(3,1) is 3 to 1e-3; e = −1.
	assert.InDelta(t, 1, rep.RMSE, 1e-2)
	assert.Equal(t, 0.0, rep.Coverage50)
	assert.Equal(t, 1.0, rep.Coverage90)

	rep, err = EvaluateEpisodes(p, eps, BuiltinRules(), OnObserved)
	require.NoError(t, err)
	assert.Equal(t, 2, rep.Pairs)
	assert.InDelta(t, math.Sqrt((4+0)/2.0), rep.RMSE, 1e-2)

	rep, err = EvaluateEpisodes(p, testEpisodes(), BuiltinRules(), OnAll)
	require.NoError(t, err)
	assert.Equal(t, 9, rep.Pairs)
	assert.Equal(t, 3, rep.Episodes)

	search := &prompt.Episode{ID: "s", Need: "search", Candidates: []prompt.Candidate{{ItemID: "a"}},
		Labels: &prompt.Labels{Gains: []float64{1}, Relevant: []bool{true}}}
	rep, err = EvaluateEpisodes(p, []*prompt.Episode{search}, BuiltinRules(), OnAll)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Skipped)

	_, err = EvaluateEpisodes(p, eps, BuiltinRules(), "some")
	assert.ErrorContains(t, err, "some")
}

// TestTrainingPairsSkipsHiddenHistory checks that a sparse episode's
// unobserved history feedback never trains the critic.
func TestTrainingPairsSkipsHiddenHistory(t *testing.T) {
	eps := testEpisodes()
	eps[2].Labels.HistoryObserved = []bool{false}
	got, err := TrainingPairs(eps, BuiltinRules())
	require.NoError(t, err)
	for _, r := range got.Ratings {
		assert.False(t, r.User == "u2" && r.Item == "h1", "hidden history pair %s/%s trained the critic", r.User, r.Item)
	}
	assert.Contains(t, got.Ratings, mf.Rating{User: "u1", Item: "h1", Value: 4}, "observed history still counts")
}
