package dataset

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSummarize checks the stats of generic-tiny by hand: 3 users (7, 4, 1
// interactions), 8 items, 12 interactions, values 5 4 2 5 4.5 3 4 3 4 4 2 5.
func TestSummarize(t *testing.T) {
	st := Summarize(load(t, fixture("generic-tiny")))
	assert.Equal(t, 3, st.Users)
	assert.Equal(t, 8, st.Items)
	assert.Equal(t, 8, st.ActiveItems)
	assert.Equal(t, 12, st.Interactions)
	assert.InDelta(t, 0.5, st.Density, 1e-12, "12 / (3×8)")
	assert.Equal(t, Quantiles{Min: 1, P10: 1, Median: 4, P90: 7, Max: 7, Mean: 4}, st.PerUser)
	assert.InDelta(t, 45.5/12, st.Values.Mean, 1e-12)
	assert.Equal(t, []ValueCount{{2, 2}, {3, 2}, {4, 4}, {4.5, 1}, {5, 3}}, st.ValueCounts)
	assert.Equal(t, int64(50*day), st.TimeFrom)
	assert.Equal(t, int64(113*day), st.TimeTo)
	assert.Equal(t, 4, st.Categories)
	assert.Equal(t, []CategoryCount{{"Action", 3}, {"Comedy", 2}, {"Drama", 2}, {"Horror", 1}}, st.TopCategories)
	var b bytes.Buffer
	require.NoError(t, st.WriteText(&b))
	assert.Contains(t, b.String(), "density:       50.0000%")
	assert.Contains(t, b.String(), "1970-02-20 to 1970-04-24 (63 days)")
}

func TestSummarizeSearch(t *testing.T) {
	st := Summarize(load(t, fixture("esci")))
	assert.Equal(t, 3, st.Queries)
	assert.Equal(t, 13, st.Judgements)
	assert.Equal(t, []LabelCount{{"E", 3}, {"S", 2}, {"C", 5}, {"I", 3}}, st.Labels)
	assert.Zero(t, st.Density)
}
