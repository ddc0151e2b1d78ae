package eval

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/eval/dataset"
	"github.com/flexrec/flexrec/prompt"
)

// mlSmallSuite builds episodes of the embedded ml-latest-small for the
// needs, at most limit per need (0: all), with the default build flags.
func mlSmallSuite(t *testing.T, limit int, needs ...string) *Suite {
	t.Helper()
	if testing.Short() {
		t.Skip("builds episodes from ml-latest-small; skipped with -short")
	}
	ds, err := dataset.Load(context.Background(), dataset.BuiltinMLLatestSmall)
	require.NoError(t, err)
	var ns []prompt.Need
	for _, id := range needs {
		n, err := prompt.LookupNeed(id)
		require.NoError(t, err)
		ns = append(ns, n)
	}
	cfg := dataset.DefaultBuildConfig()
	cfg.Limit = limit
	suite, err := BuildSuite(context.Background(), ds, ns, cfg)
	require.NoError(t, err)
	return suite
}

// evaluateNames builds the named rankers on the suite's training data and
// evaluates them.
func evaluateNames(t *testing.T, suite *Suite, names ...string) *Report {
	t.Helper()
	rc := DefaultRankerConfig()
	rc.Train = suite.Train
	rankers, err := NewRankers(context.Background(), names, rc)
	require.NoError(t, err)
	rep, err := Evaluate(context.Background(), rankers, suite.Episodes, DefaultConfig())
	require.NoError(t, err)
	return rep
}

// stat returns a ranker's Stat of a measure on a need.
func stat(t *testing.T, rep *Report, ranker, need, measure string) Stat {
	t.Helper()
	row, ok := rep.Row(ranker, need)
	require.True(t, ok, "report has %s on %s", ranker, need)
	s, ok := row.Stat(measure)
	require.True(t, ok, "row has %s", measure)
	return s
}

// TestSanityInterest: on the first 200 users of ml-latest-small,
// popularity and MF beat random on interest with 95% intervals apart.
func TestSanityInterest(t *testing.T) {
	suite := mlSmallSuite(t, 200, "interest")
	rep := evaluateNames(t, suite, "random", "popularity", "mf")
	random := stat(t, rep, "random", "interest", "ndcg@5")
	for _, name := range []string{"popularity", "mf"} {
		s := stat(t, rep, name, "interest", "ndcg@5")
		assert.Greater(t, s.Low, random.High, "%s NDCG@5 %v should beat random %v with separate intervals", name, s, random)
	}
}

// TestSanityExploreDiagnostics: rankings tuned for explore (mf+need, and
// the oracle on explore gains) fill the top 5 with novel-genre items far
// more than the interest rankings do.
func TestSanityExploreDiagnostics(t *testing.T) {
	suite := mlSmallSuite(t, 0, "interest", "explore")
	rep := evaluateNames(t, suite, "mf", "mf+need", "oracle")
	tests := []struct {
		name                   string
		tuned, tunedNeed       string
		baseline, baselineNeed string
	}{
		{"mf+need vs mf on explore episodes", "mf+need", "explore", "mf", "explore"},
		{"explore oracle vs interest oracle", "oracle", "explore", "oracle", "interest"},
		{"mf+need on explore vs mf on interest", "mf+need", "explore", "mf", "interest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tuned := stat(t, rep, tt.tuned, tt.tunedNeed, "novel@5")
			base := stat(t, rep, tt.baseline, tt.baselineNeed, "novel@5")
			assert.Greater(t, tuned.Low, base.High, "novel@5 of %s/%s %v vs %s/%s %v", tt.tuned, tt.tunedNeed, tuned, tt.baseline, tt.baselineNeed, base)
		})
	}
}

// TestRankersIgnoreLabels: every baseline ranks an episode the same with
// and without its labels, so none can read the held-out feedback.
func TestRankersIgnoreLabels(t *testing.T) {
	suite := mlSmallSuite(t, 30, "interest", "trend")
	rc := DefaultRankerConfig()
	rc.Train = suite.Train
	names := append(append([]string(nil), Baselines...), "mf+need", "item-knn+need")
	rankers, err := NewRankers(context.Background(), names, rc)
	require.NoError(t, err)
	for e := range suite.Episodes {
		ep := &suite.Episodes[e]
		blind := *ep
		blind.Labels = nil
		for _, r := range rankers {
			want := rankOrFail(t, r, ep)
			assert.Equal(t, want, rankOrFail(t, r, &blind), "%s on %s changes without labels", r.Name(), ep.ID)
		}
	}
}

// TestTrainHoldsNoHeldOutFeedback: no relevant candidate of an episode is
// among its user's training interactions.
func TestTrainHoldsNoHeldOutFeedback(t *testing.T) {
	suite := mlSmallSuite(t, 100, "interest")
	train := map[[2]string]bool{}
	for _, in := range suite.Train {
		train[[2]string{in.User, in.Item}] = true
	}
	for _, ep := range suite.Episodes {
		for i, c := range ep.Candidates {
			assert.False(t, train[[2]string{ep.UserID, c.ItemID}], "%s: candidate %d (%s, relevant %v) is in the training data", ep.ID, i, c.ItemID, ep.Labels.Relevant[i])
		}
	}
}
