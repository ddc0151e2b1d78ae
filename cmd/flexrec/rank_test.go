package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rollout"
)

// writeEpisode writes an unlabelled episode with n candidates m00.. and
// returns the file and the episode.
func writeEpisode(t *testing.T, n int) (string, *prompt.Episode) {
	t.Helper()
	ep := &prompt.Episode{ID: "rank/u1", UserID: "u1", Need: "interest",
		History: []prompt.HistoryItem{{ItemID: "h1", Text: "Heat (1995)", Engagement: 5}}}
	for k := range n {
		ep.Candidates = append(ep.Candidates, prompt.Candidate{ItemID: fmt.Sprintf("m%02d", k), Text: fmt.Sprintf("Movie %d", k)})
	}
	raw, err := json.Marshal(ep)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "ep.json")
	require.NoError(t, os.WriteFile(path, append(raw, '\n'), 0o600))
	return path, ep
}

func TestRankFlags(t *testing.T) {
	var got *rankOptions
	capture := func(_ context.Context, o *rankOptions, _ io3) error { got = o; return nil }
	cmd := newRankCmdRun(io3{in: strings.NewReader(""), out: &bytes.Buffer{}, err: &bytes.Buffer{}}, capture)
	cmd.SetArgs([]string{"--model", "m", "--samples", "3", "--temperature", "0", "--top-p", "0.5", "--backend", "openai"})
	require.NoError(t, cmd.Execute())
	require.NotNil(t, got)
	assert.Equal(t, "m", got.backend.cfg.Model)
	assert.Equal(t, 3, got.samples)
	assert.Equal(t, "openai", got.backend.cfg.Kind)
	assert.True(t, got.changed("top-p"))
	assert.False(t, got.changed("think"))
	rc, err := got.runConfig("prompt-order")
	require.NoError(t, err)
	require.NotNil(t, rc.request.Temperature)
	assert.Equal(t, 0.0, *rc.request.Temperature, "temperature 0 is kept, not dropped")
	require.NotNil(t, rc.request.TopP)
	assert.Equal(t, 0.5, *rc.request.TopP)
	assert.Nil(t, rc.request.Think, "--think not given")
	assert.True(t, rc.request.Logprobs)
}

func TestRankUsageErrors(t *testing.T) {
	path, _ := writeEpisode(t, 3)
	tests := [][]string{
		{"rank", "--episode", path, "--backend", "ollama"},
		{"rank", "--episode", path, "--model", "m", "--backend", "vertex"},
		{"rank", "--episode", path, "--model", "m", "--repair", "magic"},
		{"rank", "--episode", path, "--model", "m", "--samples", "0"},
		{"rank", "--episode", path, "--model", "m", "--temperature", "3"},
		{"rank", "--episode", path, "--model", "m", "--top-logprobs", "30"},
	}
	for _, args := range tests {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, strings.NewReader(""), &out, &errb)
		assert.Equal(t, exitUsage, code, "flexrec %v: %s", args, errb.String())
	}
}

// fakeOllama answers every chat with one fixed completion and logprobs
// (token i has logprob -(i+1)/10), and counts the chats.
func fakeOllama(t *testing.T, pieces []string) (*httptest.Server, *atomic.Int64) {
	var calls atomic.Int64 // samples arrive concurrently
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/api/version" {
			fmt.Fprint(w, `{"version":"0.17.4"}`)
			return
		}
		calls.Add(1)
		var lps []map[string]any
		for i, p := range pieces {
			lps = append(lps, map[string]any{"token": p, "logprob": -float64(i+1) / 10})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"model": "fake", "done": true, "done_reason": "stop",
			"message":  map[string]any{"role": "assistant", "content": strings.Join(pieces, "")},
			"logprobs": lps, "prompt_eval_count": 100, "eval_count": len(pieces)}) // a failed write fails the test's decode
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// TestRankOutput checks the command's JSON against hand-derived values:
// the answer "[2] > [1]" for three candidates names the items the prompt
// showed as [2] and [1], repairs [3] onto the end, and gives each item
// the logprob of the token that wrote it.
func TestRankOutput(t *testing.T) {
	path, ep := writeEpisode(t, 3)
	srv, calls := fakeOllama(t, []string{"[2]", " > [1]"})
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"rank", "--episode", path, "--backend", "ollama", "--model", "fake", "--base-url", srv.URL,
		"--samples", "2", "--seed", "5", "--cache", t.TempDir()}, strings.NewReader(""), &out, &errb)
	require.Equal(t, exitOK, code, errb.String())
	var got rankOutput
	require.NoError(t, json.Unmarshal(out.Bytes(), &got))
	assert.Equal(t, int64(2), calls.Load())
	assert.Equal(t, "rank/u1", got.Episode)
	assert.Equal(t, "interest", got.Need)
	require.Len(t, got.Samples, 2)
	need, err := prompt.LookupNeed("interest")
	require.NoError(t, err)
	for i, s := range got.Samples {
		seed := rollout.Seed(5, ep.ID, i)
		assert.Equal(t, seed, s.Seed)
		r, err := prompt.Render(ep, &need, prompt.DefaultOptions(), seed)
		require.NoError(t, err)
		shown := func(k int) string { return ep.Candidates[r.Order[k-1]].ItemID }
		require.Len(t, s.Permutation, 3)
		want := []rankItem{
			{Rank: 1, ItemID: shown(2), ShortID: "2", Generated: true, Logprob: f64p(-0.1), Tokens: &[2]int{0, 1}},
			{Rank: 2, ItemID: shown(1), ShortID: "1", Generated: true, Logprob: f64p(-0.2), Tokens: &[2]int{1, 2}},
			{Rank: 3, ItemID: shown(3), ShortID: "3", Generated: false},
		}
		assert.Equal(t, want, s.Permutation, "sample %d", i)
		assert.Equal(t, []string{"3"}, s.Report.Missing)
		assert.InDelta(t, -0.3, *s.Logprob, 1e-12)
		assert.Empty(t, s.AlignError)
	}
	assert.Equal(t, int64(2), got.Totals.Calls)
	assert.Equal(t, 200, got.Totals.Usage.PromptTokens)
}

func f64p(v float64) *float64 { return &v }

// TestRankRealServer runs the command against the test Ollama through
// both backends (skips without a server; fails under CI=true).
func TestRankRealServer(t *testing.T) {
	host, model := realOllama(t)
	path, _ := writeEpisode(t, 30)
	for backend, url := range map[string]string{"ollama": host, "openai": strings.TrimRight(host, "/") + "/v1"} {
		t.Run(backend, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), []string{"rank", "--episode", path, "--model", model, "--backend", backend,
				"--base-url", url, "--samples", "4", "--top-logprobs", "2", "--max-tokens", "300"}, strings.NewReader(""), &out, &errb)
			require.Equal(t, exitOK, code, errb.String())
			var got rankOutput
			require.NoError(t, json.Unmarshal(out.Bytes(), &got))
			require.Len(t, got.Samples, 4)
			for _, s := range got.Samples {
				assert.Len(t, s.Permutation, 30)
				assert.Empty(t, s.AlignError, "sample %d %q", s.Index, s.Text)
				for _, it := range s.Permutation {
					if it.Generated {
						require.NotNil(t, it.Logprob, "sample %d item %s", s.Index, it.ShortID)
						assert.LessOrEqual(t, *it.Logprob, 0.0)
					}
				}
			}
		})
	}
}
