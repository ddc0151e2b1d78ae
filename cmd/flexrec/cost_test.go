package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/batch/batchtest"
)

// TestDryRun checks that rollout --dry-run and batch prepare --dry-run
// count every request and price the estimate without a server (the base
// URL answers nothing) and without writing.
func TestDryRun(t *testing.T) {
	tmp := t.TempDir()
	eps := batchEpisodes(t, tmp)
	common := []string{"--episodes", eps, "--backend", "openai", "--model", "m", "--base-url", "http://127.0.0.1:1/v1",
		"--samples", "4", "--max-tokens", "100", "--price-in", "2", "--price-out", "8", "--dry-run"}
	var reports []dryRunReport
	for _, args := range [][]string{
		append([]string{"rollout", "--out", filepath.Join(tmp, "r.jsonl")}, common...),
		append([]string{"batch", "prepare", "--out", filepath.Join(tmp, "b")}, common...),
	} {
		code, out, stderr := runCLI(t, "", args...)
		require.Equal(t, 0, code, "%s --dry-run: %s", args[0], stderr)
		var rep dryRunReport
		require.NoError(t, json.Unmarshal([]byte(out), &rep), "%s --dry-run output", args[0])
		reports = append(reports, rep)
	}
	rep := reports[0]
	assert.Equal(t, 20, rep.Requests, "rollout --dry-run: 5 episodes x 4")
	assert.Positive(t, rep.PromptTokens)
	assert.Equal(t, int64(20*70), rep.CompletionTokens, "12 candidates: 5 x 12 + 10 each")
	assert.Equal(t, int64(20*100), rep.MaxCompletionTokens)
	assert.InDelta(t, (float64(rep.PromptTokens)*2+float64(rep.CompletionTokens)*8)/1e6, rep.Cost, 1e-12)
	assert.Equal(t, reports[0].Requests, reports[1].Requests, "batch prepare --dry-run counts what rollout does")
	assert.Equal(t, reports[0].PromptTokens, reports[1].PromptTokens)
	assert.NoFileExists(t, filepath.Join(tmp, "r.jsonl"))
	assert.NoDirExists(t, filepath.Join(tmp, "b"))
}

// TestMaxCost stops a rollout at its budget, then resumes it: the file
// ends equal to an uninterrupted run's.
func TestMaxCost(t *testing.T) {
	srv := batchtest.New()
	defer srv.Close()
	t.Setenv("OPENAI_API_KEY", "")
	tmp := t.TempDir()
	eps := batchEpisodes(t, tmp)
	flags := []string{"--episodes", eps, "--backend", "openai", "--model", "m", "--base-url", srv.URL(),
		"--samples", "3", "--concurrency", "1", "--price-in", "1"}
	clean := filepath.Join(tmp, "clean.jsonl")
	code, _, stderr := runCLI(t, "", append([]string{"rollout", "--out", clean}, flags...)...)
	require.Equal(t, 0, code, "rollout: %s", stderr)
	perEpisode := float64(srv.Chats.Load()) / 5

	out := filepath.Join(tmp, "budget.jsonl")
	// A prompt is about 1,000 tokens: 3 requests cost about $0.003 at $1/M.
	code, _, stderr = runCLI(t, "", append([]string{"rollout", "--out", out, "--max-cost", "0.004"}, flags...)...)
	assert.Equal(t, 1, code, "rollout at its budget")
	assert.Contains(t, stderr, "stopped at the cost budget")
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	lines := strings.Count(string(data), "\n")
	assert.Positive(t, lines, "groups kept at the budget")
	assert.Less(t, lines, 15, "the budget stopped the run early")
	assert.Zero(t, lines%3, "whole groups only")
	assert.Equal(t, 3.0, perEpisode, "requests per episode")

	code, _, stderr = runCLI(t, "", append([]string{"rollout", "--out", out}, flags...)...)
	require.Equal(t, 0, code, "resume after the budget: %s", stderr)
	want, err := os.ReadFile(clean)
	require.NoError(t, err)
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.True(t, string(want) == string(got), "resumed after the budget: got a file unlike the clean run's")
	code, _, _ = runCLI(t, "", "rollout", "--episodes", eps, "--out", out, "--max-cost", "1")
	assert.Equal(t, 2, code, "--max-cost without prices is a usage error")
}

