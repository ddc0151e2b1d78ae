package prompt

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEpisodeJSONRoundTrip(t *testing.T) {
	raw, err := os.ReadFile("testdata/episode_small.json")
	require.NoError(t, err)
	ep, err := ParseEpisode(raw)
	require.NoError(t, err)
	out, err := json.Marshal(ep)
	require.NoError(t, err)
	back, err := ParseEpisode(out)
	require.NoError(t, err)
	assert.Equal(t, ep, back, "episode after a JSON round trip")
	assert.JSONEq(t, string(raw), string(out), "re-encoded episode equals the file")
	assert.True(t, ep.Labels.IsObserved(0))
	assert.False(t, ep.Labels.IsObserved(1))
}

func TestEpisodeValidate(t *testing.T) {
	good := func() *Episode {
		return &Episode{ID: "e", Candidates: []Candidate{{ItemID: "a"}, {ItemID: "b"}},
			Labels: &Labels{Gains: []float64{1, 0}, Relevant: []bool{true, false}}}
	}
	tests := []struct {
		name    string
		mutate  func(*Episode)
		wantErr string
	}{
		{"valid", func(*Episode) {}, ""},
		{"no candidates", func(e *Episode) { e.Candidates = nil }, "no candidates"},
		{"duplicate id", func(e *Episode) { e.Candidates[1].ItemID = "a" }, "duplicate"},
		{"empty id", func(e *Episode) { e.Candidates[0].ItemID = "" }, "no item_id"},
		{"short gains", func(e *Episode) { e.Labels.Gains = []float64{1} }, "not aligned"},
		{"short observed", func(e *Episode) { e.Labels.Observed = []bool{true} }, "not aligned"},
		{"negative gain", func(e *Episode) { e.Labels.Gains[1] = -1 }, "want >= 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := good()
			tc.mutate(e)
			err := e.Validate()
			if tc.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tc.wantErr)
		})
	}
	_, err := ParseEpisode([]byte(`{"id": 3`))
	assert.ErrorContains(t, err, "decode episode")
}
