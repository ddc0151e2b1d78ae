package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMergeRunShards runs a job whole and as 4 shards, merges the shard
// folders, and wants the merged folder's files equal to the whole run's
// byte for byte: rollouts, sidecar, episodes, job.json and every export
// file; the report computed from the shards' parts has the whole run's
// rows (means and intervals), LLM statistics and rollout figures.
func TestMergeRunShards(t *testing.T) {
	tmp := t.TempDir()
	flags := []string{"--limit", "12", "--samples", "2", "--seed", "3"}
	whole := filepath.Join(tmp, "whole")
	code, _, stderr := runCLI(t, "", append([]string{"run", "--out", whole}, flags...)...)
	require.Equal(t, 0, code, "run: %s", stderr)
	var dirs []string
	for k := range 4 {
		d := filepath.Join(tmp, fmt.Sprintf("shard-%d", k))
		code, _, stderr = runCLI(t, "", append([]string{"run", "--out", d, "--shard", fmt.Sprintf("%d/4", k)}, flags...)...)
		require.Equal(t, 0, code, "run --shard %d/4: %s", k, stderr)
		assert.FileExists(t, filepath.Join(d, "report", "shard.json"), "a shard writes its part of the report")
		assert.NoFileExists(t, filepath.Join(d, "report", "results.json"), "a shard writes no report")
		dirs = append(dirs, d)
	}
	merged := filepath.Join(tmp, "merged")
	code, _, stderr = runCLI(t, "", append([]string{"merge", "--out", merged}, dirs...)...)
	require.Equal(t, 0, code, "merge: %s", stderr)

	files := []string{"rollouts.jsonl", "rollouts.jsonl.meta.json", "episodes.jsonl", "heldout.jsonl", "job.json"}
	require.NoError(t, filepath.WalkDir(filepath.Join(whole, "exports"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(whole, p)
			files = append(files, rel)
		}
		return err
	}))
	for _, f := range files {
		want, err := os.ReadFile(filepath.Join(whole, f))
		require.NoError(t, err)
		got, err := os.ReadFile(filepath.Join(merged, f))
		if assert.NoError(t, err, "merged %s", f) {
			assert.True(t, string(want) == string(got), "merged %s: got bytes unlike the whole run's; first difference at line %d",
				f, firstDiff(string(got), string(want)))
		}
	}

	want, got := readReport(t, filepath.Join(whole, "report")), readReport(t, filepath.Join(merged, "report"))
	assert.Equal(t, want.Rows, got.Rows, "report rows: merged shards vs the whole run")
	assert.Equal(t, want.LLMs, got.LLMs, "report LLM statistics")
	require.NotNil(t, got.Meta.Rollouts)
	assert.Equal(t, *want.Meta.Rollouts, *got.Meta.Rollouts, "report header's rollout figures")
}
