package main

import (
	"cmp"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/rollout"
)

// realOllama returns the test Ollama's URL and model, started by
// scripts/ollama-test-server.sh. Without a server the test skips, saying
// how to start one, except under CI=true, where it fails.
func realOllama(t *testing.T) (host, model string) {
	t.Helper()
	host = os.Getenv("FLEXREC_OLLAMA_HOST")
	problem := "FLEXREC_OLLAMA_HOST is not set"
	if host != "" {
		problem = ""
		resp, err := (&http.Client{Timeout: 3 * time.Second}).Get(strings.TrimRight(host, "/") + "/api/version")
		if err != nil {
			problem = "no Ollama at " + host + ": " + err.Error()
		} else {
			resp.Body.Close()
		}
	}
	if problem != "" {
		msg := problem + `: start the test server with eval "$(scripts/ollama-test-server.sh)"`
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return host, cmp.Or(os.Getenv("FLEXREC_OLLAMA_MODEL"), "flexrec-tiny")
}

// TestRunJobRealOllama runs the main job end to end against the real
// Ollama server and the generated model, through both of its APIs.
func TestRunJobRealOllama(t *testing.T) {
	host, model := realOllama(t)
	for backend, url := range map[string]string{"ollama": host, "openai": strings.TrimRight(host, "/") + "/v1"} {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "job.yaml")
			require.NoError(t, os.WriteFile(cfg, []byte(`
needs: [interest]
episodes: {limit: 3, candidates: 12, history: 5}
backend: {kind: `+backend+`, model: `+model+`, base_url: `+url+`, concurrency: 2}
rollout: {samples: 3, max_tokens: 200}
exports: [native, trl-preference]
eval: {rankers: [random, policy], resamples: 100, holdout: 0}
`), 0o644))
			out := filepath.Join(dir, "out")
			code, stdout, stderr := runCLI(t, "", "run", "--config", cfg, "--out", out)
			require.Equal(t, 0, code, "flexrec run against %s: %s", url, stderr)
			assert.Contains(t, stdout, "rollouts          9")
			var sum struct {
				Rollouts         int     `json:"rollouts"`
				PromptTokens     int     `json:"prompt_tokens"`
				CompletionTokens int     `json:"completion_tokens"`
				MeanListReward   float64 `json:"mean_list_reward"`
			}
			b, err := os.ReadFile(filepath.Join(out, "summary.json"))
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(b, &sum))
			assert.Equal(t, 9, sum.Rollouts)
			assert.Positive(t, sum.PromptTokens, "the server reported usage")
			assert.Positive(t, sum.MeanListReward)
			recs := readRecords(t, filepath.Join(out, "rollouts.jsonl"))
			require.Len(t, recs, 9)
			for _, r := range recs {
				assert.Equal(t, backend, r.Backend.Name)
				assert.NotEmpty(t, r.Tokens, "the server returned token logprobs")
				var text strings.Builder
				for _, tok := range r.Tokens {
					text.WriteString(tok.Text)
					assert.LessOrEqual(t, tok.Logprob, 0.0)
				}
				assert.Equal(t, r.Completion, text.String(), "tokens reproduce the completion")
				assert.Len(t, r.TokenAdvantages, len(r.Tokens))
				assert.Empty(t, r.AlignError)
			}
		})
	}
}

// readRecords reads a rollouts file.
func readRecords(t *testing.T, path string) []rollout.Record {
	t.Helper()
	recs, err := rollout.ReadFile(path)
	require.NoError(t, err)
	return recs
}
