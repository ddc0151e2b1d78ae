package main

import (
	"encoding/json"
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
// file. A run of the merged folder then writes the report with the same
// metrics as the whole run's.
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
		assert.NoDirExists(t, filepath.Join(d, "report"), "a shard writes no report")
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

	code, _, stderr = runCLI(t, "", append([]string{"run", "--out", merged}, flags...)...)
	require.Equal(t, 0, code, "run over the merged folder: %s", stderr)
	assert.Equal(t, reportMetrics(t, whole), reportMetrics(t, merged), "report metrics: merged folder vs whole run")
}

// reportMetrics reads the metrics of a run's report, timings left out.
func reportMetrics(t *testing.T, dir string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "report", "results.json"))
	require.NoError(t, err)
	var rep struct {
		Rows []struct {
			Ranker, Need string
			Metrics      any
		}
	}
	require.NoError(t, json.Unmarshal(raw, &rep))
	out := map[string]any{}
	for _, r := range rep.Rows {
		out[r.Ranker+"/"+r.Need] = r.Metrics
	}
	return out
}
