package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/eval/dataset"
)

const ml100K = "../../testdata/datasets/ml-100k"

func TestEpisodesCommand(t *testing.T) {
	code, out, stderr := runCLI(t, "", "episodes", "--dataset", ml100K, "--need", "interest",
		"--hold-out", "4", "--candidates", "6", "--limit", "2", "--seed", "3")
	require.Equal(t, 0, code, "stderr: %s", stderr)
	eps, err := dataset.ReadEpisodes(context.Background(), strings.NewReader(out), "stdout")
	require.NoError(t, err)
	require.Len(t, eps, 2)
	for _, ep := range eps {
		assert.Equal(t, "interest", ep.Need)
		assert.Len(t, ep.Candidates, 6)
		assert.Len(t, ep.History, 8, "12 ratings minus 4 held out")
		rel := 0
		for _, r := range ep.Labels.Relevant {
			if r {
				rel++
			}
		}
		assert.LessOrEqual(t, rel, 2, "--candidates 6 alone caps positives at 6/3")
	}
	assert.Contains(t, stderr, "episodes built")
	assert.Contains(t, stderr, "layout=movielens-100k")
}

// TestEpisodesCommandDeterministic: the same flags give the same bytes, on
// stdout and through --out; --train-out writes the training CSV.
func TestEpisodesCommandDeterministic(t *testing.T) {
	dir := t.TempDir()
	args := []string{"episodes", "--need", "trend", "--limit", "40", "--sparse", "--popularity-matched"}
	code, first, stderr := runCLI(t, "", args...)
	require.Equal(t, 0, code, "stderr: %s", stderr)
	_, second, _ := runCLI(t, "", args...)
	assert.Equal(t, first, second)
	out, train := filepath.Join(dir, "eps.jsonl"), filepath.Join(dir, "train.csv")
	code, stdout, stderr := runCLI(t, "", append(args, "--out", out, "--train-out", train)...)
	require.Equal(t, 0, code, "stderr: %s", stderr)
	assert.Empty(t, stdout)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, first, string(b))
	tb, err := os.ReadFile(train)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(tb), "user,item,value,time\n"))
	assert.Contains(t, first, `"observed":[`, "--sparse alone switches the sparse mode on")
}

func TestEpisodesCommandNeedFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "needs.yaml")
	require.NoError(t, os.WriteFile(file, []byte("id: loved\ninstruction: Rank what they will love.\ngain: {rule: engagement}\nthreshold: 4.5\n"), 0o644))
	code, out, stderr := runCLI(t, "", "episodes", "--dataset", ml100K, "--need", file, "--hold-out", "4", "--candidates", "6")
	require.Equal(t, 0, code, "stderr: %s", stderr)
	eps, err := dataset.ReadEpisodes(context.Background(), strings.NewReader(out), "stdout")
	require.NoError(t, err)
	require.NotEmpty(t, eps)
	for _, ep := range eps {
		assert.Equal(t, "loved", ep.Need)
		for i, g := range ep.Labels.Gains {
			assert.Equal(t, g > 4.5, ep.Labels.Relevant[i])
		}
	}
}

func TestEpisodesCommandErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"unknown need", []string{"--need", "fun"}, 2, "unknown need"},
		{"bad split", []string{"--split", "random"}, 2, "split"},
		{"bad sparse", []string{"--sparse=3"}, 2, "sparse"},
		{"bad candidates", []string{"--candidates", "x"}, 2, "invalid argument"},
		{"no dataset", []string{"--dataset", "nowhere"}, 1, "unknown dataset"},
		{"trend without times", []string{"--dataset", "../../testdata/datasets/kuairec-gcdr", "--need", "trend"}, 1, "unsupported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, "", append([]string{"episodes"}, tc.args...)...)
			assert.Equal(t, tc.code, code, "stderr: %s", stderr)
			assert.Contains(t, stderr, tc.stderr)
		})
	}
}
