package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSecretsNeverWritten runs the main job against the real Ollama's
// OpenAI API with a key given each way a user can give one (environment,
// key file, the URL's user info, the URL's query) and greps every output
// file, stdout and the log for the canaries.
func TestSecretsNeverWritten(t *testing.T) {
	host, model := realOllama(t)
	canaries := []string{"CANARY-ENV-7f3a", "CANARY-FILE-91bc", "CANARY-USERINFO-22de", "CANARY-QUERY-5e0f"}
	u := strings.Replace(strings.TrimRight(host, "/"), "://", "://flexrec:"+canaries[2]+"@", 1) + "/v1?api_key=" + canaries[3]
	keyFile := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(keyFile, []byte(canaries[1]+"\n"), 0o600))
	cfg := filepath.Join(t.TempDir(), "job.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`
episodes: {limit: 4, candidates: 12, history: 3}
rollout: {samples: 2, max_tokens: 60}
exports: [native, trl-preference, trl-grpo, verl, openrlhf]
eval: {rankers: [random, policy], resamples: 50, holdout: 0.3}
`), 0o644))
	t.Setenv("OPENAI_API_KEY", canaries[0])
	for name, extra := range map[string][]string{"env key": nil, "key file": {"--api-key-file", keyFile}} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			args := append([]string{"run", "--config", cfg, "--out", out, "--backend", "openai", "--model", model, "--base-url", u}, extra...)
			code, stdout, stderr := runCLI(t, "", args...)
			require.Equal(t, 0, code, "flexrec run: %s", stderr)
			files := 0
			require.NoError(t, filepath.WalkDir(out, func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				b, err := os.ReadFile(path)
				require.NoError(t, err)
				for _, c := range canaries {
					assert.NotContains(t, string(b), c, "%s holds a secret", path)
				}
				files++
				return nil
			}))
			assert.Greater(t, files, 15, "job, rollouts, cache, exports, manifests and report were all checked")
			for _, c := range canaries {
				assert.NotContains(t, stdout+stderr, c, "stdout or the log holds a secret")
			}
		})
	}
}
