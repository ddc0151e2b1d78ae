package pipeline

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExamplesLoad(t *testing.T) {
	files, err := filepath.Glob("../examples/*.yaml")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 4, "examples/ holds the four example jobs")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			job, err := LoadJob(f)
			require.NoError(t, err, "LoadJob(%s)", f)
			assert.NotEmpty(t, job.Exports)
		})
	}
}

func TestLoadJobErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"unknown key", "datset: x\n", "datset"},
		{"bad backend", "backend: {kind: gpt}\n", "backend.kind"},
		{"model required", "backend: {kind: openai}\n", "backend.model"},
		{"bad sparse", "episodes: {sparse: 1.5}\n", "episodes.sparse"},
		{"bad critic", "critic: oracle\n", "critic"},
		{"no samples", "rollout: {samples: 0}\n", "rollout.samples"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "job.yaml")
			require.NoError(t, os.WriteFile(path, []byte(tc.yaml), 0o644))
			_, err := LoadJob(path)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "job.yaml")
		})
	}
}

func TestDefaultJobValid(t *testing.T) {
	job := DefaultJob()
	assert.NoError(t, job.Validate())
	assert.Equal(t, "builtin", job.Backend.Kind)
	assert.Equal(t, []string{"native", "trl-preference"}, job.Exports)
}

func TestLoadJobSuggestsTheKeyMeant(t *testing.T) {
	path := filepath.Join(t.TempDir(), "job.yaml")
	require.NoError(t, os.WriteFile(path, []byte("needs: [interest]\nrollout:\n  sample: 4\nbackend: {kind: openai, model: m, concurency: 3}\nfoo: 1\n"), 0o644))
	_, err := LoadJob(path)
	var ce *ConfigError
	require.ErrorAs(t, err, &ce, "LoadJob with typos")
	assert.Contains(t, err.Error(), `job.yaml:3: unknown key "rollout.sample" (did you mean "rollout.samples"?)`)
	assert.Contains(t, err.Error(), `job.yaml:4: unknown key "backend.concurency" (did you mean "backend.concurrency"?)`)
	assert.Contains(t, err.Error(), `job.yaml:5: unknown key "foo" (valid here: dataset, needs,`, "no near key: the valid ones")
}
