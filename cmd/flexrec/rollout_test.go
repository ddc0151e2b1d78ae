package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRolloutCommand(t *testing.T) {
	dir := t.TempDir()
	eps := filepath.Join(dir, "eps.jsonl")
	code, _, stderr := runCLI(t, "", "episodes", "--limit", "5", "--out", eps)
	require.Equal(t, 0, code, stderr)
	out := filepath.Join(dir, "r.jsonl")
	code, stdout, stderr := runCLI(t, "", "rollout", "--episodes", eps, "--out", out, "--samples", "3")
	require.Equal(t, 0, code, stderr)
	var st struct{ Episodes, Rollouts int }
	require.NoError(t, json.Unmarshal([]byte(stdout), &st))
	assert.Equal(t, 5, st.Episodes)
	assert.Equal(t, 15, st.Rollouts)

	f, err := os.Open(out)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	n := 0
	for sc.Scan() {
		var rec map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &rec))
		for _, field := range []string{"episode_id", "need", "messages", "completion", "tokens", "item_spans", "permutation",
			"generated", "list_reward", "item_rewards", "u", "c", "item_advantages", "token_advantages", "parse", "backend"} {
			assert.Contains(t, rec, field)
		}
		n++
	}
	assert.Equal(t, 15, n)

	code, _, stderr = runCLI(t, "", "rollout", "--episodes", eps, "--out", out, "--samples", "4")
	assert.Equal(t, 1, code, "a resume with other settings is refused")
	assert.Contains(t, stderr, "another configuration")
	code, _, stderr = runCLI(t, "", "rollout", "--episodes", eps)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "required")
	code, _, stderr = runCLI(t, "", "rollout", "--episodes", eps, "--out", out, "--backend", "ollama")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "needs --model")
}
