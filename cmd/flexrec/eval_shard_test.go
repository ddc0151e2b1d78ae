package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/eval"
)

// TestEvalShardsMerge evaluates 4 shards and merges them: the report's
// rows (means and intervals), LLM statistics and identical groups equal
// one unsharded eval's, timings and the date aside.
func TestEvalShardsMerge(t *testing.T) {
	tmp := t.TempDir()
	args := []string{"eval", "--need", "interest,explore", "--rankers", "random,popularity,mf,oracle", "--limit", "30", "--resamples", "200"}
	whole := filepath.Join(tmp, "whole")
	code, _, stderr := runCLI(t, "", append(args, "--out", whole)...)
	require.Equal(t, 0, code, "eval: %s", stderr)
	var dirs []string
	for k := range 4 {
		d := filepath.Join(tmp, fmt.Sprintf("ev-%d", k))
		code, _, stderr = runCLI(t, "", append(args, "--out", d, "--shard", fmt.Sprintf("%d/4", k))...)
		require.Equal(t, 0, code, "eval --shard %d/4: %s", k, stderr)
		dirs = append(dirs, d)
	}
	merged := filepath.Join(tmp, "merged")
	code, _, stderr = runCLI(t, "", append([]string{"merge", "--out", merged}, dirs...)...)
	require.Equal(t, 0, code, "merge: %s", stderr)
	want, got := readReport(t, whole), readReport(t, merged)
	assert.Equal(t, want.Rows, got.Rows, "rows: got the merge, want one machine's")
	assert.Equal(t, want.LLMs, got.LLMs)
	assert.Equal(t, want.Identical, got.Identical)
	code, _, _ = runCLI(t, "", append([]string{"merge", "--out", filepath.Join(tmp, "part")}, dirs[:3]...)...)
	assert.Equal(t, 1, code, "merge without a shard")
}

func readReport(t *testing.T, dir string) *eval.Report {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, eval.JSONFile))
	require.NoError(t, err)
	var rep eval.Report
	require.NoError(t, json.Unmarshal(raw, &rep))
	for i := range rep.Rows {
		rep.Rows[i].LatencyMS = 0
		if rep.Rows[i].LLM != nil {
			rep.Rows[i].LLM.LatencyMS = 0
		}
	}
	return &rep
}
