package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMergeShards rolls out 4 shards of an episodes file and merges them
// (with one shard given twice, as after a rerun): the merged file and its
// sidecar equal one unsharded run's byte for byte.
func TestMergeShards(t *testing.T) {
	tmp := t.TempDir()
	eps := filepath.Join(tmp, "eps.jsonl")
	code, _, stderr := runCLI(t, "", "episodes", "--limit", "24", "--candidates", "10", "--out", eps)
	require.Equal(t, 0, code, "episodes: %s", stderr)
	flags := []string{"--episodes", eps, "--samples", "3", "--seed", "5"}

	whole := filepath.Join(tmp, "whole.jsonl")
	code, _, stderr = runCLI(t, "", append([]string{"rollout", "--out", whole}, flags...)...)
	require.Equal(t, 0, code, "rollout: %s", stderr)
	var shards []string
	for k := range 4 {
		out := filepath.Join(tmp, fmt.Sprintf("r%d.jsonl", k))
		code, _, stderr = runCLI(t, "", append([]string{"rollout", "--out", out, "--shard", fmt.Sprintf("%d/4", k)}, flags...)...)
		require.Equal(t, 0, code, "rollout --shard %d/4: %s", k, stderr)
		shards = append(shards, out)
	}
	sizes, dup := 0, 0
	for k, p := range shards {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		sizes += strings.Count(string(data), "\n")
		if k == 1 {
			dup = strings.Count(string(data), "\n")
		}
		assert.Less(t, strings.Count(string(data), "\n"), 72, "%s holds a part of the rollouts", p)
	}
	assert.Equal(t, 72, sizes, "the shards' records add up to the whole: 24 episodes x 3")

	merged := filepath.Join(tmp, "merged.jsonl")
	args := append([]string{"merge", "--episodes", eps, "--out", merged}, shards[3], shards[1], shards[0], shards[2], shards[1])
	code, out, stderr := runCLI(t, "", args...)
	require.Equal(t, 0, code, "merge: %s", stderr)
	assert.Contains(t, out, fmt.Sprintf(`"Duplicates": %d`, dup), "merge stats: shard 1 given twice")
	for _, suffix := range []string{"", ".meta.json"} {
		want, err := os.ReadFile(whole + suffix)
		require.NoError(t, err)
		got, err := os.ReadFile(merged + suffix)
		require.NoError(t, err)
		assert.True(t, string(want) == string(got), "merged%s: got the merge, want the unsharded run byte for byte; first difference at line %d",
			suffix, firstDiff(string(got), string(want)))
	}

	code, _, stderr = runCLI(t, "", "merge", "--episodes", eps, "--out", filepath.Join(tmp, "part.jsonl"), shards[0])
	assert.Equal(t, 1, code, "merge of one shard of four")
	assert.Contains(t, stderr, "without a complete group")
}

// TestEpisodesShards checks that the shards of episodes partition them.
func TestEpisodesShards(t *testing.T) {
	_, whole, _ := runCLI(t, "", "episodes", "--limit", "30", "--candidates", "10")
	var lines []string
	for k := range 3 {
		code, out, stderr := runCLI(t, "", "episodes", "--limit", "30", "--candidates", "10", "--shard", fmt.Sprintf("%d/3", k))
		require.Equal(t, 0, code, "episodes --shard: %s", stderr)
		lines = append(lines, strings.Split(strings.TrimSpace(out), "\n")...)
	}
	want := strings.Split(strings.TrimSpace(whole), "\n")
	assert.ElementsMatch(t, want, lines, "the shards' episodes: got their union, want the whole set once")
	code, _, _ := runCLI(t, "", "episodes", "--shard", "3/3")
	assert.Equal(t, 2, code, "--shard 3/3 is a usage error")
}

// firstDiff returns the 1-based number of the first line where a and b
// differ, 0 when they are equal.
func firstDiff(a, b string) int {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range max(len(al), len(bl)) {
		if i >= len(al) || i >= len(bl) || al[i] != bl[i] {
			return i + 1
		}
	}
	return 0
}
