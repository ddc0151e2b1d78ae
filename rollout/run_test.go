package rollout

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/llm"
	"github.com/flexrec/flexrec/prompt"
)

// faulty wraps a backend: episodes named in fail fail for good, those in
// hang block until their context ends; it counts requests in flight.
type faulty struct {
	next     llm.Backend
	mu       sync.Mutex
	fail     map[string]error
	hang     map[string]bool
	delay    time.Duration
	inFlight atomic.Int64
	maxSeen  atomic.Int64
}

func (f *faulty) Sample(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxSeen.Load()
		if n <= m || f.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	id := req.Subject.Episode.ID
	f.mu.Lock()
	err, hang := f.fail[id], f.hang[id]
	f.mu.Unlock()
	if hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return f.next.Sample(ctx, req)
}

func faultyRunner(t *testing.T, g int) (*Runner, *faulty, []prompt.Episode) {
	t.Helper()
	r, eps := newTestRunner(t, g)
	fb := &faulty{next: r.sampler.Backend, fail: map[string]error{}, hang: map[string]bool{}}
	r.sampler.Backend = fb
	return r, fb, eps
}

// cleanFile is the rollouts file of an uninterrupted run of eps.
func cleanFile(t *testing.T, r *Runner, eps []prompt.Episode) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "clean.jsonl")
	_, err := Run(context.Background(), r, eps, RunOptions{Path: path, Concurrency: 4, Fingerprint: "fp"})
	require.NoError(t, err, "clean run")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func TestRunFailuresGoOnAndRerunFillsThem(t *testing.T) {
	r, fb, eps := faultyRunner(t, 3)
	want := cleanFile(t, r, eps)
	path := filepath.Join(t.TempDir(), "rollouts.jsonl")
	boom := &llm.StatusError{Backend: "test", Code: 400, Message: "bad request from the test"}
	fb.fail[eps[1].ID], fb.fail[eps[6].ID] = boom, errors.New("the test's own failure")
	st, err := Run(context.Background(), r, eps, RunOptions{Path: path, Concurrency: 4, Fingerprint: "fp"})
	var failed *FailedError
	require.ErrorAs(t, err, &failed, "Run with two failing episodes")
	assert.Equal(t, 2, failed.Failed)
	assert.Equal(t, map[string]int{"HTTP 400": 1, "the test's own failure": 1}, failed.Reasons)
	assert.Equal(t, len(eps)-2, st.Episodes, "every other episode was written")
	fails, err := os.ReadFile(filepath.Join(filepath.Dir(path), "rollouts.failures.jsonl"))
	require.NoError(t, err, "failures file")
	assert.Contains(t, string(fails), eps[1].ID)
	assert.Contains(t, string(fails), "bad request from the test", "the server's message is kept")

	fb.fail = map[string]error{}
	st, err = Run(context.Background(), r, eps, RunOptions{Path: path, Concurrency: 4, Fingerprint: "fp"})
	require.NoError(t, err, "rerun")
	assert.Equal(t, len(eps)-2, st.Resumed, "the rerun kept what was done")
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, want, got, "after the rerun the file equals a clean run's, in episode order")
	assert.NoFileExists(t, filepath.Join(filepath.Dir(path), "rollouts.failures.jsonl"), "a run without failures removes the stale list")
}

func TestRunFailFastStopsAtFirstFailure(t *testing.T) {
	r, fb, eps := faultyRunner(t, 2)
	fb.fail[eps[0].ID] = errors.New("first episode fails")
	path := filepath.Join(t.TempDir(), "r.jsonl")
	_, err := Run(context.Background(), r, eps, RunOptions{Path: path, Concurrency: 2, Window: 1, Fingerprint: "fp", FailFast: true})
	require.ErrorContains(t, err, "first episode fails")
	assert.False(t, errors.As(err, new(*FailedError)), "fail-fast returns the failure itself")
}

func TestRunBoundsRequestsByConcurrencyAlone(t *testing.T) {
	r, fb, eps := faultyRunner(t, 2)
	fb.delay = 30 * time.Millisecond
	path := filepath.Join(t.TempDir(), "r.jsonl")
	_, err := Run(context.Background(), r, eps, RunOptions{Path: path, Concurrency: 10, Fingerprint: "fp"})
	require.NoError(t, err)
	assert.Equal(t, int64(10), fb.maxSeen.Load(), "requests in flight: G=2 must not cap --concurrency 10")
}

