package prompt

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBuiltinNeedsValidate(t *testing.T) {
	needs := BuiltinNeeds()
	ids := make([]string, 0, len(needs))
	for _, n := range needs {
		require.NoError(t, n.Validate(), "Validate(%s)", n.ID)
		ids = append(ids, n.ID)
	}
	assert.Equal(t, []string{"interest", "explore", "trend", "search"}, ids)
}

func TestLoadNeeds(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		wantIDs []string
		wantErr []string // substrings of the error
	}{
		{name: "yaml list", path: "testdata/needs_custom.yaml", wantIDs: []string{"hidden-gems", "hot-now"}},
		{name: "json single", path: "testdata/need_single.json", wantIDs: []string{"search-strict"}},
		{name: "unknown rule", path: "testdata/need_badrule.yaml", wantErr: []string{"need_badrule.yaml", "gain.rule", "serendipity"}},
		{name: "missing instruction", path: "testdata/need_noinstr.json", wantErr: []string{"need_noinstr.json", "field instruction"}},
		{name: "missing file", path: "testdata/nope.yaml", wantErr: []string{"nope.yaml"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			needs, err := LoadNeeds(tc.path)
			if tc.wantErr != nil {
				require.Error(t, err, "LoadNeeds(%s)", tc.path)
				for _, s := range tc.wantErr {
					assert.Contains(t, err.Error(), s)
				}
				return
			}
			require.NoError(t, err, "LoadNeeds(%s)", tc.path)
			var ids []string
			for _, n := range needs {
				ids = append(ids, n.ID)
			}
			assert.Equal(t, tc.wantIDs, ids)
		})
	}
}

func TestLoadNeedsParameters(t *testing.T) {
	needs, err := LoadNeeds("testdata/needs_custom.yaml")
	require.NoError(t, err)
	assert.Equal(t, 1, needs[0].Gain.MaxOverlap)
	assert.True(t, needs[0].Shows("popularity"))
	assert.Equal(t, int64(7*86400), needs[1].Gain.Window())
	// A novel item with one overlapping genre still counts under max_overlap 1.
	assert.Equal(t, 4.0, needs[0].Gain.Gain(GainInput{Engagement: 4, Overlap: 1}))
	assert.Equal(t, 0.0, needs[0].Gain.Gain(GainInput{Engagement: 4, Overlap: 2}))
}

func TestGainRules(t *testing.T) {
	tests := []struct {
		name string
		rule GainRule
		in   GainInput
		want float64
	}{
		{"engagement", GainRule{Rule: RuleEngagement}, GainInput{Engagement: 4.5}, 4.5},
		{"engagement negative clamps", GainRule{Rule: RuleEngagement}, GainInput{Engagement: -1}, 0},
		{"novel keeps", GainRule{Rule: RuleNovelEngagement}, GainInput{Engagement: 3, Overlap: 0}, 3},
		{"familiar zero", GainRule{Rule: RuleNovelEngagement}, GainInput{Engagement: 5, Overlap: 1}, 0},
		{"trend relevant log1p", GainRule{Rule: RuleTrend}, GainInput{Engagement: 4, WindowPopularity: math.E - 1}, 1},
		{"trend below relevance", GainRule{Rule: RuleTrend}, GainInput{Engagement: 3.5, WindowPopularity: 100}, 0},
		{"trend linear", GainRule{Rule: RuleTrend, Transform: "linear", RelevanceMin: 2}, GainInput{Engagement: 2, WindowPopularity: 7}, 7},
		{"esci exact", GainRule{Rule: RuleQueryRelevance}, GainInput{Grade: "E"}, 1},
		{"esci substitute lower case", GainRule{Rule: RuleQueryRelevance}, GainInput{Grade: "s"}, 0.1},
		{"esci complement", GainRule{Rule: RuleQueryRelevance}, GainInput{Grade: "C"}, 0.01},
		{"esci irrelevant", GainRule{Rule: RuleQueryRelevance}, GainInput{Grade: "I"}, 0},
		{"esci unknown grade", GainRule{Rule: RuleQueryRelevance}, GainInput{Grade: "X"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.InDelta(t, tc.want, tc.rule.Gain(tc.in), 1e-12, "Gain(%+v)", tc.in)
		})
	}
}

func TestResolveNeed(t *testing.T) {
	n, err := ResolveNeed("explore")
	require.NoError(t, err)
	assert.Equal(t, RuleNovelEngagement, n.Gain.Rule)
	n, err = ResolveNeed("testdata/need_single.json")
	require.NoError(t, err)
	assert.Equal(t, "search-strict", n.ID)
	_, err = ResolveNeed("serendipity")
	assert.ErrorContains(t, err, "unknown need")
}