// TestEvalDryRun checks that eval --dry-run counts one request per
// episode for each LLM ranker, prices it, and calls no server.
func TestEvalDryRun(t *testing.T) {
	code, out, stderr := runCLI(t, "", "eval", "--need", "interest", "--rankers", "random,llm", "--limit", "6",
		"--llm", "backend=openai,model=m1,base-url=http://127.0.0.1:1/v1,price-in=1,price-out=4,max-tokens=50", "--dry-run")
	require.Equal(t, 0, code, "eval --dry-run: %s", stderr)
	var rep struct {
		Rankers []struct {
			Name     string  `json:"name"`
			Requests int     `json:"requests"`
			Cost     float64 `json:"cost"`
		} `json:"rankers"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep), "eval --dry-run output")
	require.Len(t, rep.Rankers, 1)
	assert.Equal(t, "llm:m1", rep.Rankers[0].Name)
	assert.Positive(t, rep.Rankers[0].Requests)
	assert.Positive(t, rep.Rankers[0].Cost)
}

// TestRunDryRun checks run --dry-run: rollouts are G per training
// episode, the report one per held-out episode, and the shards' counts
// add up to the whole job's.
func TestRunDryRun(t *testing.T) {
	args := []string{"run", "--out", filepath.Join(t.TempDir(), "never"), "--limit", "20", "--samples", "3",
		"--backend", "openai", "--model", "m", "--base-url", "http://127.0.0.1:1/v1", "--price-in", "1", "--dry-run"}
	read := func(extra ...string) (rollouts, report int) {
		code, out, stderr := runCLI(t, "", append(args, extra...)...)
		require.Equal(t, 0, code, "run --dry-run %v: %s", extra, stderr)
		var rep struct {
			Rollouts, Report struct {
				Requests int `json:"requests"`
			}
		}
		require.NoError(t, json.Unmarshal([]byte(out), &rep))
		return rep.Rollouts.Requests, rep.Report.Requests
	}
	ro, rp := read()
	assert.Positive(t, rp, "report requests")
	assert.Zero(t, ro%3, "G requests per episode")
	assert.Equal(t, 20*3, ro+3*rp, "20 episodes: the held-out ones to the report, the others rolled out")
	sumRo, sumRp := 0, 0
	for k := range 4 {
		a, b := read("--shard", fmt.Sprintf("%d/4", k))
		sumRo, sumRp = sumRo+a, sumRp+b
	}
	assert.Equal(t, ro, sumRo, "the shards' rollouts add up")
	assert.Equal(t, rp, sumRp, "the shards' report requests add up")
	assert.NoDirExists(t, args[2], "a dry run writes nothing")
}

// TestRunMaxCost stops a run at its budget and resumes it: the rollouts
// end equal to an uninterrupted run's.
func TestRunMaxCost(t *testing.T) {
	srv := batchtest.New()
	defer srv.Close()
	t.Setenv("OPENAI_API_KEY", "")
	tmp := t.TempDir()
	args := []string{"run", "--backend", "openai", "--model", "m", "--base-url", srv.URL(), "--limit", "8", "--samples", "2",
		"--concurrency", "1", "--price-in", "1", "--no-eval", "--exports", "native"}
	clean := filepath.Join(tmp, "clean")
	code, _, stderr := runCLI(t, "", append(args, "--out", clean)...)
	require.Equal(t, 0, code, "run: %s", stderr)
	out := filepath.Join(tmp, "budget")
	code, _, stderr = runCLI(t, "", append(args, "--out", out, "--max-cost", "0.003")...)
	assert.Equal(t, 1, code, "run at its budget")
	assert.Contains(t, stderr, "stopped at the cost budget")
	data, err := os.ReadFile(filepath.Join(out, "rollouts.jsonl"))
	require.NoError(t, err)
	want, err := os.ReadFile(filepath.Join(clean, "rollouts.jsonl"))
	require.NoError(t, err)
	assert.Less(t, len(data), len(want), "the budget stopped the run early")
	code, _, stderr = runCLI(t, "", append(args, "--out", out)...)
	require.Equal(t, 0, code, "resume after the budget: %s", stderr)
	got, err := os.ReadFile(filepath.Join(out, "rollouts.jsonl"))
	require.NoError(t, err)
	assert.True(t, string(want) == string(got), "resumed after the budget: got rollouts unlike the clean run's")
}
