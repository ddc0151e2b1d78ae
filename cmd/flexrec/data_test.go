package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDataStatsCommand(t *testing.T) {
	code, out, stderr := runCLI(t, "", "data", "stats", "--dataset", ml100K)
	require.Equal(t, 0, code, "stderr: %s", stderr)
	assert.Contains(t, out, "layout movielens-100k")
	assert.Contains(t, out, "users:         5")
	assert.Contains(t, out, "interactions:  60")

	code, out, stderr = runCLI(t, "", "data", "stats", "--format", "json")
	require.Equal(t, 0, code, "stderr: %s", stderr)
	var st struct {
		Users, Items, Interactions int
		Layout                     string
	}
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	assert.Equal(t, 610, st.Users)
	assert.Equal(t, 9742, st.Items)
	assert.Equal(t, 100836, st.Interactions)
	assert.Equal(t, "movielens-latest", st.Layout)

	code, _, stderr = runCLI(t, "", "data", "stats", "--format", "xml")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "--format")
}
