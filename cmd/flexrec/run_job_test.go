package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/pipeline"
)

// parseRun parses run's command line and returns the job it builds.
func parseRun(t *testing.T, args ...string) (pipeline.Job, error) {
	t.Helper()
	c := newRunCmd(io3{in: &bytes.Buffer{}, out: &bytes.Buffer{}, err: &bytes.Buffer{}})
	require.NoError(t, c.ParseFlags(args), "parse %v", args)
	// The options the constructor bound, read back through its flags.
	o := &runOptions{flags: c.Flags()}
	o.config, _ = c.Flags().GetString("config")
	o.out, _ = c.Flags().GetString("out")
	o.logFormat, _ = c.Flags().GetString("log-format")
	return o.verify()
}

func TestRunFlagsOverrideConfig(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "job.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`
needs: [explore]
episodes: {limit: 7}
backend: {kind: openai, model: m, cache: false, concurrency: 3}
rollout: {temperature: 0.3, samples: 5}
exports: [verl]
`), 0o644))
	job, err := parseRun(t, "--config", cfg, "--out", "x", "--samples", "2", "--exports", "native,trl-kto", "--temperature", "0")
	require.NoError(t, err)
	assert.Equal(t, 2, job.Rollout.Samples, "a given flag wins")
	assert.Equal(t, []string{"native", "trl-kto"}, job.Exports, "a slice flag replaces the list")
	require.NotNil(t, job.Rollout.Temperature)
	assert.Equal(t, 0.0, *job.Rollout.Temperature, "temperature 0 is a value, not unset")
	assert.Equal(t, 7, job.Episodes.Limit, "a flag not given keeps the config's value")
	assert.Equal(t, []string{"explore"}, job.Needs)
	require.NotNil(t, job.Backend.Cache)
	assert.False(t, *job.Backend.Cache, "the config's cache: false stays")
	assert.Equal(t, 3, job.Backend.Concurrency)

	job, err = parseRun(t, "--config", cfg, "--out", "x", "--cache")
	require.NoError(t, err)
	assert.True(t, *job.Backend.Cache, "--cache alone turns it on")

	job, err = parseRun(t, "--out", "x")
	require.NoError(t, err)
	assert.Equal(t, pipeline.DefaultJob(), job, "no config and no flags: the defaults")
}
