package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/eval/dataset"
	"github.com/flexrec/flexrec/internal/folderlock"
)

// buildFlexrec compiles the binary once per test into a temporary folder.
func buildFlexrec(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "flexrec")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// runJobDir runs `flexrec run` in-process into dir and returns stdout.
func runJobDir(t *testing.T, dir string, args ...string) string {
	t.Helper()
	code, out, stderr := runCLI(t, "", append([]string{"run", "--out", dir}, args...)...)
	require.Equal(t, 0, code, "flexrec run: %s", stderr)
	return out
}

func TestRunJobOutputs(t *testing.T) {
	dir := t.TempDir()
	out := runJobDir(t, dir, "--limit", "30", "--samples", "4")
	for _, f := range []string{"job.json", "episodes.jsonl", "rollouts.jsonl", "summary.json", "report/report.html", "report/results.csv"} {
		assert.FileExists(t, filepath.Join(dir, f))
	}
	var sum struct {
		Episodes, Rollouts int
		HeldOut            int     `json:"held_out_episodes"`
		InvalidRate        float64 `json:"invalid_output_rate"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &sum))
	assert.Equal(t, 30, sum.Episodes+sum.HeldOut, "every episode is rolled out or held out")
	assert.Positive(t, sum.HeldOut, "the default holds some users out for the report")
	assert.Equal(t, 4*sum.Episodes, sum.Rollouts)
	assert.Contains(t, out, fmt.Sprintf("rollouts          %d", sum.Rollouts))
	trainUsers := map[string]bool{}
	for _, r := range readRecords(t, filepath.Join(dir, "rollouts.jsonl")) {
		trainUsers[r.UserID] = true
	}
	held, err := dataset.ReadEpisodesFile(context.Background(), filepath.Join(dir, "heldout.jsonl"))
	require.NoError(t, err)
	require.Len(t, held, sum.HeldOut)
	for _, ep := range held {
		assert.False(t, trainUsers[ep.UserID], "held-out user %s has rollouts", ep.UserID)
	}

	// The same command again resumes everything and changes nothing.
	before, err := os.ReadFile(filepath.Join(dir, "rollouts.jsonl"))
	require.NoError(t, err)
	out = runJobDir(t, dir, "--limit", "30", "--samples", "4")
	assert.Contains(t, out, fmt.Sprintf("(%d episodes resumed)", sum.Episodes))
	after, err := os.ReadFile(filepath.Join(dir, "rollouts.jsonl"))
	require.NoError(t, err)
	assert.Equal(t, before, after)

	// Limits and report settings may change on a resume; another job into
	// the same folder is refused.
	out = runJobDir(t, dir, "--limit", "30", "--samples", "4", "--concurrency", "3", "--no-eval")
	assert.Contains(t, out, "episodes resumed")
	code, _, stderr := runCLI(t, "", "run", "--out", dir, "--limit", "30", "--samples", "5")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "another job")

	// A job that fails on its input claims no folder.
	fresh := t.TempDir()
	code, _, _ = runCLI(t, "", "run", "--out", fresh, "--dataset", "no-such-dataset")
	assert.Equal(t, 1, code)
	runJobDir(t, fresh, "--limit", "5", "--samples", "2", "--no-eval")
}

func TestRunJobUsage(t *testing.T) {
	code, _, stderr := runCLI(t, "", "run")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "--out is required")
	code, _, stderr = runCLI(t, "", "run", "--out", t.TempDir(), "--backend", "openai")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "backend.model")
}

// TestRunJobSurvivesSIGKILL kills `flexrec run` mid-way with SIGKILL,
// resumes it, and compares every output with an uninterrupted run.
func TestRunJobSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs the whole job twice; skipped in -short mode")
	}
	bin := buildFlexrec(t)
	args := []string{"run", "--no-eval", "--exports", "native,trl-preference"}
	full, killed := t.TempDir(), t.TempDir()
	cmd := exec.Command(bin, append(args, "--out", full)...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "uninterrupted run: %s", out)

	cmd = exec.Command(bin, append(args, "--out", killed)...)
	require.NoError(t, cmd.Start())
	rollouts := filepath.Join(killed, "rollouts.jsonl")
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if info, err := os.Stat(rollouts); err == nil && info.Size() > 2<<20 {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait() // killed: the error is the signal
	info, err := os.Stat(rollouts)
	require.NoError(t, err)
	fullInfo, err := os.Stat(filepath.Join(full, "rollouts.jsonl"))
	require.NoError(t, err)
	require.Less(t, info.Size(), fullInfo.Size(), "the job was killed before it finished")

	out, err = exec.Command(bin, append(args, "--out", killed)...).CombinedOutput()
	require.NoError(t, err, "resumed run: %s", out)
	assert.Contains(t, string(out), "episodes resumed")
	for _, f := range outputsOf(t, full) {
		want, err := os.ReadFile(filepath.Join(full, f))
		require.NoError(t, err)
		got, err := os.ReadFile(filepath.Join(killed, f))
		require.NoError(t, err, "resumed run lacks %s", f)
		assert.True(t, bytes.Equal(want, got), "%s differs between the resumed and the uninterrupted run", f)
	}
}

// outputsOf lists the files of a job folder whose content must not depend
// on interruptions (not the summary, which times the invocation, nor the
// manifests' timestamps if any, nor the lock files, which name their
// holder).
func outputsOf(t *testing.T, dir string) []string {
	var files []string
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel != "summary.json" && !strings.HasSuffix(rel, folderlock.Name) {
			files = append(files, rel)
		}
		return nil
	})
	require.NoError(t, err)
	require.Contains(t, files, "rollouts.jsonl")
	return files
}

// TestRunJobInterrupt sends SIGINT (Ctrl-C) mid-way: the job cancels the
// requests in flight, keeps the complete groups, exits 130 with a message,
// and a rerun completes it.
func TestRunJobInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs the job; skipped in -short mode")
	}
	bin := buildFlexrec(t)
	dir := t.TempDir()
	args := []string{"run", "--no-eval", "--exports", "native", "--out", dir}
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	rollouts := filepath.Join(dir, "rollouts.jsonl")
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if info, err := os.Stat(rollouts); err == nil && info.Size() > 1<<20 {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	err := cmd.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "stderr: %s", stderr.String())
	assert.Equal(t, exitCanceled, exit.ExitCode())
	assert.Contains(t, stderr.String(), "interrupted")
	recs := readRecords(t, rollouts)
	require.NotEmpty(t, recs)
	assert.Zero(t, len(recs)%8, "only whole groups of 8 were written")
	eps, err := dataset.ReadEpisodesFile(context.Background(), filepath.Join(dir, "episodes.jsonl"))
	require.NoError(t, err)
	assert.Less(t, len(recs), len(eps)*8, "the job stopped early")

	out, err := exec.Command(bin, args...).CombinedOutput()
	require.NoError(t, err, "resume: %s", out)
	assert.Len(t, readRecords(t, rollouts), len(eps)*8)
}
