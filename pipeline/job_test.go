package pipeline

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/internal/folderlock"
	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rollout"
)

// smallJob is the default job cut down to run in about a second.
func smallJob() Job {
	job := DefaultJob()
	job.Episodes.Limit = 12
	job.Rollout.Samples = 2
	job.Exports = []string{"native"}
	job.Eval.Skip = true
	return job
}

func TestRunInProcessAndResumeFinds(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	sum, err := Run(context.Background(), smallJob(), dir, Options{})
	require.NoError(t, err, "Run")
	assert.Equal(t, StatusComplete, sum.Status)
	assert.Equal(t, sum.Episodes, sum.RolledOut, "every episode rolled out")
	assert.Equal(t, 12, sum.Episodes+sum.HeldOut, "each episode is rolled out or held out")
	assert.Equal(t, 2*sum.Episodes, sum.Rollouts)
	want, err := os.ReadFile(filepath.Join(dir, "rollouts.jsonl"))
	require.NoError(t, err)

	sum, err = Run(context.Background(), smallJob(), dir, Options{})
	require.NoError(t, err, "rerun")
	assert.Equal(t, sum.Episodes, sum.Resumed, "the rerun found every episode done")
	got, err := os.ReadFile(filepath.Join(dir, "rollouts.jsonl"))
	require.NoError(t, err)
	assert.Equal(t, want, got, "rerun leaves the rollouts as they were")
}

func TestClaimNamesEachDifferingSetting(t *testing.T) {
	dir := t.TempDir()
	job := smallJob()
	require.NoError(t, claim(dir, job))
	other := job
	other.Rollout.Seed = 2
	other.Needs = []string{"interest", "explore"}
	err := claim(dir, other)
	require.Error(t, err, "claim with another seed and needs")
	assert.ErrorContains(t, err, "rollout.seed: 1 → 2")
	assert.ErrorContains(t, err, `needs: ["interest"] → ["interest","explore"]`)

	moved := job
	moved.Backend.BaseURL = "http://elsewhere.example:8000/v1"
	moved.Backend.Concurrency, moved.Backend.TimeoutSeconds, moved.Exports = 64, 5, []string{"trl-grpo"}
	assert.NoError(t, claim(dir, moved), "another server, limits and exports do not decide content")
}

func TestJobFileKeepsNoURLSecret(t *testing.T) {
	dir := t.TempDir()
	job := smallJob()
	job.Backend.Kind, job.Backend.Model = "openai", "m"
	job.Backend.BaseURL = "http://user:CANARY-USERINFO@127.0.0.1:9/v1?api_key=CANARY-QUERY&x=1"
	require.NoError(t, claim(dir, job))
	b, err := os.ReadFile(filepath.Join(dir, "job.json"))
	require.NoError(t, err)
	assert.NotContains(t, string(b), "CANARY")
	assert.Contains(t, string(b), "http://127.0.0.1:9/v1", "the address itself is kept")
}

func TestBadInputLeavesNoFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	job := smallJob()
	job.Dataset = filepath.Join(t.TempDir(), "no-such-dataset")
	_, err := Run(context.Background(), job, dir, Options{})
	require.Error(t, err)
	assert.NoDirExists(t, dir, "a job that failed on its input leaves no folder")

	job = smallJob()
	job.Backend.Kind, job.Backend.Model, job.Backend.BaseURL = "ollama", "m", "http://127.0.0.1:9" // nothing listens on port 9
	_, err = Run(context.Background(), job, dir, Options{})
	require.ErrorContains(t, err, "does not answer", "the backend is probed before the folder is claimed")
	assert.NoDirExists(t, dir, "nor does one whose backend is down")
}

func TestRunRefusesASecondJobOnTheFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		first := true
		_, err := Run(context.Background(), smallJob(), dir, Options{Progress: func(Progress) {
			if first {
				first = false
				close(started)
				<-release
			}
		}})
		done <- err
	}()
	<-started
	_, err := Run(context.Background(), smallJob(), dir, Options{})
	var held *folderlock.HeldError
	require.ErrorAs(t, err, &held, "a second job on the same folder")
	assert.Equal(t, os.Getpid(), held.Holder.PID, "the refusal names the holder")
	close(release)
	require.NoError(t, <-done, "the first job finishes")
	recs, err := rollout.ReadFile(filepath.Join(dir, "rollouts.jsonl"))
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, r := range recs {
		key := r.EpisodeID + "/" + string(rune('0'+r.Rollout))
		assert.False(t, seen[key], "duplicate rollout %s", key)
		seen[key] = true
	}
}

func TestSummaryOfAnInterruptedRunSaysSo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	ctx, cancel := context.WithCancel(context.Background())
	job := smallJob()
	job.Episodes.Limit = 100 // more than the reorder window, so the cancel lands mid-run
	sum, err := Run(ctx, job, dir, Options{Progress: func(p Progress) {
		if p.Stats.Episodes == 3 {
			cancel()
		}
	}})
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, StatusInterrupted, sum.Status)
	assert.Less(t, sum.RolledOut, sum.Episodes, "counts what was done, not what was planned")
	assert.Empty(t, sum.Exports, "no exports from a partial run")
	var disk Summary
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &disk))
	assert.Equal(t, StatusInterrupted, disk.Status, "summary.json says so too")
}

func TestHoldOutSplitsByUser(t *testing.T) {
	var eps []prompt.Episode
	for u := range 200 {
		for _, need := range []string{"interest", "explore"} {
			eps = append(eps, prompt.Episode{ID: need + "/" + string(rune('a'+u%26)) + string(rune('a'+u/26)), UserID: string(rune('a'+u%26)) + string(rune('a'+u/26)), Need: need})
		}
	}
	train, test := holdOut(eps, 0.2, 1)
	assert.Equal(t, len(eps), len(train)+len(test))
	users := map[string]bool{}
	for _, ep := range test {
		users[ep.UserID] = true
	}
	for _, ep := range train {
		assert.False(t, users[ep.UserID], "user %s is on both sides", ep.UserID)
	}
	assert.InDelta(t, 0.2, float64(len(test))/float64(len(eps)), 0.07, "about the asked fraction")
	train2, _ := holdOut(eps, 0.2, 1)
	assert.Equal(t, train, train2, "seeded: the same split again")
	_, test3 := holdOut(eps, 0.2, 2)
	assert.NotEqual(t, test, test3, "another seed, another split")
}
