package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/batch"
	"github.com/flexrec/flexrec/batch/batchtest"
)

// batchEpisodes writes a few episodes of the embedded dataset.
func batchEpisodes(t *testing.T, dir string) string {
	t.Helper()
	eps := filepath.Join(dir, "eps.jsonl")
	code, _, stderr := runCLI(t, "", "episodes", "--limit", "5", "--candidates", "12", "--out", eps)
	require.Equal(t, 0, code, "episodes: %s", stderr)
	return eps
}

// TestBatchParity runs the same rollouts online against a fake server and
// through the batch path (prepare, submit, collect, ingest, with a failed
// and a missing line retried) against the same fake's Files and Batches
// APIs, and wants byte-identical rollouts files.
func TestBatchParity(t *testing.T) {
	srv := batchtest.New()
	defer srv.Close()
	const key = "sk-test-secret-4711"
	t.Setenv("OPENAI_API_KEY", key)
	t.Setenv("OPENAI_BASE_URL", "")
	tmp := t.TempDir()
	eps := batchEpisodes(t, tmp)
	flags := []string{"--episodes", eps, "--backend", "openai", "--model", "fake-m", "--samples", "3",
		"--seed", "11", "--temperature", "0.7", "--top-logprobs", "2", "--max-tokens", "300"}

	online := filepath.Join(tmp, "online.jsonl")
	code, _, stderr := runCLI(t, "", append([]string{"rollout", "--out", online, "--base-url", srv.URL()}, flags...)...)
	require.Equal(t, 0, code, "rollout: %s", stderr)
	chats := srv.Chats.Load()
	require.Equal(t, int64(15), chats, "online requests: 5 episodes x 3")

	dir := filepath.Join(tmp, "b")
	code, out, stderr := runCLI(t, "", append([]string{"batch", "prepare", "--out", dir, "--max-requests-per-file", "10"}, flags...)...)
	require.Equal(t, 0, code, "batch prepare: %s", stderr)
	assert.Contains(t, out, `"requests": 15`)
	files, _ := filepath.Glob(filepath.Join(dir, "requests-*.jsonl"))
	assert.Len(t, files, 2, "15 requests split at 10 per file")

	ids := requestIDs(t, files)
	srv.Fail = map[string]bool{ids[1]: true}
	srv.Drop = map[string]bool{ids[12]: true}
	remote := func(args ...string) {
		t.Helper()
		code, _, stderr := runCLI(t, "", append(args, "--base-url", srv.URL())...)
		require.Equal(t, 0, code, "%v: %s", args, stderr)
	}
	remote("batch", "submit", dir)
	remote("batch", "submit", dir) // resumed: nothing twice
	remote("batch", "status", dir)
	remote("batch", "collect", dir, "--wait", "--poll", "1ms")
	code, _, stderr = runCLI(t, "", "batch", "ingest", dir)
	assert.Equal(t, 1, code, "ingest with a failed and a missing line")
	assert.Contains(t, stderr, "2 requests without a usable answer")
	only, err := batch.ReadFailed(filepath.Join(dir, batch.FailedName))
	require.NoError(t, err)
	assert.Equal(t, map[string]bool{ids[1]: true, ids[12]: true}, only, "failed.jsonl")

	code, _, stderr = runCLI(t, "", "batch", "prepare", "--retry-failed", "--out", dir)
	require.Equal(t, 0, code, "prepare --retry-failed: %s", stderr)
	retry := filepath.Join(dir, "retry-1")
	assert.Len(t, requestIDs(t, []string{filepath.Join(retry, "requests-00000.jsonl")}), 2, "retry requests")
	remote("batch", "submit", retry)
	remote("batch", "collect", retry, "--wait", "--poll", "1ms")
	code, _, stderr = runCLI(t, "", "batch", "ingest", dir)
	require.Equal(t, 0, code, "ingest after the retry: %s", stderr)
	assert.Equal(t, chats, srv.Chats.Load(), "the batch path sends no chat request")

	want, err := os.ReadFile(online)
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join(dir, "rollouts.jsonl"))
	require.NoError(t, err)
	assert.Equal(t, 15, strings.Count(string(want), "\n"), "online records")
	assert.Equal(t, string(want), string(got), "batch rollouts: got ingest's file, want the online file byte for byte")
	assert.NoFileExists(t, filepath.Join(dir, batch.FailedName), "failed.jsonl after a complete ingest")
	assertNoSecret(t, tmp, key)
}

func requestIDs(t *testing.T, files []string) []string {
	t.Helper()
	var ids []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		for line := range strings.Lines(string(data)) {
			k := strings.Index(line, `"custom_id":"`) + len(`"custom_id":"`)
			ids = append(ids, line[k:k+strings.IndexByte(line[k:], '"')])
		}
	}
	return ids
}

// assertNoSecret greps every file under dir for the key.
func assertNoSecret(t *testing.T, dir, key string) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		assert.NotContains(t, string(data), key, "%s holds the API key", path)
		return err
	}))
}