func TestRunCancelStopsHungRequestsAtOnce(t *testing.T) {
	r, fb, eps := faultyRunner(t, 2)
	want := cleanFile(t, r, eps)
	fb.hang[eps[2].ID] = true
	path := filepath.Join(t.TempDir(), "r.jsonl")
	ctx, cancel := context.WithCancel(context.Background())
	var stopped time.Time
	_, err := Run(ctx, r, eps, RunOptions{Path: path, Concurrency: 4, Fingerprint: "fp", Progress: func(s Stats) {
		if s.Episodes == 2 && stopped.IsZero() {
			go func() { time.Sleep(50 * time.Millisecond); stopped = time.Now(); cancel() }()
		}
	}})
	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(stopped), 2*time.Second, "Run returned soon after the cancel despite a hung request")
	recs, err := ReadFile(path)
	require.NoError(t, err, "what was written reads back")
	assert.Zero(t, len(recs)%2, "whole groups only")
	fb.hang = map[string]bool{}
	_, err = Run(context.Background(), r, eps, RunOptions{Path: path, Concurrency: 4, Fingerprint: "fp"})
	require.NoError(t, err)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, want, got, "resumed file equals a clean run's")
}

func TestRunVerifiesWhatItKeeps(t *testing.T) {
	r, eps := newTestRunner(t, 2)
	eps = eps[:6]
	want := cleanFile(t, r, eps)
	lines := bytes.SplitAfter(want, []byte("\n"))
	write := func(t *testing.T, parts ...[]byte) string {
		path := filepath.Join(t.TempDir(), "r.jsonl")
		require.NoError(t, os.WriteFile(path, bytes.Join(parts, nil), 0o644))
		return path
	}
	// A changed digit inside a valid line: the reward 0.8… becomes 0.9….
	changed := bytes.Replace(lines[4], []byte(`"list_reward":0.`), []byte(`"list_reward":1.`), 1)
	require.NotEqual(t, lines[4], changed, "the test changed a digit")
	for name, tc := range map[string]struct {
		parts         [][]byte
		fingerprint   string
		line          int
		damage, cutOK bool
		contains      string
	}{
		"changed digit":   {parts: [][]byte{bytes.Join(lines[:4], nil), changed, bytes.Join(lines[5:], nil)}, fingerprint: "fp", line: 5, damage: true, cutOK: true, contains: "checksum"},
		"broken middle":   {parts: [][]byte{bytes.Join(lines[:2], nil), []byte("{\"torn\n"), bytes.Join(lines[2:], nil)}, fingerprint: "fp", line: 3, damage: true, cutOK: true, contains: "not a JSON record"},
		"other settings":  {parts: [][]byte{want}, fingerprint: "other", line: 1, contains: "settings"},
		"duplicate group": {parts: [][]byte{bytes.Join(lines[:4], nil), bytes.Join(lines[2:4], nil)}, fingerprint: "fp", line: 6, damage: true, cutOK: true, contains: "twice"},
	} {
		t.Run(name, func(t *testing.T) {
			path := write(t, tc.parts...)
			// No sidecar: the records alone must tell.
			_, err := Run(context.Background(), r, eps, RunOptions{Path: path, Concurrency: 2, Fingerprint: tc.fingerprint})
			require.Error(t, err, "resume of a damaged or foreign file")
			assert.ErrorContains(t, err, fmt.Sprintf("r.jsonl:%d", tc.line), "names file and line")
			assert.ErrorContains(t, err, tc.contains)
			var de *DamageError
			assert.Equal(t, tc.damage, errors.As(err, &de), "damage, not foreign: %v", err)
			if !tc.cutOK {
				return
			}
			_, err = Run(context.Background(), r, eps, RunOptions{Path: path, Concurrency: 2, Fingerprint: "fp", TruncateAtDamage: true})
			require.NoError(t, err, "--truncate-at-damage resumes")
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, want, got, "cut and resumed file equals a clean run's")
		})
	}
}

func TestRunLocksItsFile(t *testing.T) {
	r, fb, eps := faultyRunner(t, 2)
	fb.hang[eps[0].ID] = true
	path := filepath.Join(t.TempDir(), "r.jsonl")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, r, eps, RunOptions{Path: path, Concurrency: 2, Fingerprint: "fp"})
		done <- err
	}()
	require.Eventually(t, func() bool { return fb.inFlight.Load() > 0 }, 5*time.Second, 5*time.Millisecond, "first run started")
	_, err := Run(context.Background(), r, eps, RunOptions{Path: path, Concurrency: 2, Fingerprint: "fp"})
	assert.ErrorContains(t, err, "in use by another flexrec process", "second run on the same file")
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
}
