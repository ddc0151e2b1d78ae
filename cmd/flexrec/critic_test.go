package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sparseEpisodes builds sparse interest episodes from the ml-100k fixture.
func sparseEpisodes(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "eps.jsonl")
	code, _, stderr := runCLI(t, "", "episodes", "--dataset", ml100K, "--need", "interest",
		"--hold-out", "4", "--candidates", "6", "--sparse=0.5", "--seed", "3", "--out", path)
	require.Equal(t, 0, code, "stderr: %s", stderr)
	return path
}

func TestCriticTrainAndEval(t *testing.T) {
	eps := sparseEpisodes(t)
	for _, kind := range []string{"ensemble", "user-knn", "item-knn"} {
		t.Run(kind, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "critic.json")
			code, stdout, stderr := runCLI(t, "", "critic", "train", "--episodes", eps, "--kind", kind,
				"--out", out, "--seed", "2", "--models", "3", "--valid-fraction", "0.3")
			require.Equal(t, 0, code, "stderr: %s", stderr)
			var sum struct {
				Kind    string `json:"kind"`
				Ratings int    `json:"ratings"`
			}
			require.NoError(t, json.Unmarshal([]byte(stdout), &sum))
			assert.Equal(t, kind, sum.Kind)
			assert.Greater(t, sum.Ratings, 10)
			raw, err := os.ReadFile(out)
			require.NoError(t, err)
			assert.Contains(t, string(raw), `"kind":"`+kind+`"`)

			code, stdout, stderr = runCLI(t, "", "critic", "eval", "--critic", out, "--episodes", eps, "--on", "all")
			require.Equal(t, 0, code, "stderr: %s", stderr)
			var rep struct {
				Pairs      int     `json:"pairs"`
				RMSE       float64 `json:"rmse"`
				Coverage90 float64 `json:"coverage90"`
			}
			require.NoError(t, json.Unmarshal([]byte(stdout), &rep))
			assert.Greater(t, rep.Pairs, 0)
			assert.Greater(t, rep.RMSE, 0.0)
			assert.GreaterOrEqual(t, rep.Coverage90, 0.0)
		})
	}
}

func TestCriticCommandErrors(t *testing.T) {
	code, _, stderr := runCLI(t, "", "critic", "train", "--episodes", "x.jsonl")
	assert.Equal(t, 2, code, "missing --out: %s", stderr)
	code, _, stderr = runCLI(t, "", "critic", "train", "--episodes", "x.jsonl", "--out", "c.json", "--kind", "svd")
	assert.Equal(t, 2, code, "bad kind: %s", stderr)
	code, _, stderr = runCLI(t, "", "critic", "eval", "--critic", "c.json", "--episodes", "x.jsonl", "--on", "some")
	assert.Equal(t, 2, code, "bad --on: %s", stderr)

	bad := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"version":7}`), 0o644))
	code, _, stderr = runCLI(t, "", "critic", "eval", "--critic", bad, "--episodes", "x.jsonl")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "bad.json")
}
