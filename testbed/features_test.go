package testbed

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/prompt"
)

func TestGenreShares(t *testing.T) {
	freq := map[string]int{"drama": 3, "comedy": 1}
	for _, tc := range []struct {
		name         string
		cats         []string
		h            int
		match, novel float64
	}{
		{"all familiar", []string{"drama", "comedy"}, 4, (0.75 + 0.25) / 2, 0},
		{"half new", []string{"drama", "horror"}, 4, 0.75 / 2, 0.5},
		{"all new", []string{"horror"}, 4, 0, 1},
		{"no genres", nil, 4, 0, 0},
		{"no history", []string{"horror"}, 0, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, n := genreShares(tc.cats, freq, tc.h)
			assert.InDelta(t, tc.match, m, 1e-15, "match")
			assert.InDelta(t, tc.novel, n, 1e-15, "novelty")
		})
	}
}

func TestFeaturizeLayout(t *testing.T) {
	ep := &prompt.Episode{UserID: "u", History: []prompt.HistoryItem{{Categories: []string{"a"}}, {Categories: []string{"a", "b"}}},
		Candidates: []prompt.Candidate{
			{ItemID: "x", Popularity: 0, RecentPopularity: 5, Categories: []string{"a"}},
			{ItemID: "y", Popularity: math.E - 1, RecentPopularity: 5, Categories: []string{"c"}},
		}}
	score := func(_, item string) float64 {
		if item == "x" {
			return 2
		}
		return 0
	}
	x := featurize(ep, 1, 2, score, score) // need 1 of 2
	d := Dim(2)
	require.Len(t, x, 2*d)
	// z-scores of two values are −1 and +1; equal values give 0.
	want0 := [NumBase]float64{1, 1, -1, 0, 1, 0}
	want1 := [NumBase]float64{-1, -1, 1, 0, 0, 1}
	for i, want := range [][NumBase]float64{want0, want1} {
		row := x[i*d : (i+1)*d]
		assert.InDeltaSlice(t, want[:], row[:NumBase], 1e-12, "candidate %d shared block", i)
		assert.Equal(t, make([]float64, NumBase), row[NumBase:2*NumBase], "candidate %d: need 0's block is off", i)
		assert.InDeltaSlice(t, want[:], row[2*NumBase:], 1e-12, "candidate %d: need 1's block repeats the features", i)
	}
	assert.Equal(t, "explore:genre_novelty", FeatureName([]string{"interest", "explore"}, 2*NumBase+FeatNovelty), "FeatureName")
	assert.Equal(t, "affinity", FeatureName([]string{"interest", "explore"}, FeatAffinity), "FeatureName shared")
}
