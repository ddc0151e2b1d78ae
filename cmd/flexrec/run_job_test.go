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

	job, err = parseRun(t, "--config", cfg, "--out", "x", "--cache", "true")
	require.NoError(t, err)
	assert.True(t, *job.Backend.Cache, "--cache true turns it on")
	job, err = parseRun(t, "--config", cfg, "--out", "x", "--cache", "/tmp/shared-cache")
	require.NoError(t, err)
	assert.Equal(t, "/tmp/shared-cache", job.Backend.CacheDir, "--cache DIR names the folder")

	job, err = parseRun(t, "--out", "x")
	require.NoError(t, err)
	assert.Equal(t, pipeline.DefaultJob(), job, "no config and no flags: the defaults")
}

func TestUserErrorsExitTwoAndPointAtTheSubcommand(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "job.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("rollout: {sample: 4}\n"), 0o644))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--out", t.TempDir(), "--need", "nonsense"}, "nonsense"},
		{[]string{"run", "--out", t.TempDir(), "--config", cfg}, `did you mean "rollout.samples"?`},
		{[]string{"run", "--out", t.TempDir(), "--config", filepath.Join(t.TempDir(), "missing.yaml")}, "missing.yaml"},
		{[]string{"run", "--out", t.TempDir(), "--samples", "x"}, "--samples"},
		{[]string{"rollout", "--episodes", "e.jsonl", "--out", "r.jsonl", "--backend", "gpt"}, "--backend"},
	} {
		code, _, stderr := runCLI(t, "", tc.args...)
		assert.Equal(t, exitUsage, code, "flexrec %v: %s", tc.args, stderr)
		assert.Contains(t, stderr, tc.want)
		assert.Contains(t, stderr, "Run 'flexrec "+tc.args[0]+" --help' for usage.", "points at the subcommand's help")
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "", "version")
	require.Equal(t, 0, code)
	assert.Regexp(t, `^flexrec \S+\n`, out)
	assert.Contains(t, out, "go go1.")
	code, out, _ = runCLI(t, "", "--version")
	require.Equal(t, 0, code)
	assert.Regexp(t, `^flexrec \S+\n$`, out)
}

// TestSamplingCommandsShareTheBackendFlags checks that every command that
// samples defines each flag of the backend flag set with the same type,
// default and help.
func TestSamplingCommandsShareTheBackendFlags(t *testing.T) {
	root := newRootCmd(&bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{})
	ref, _, err := root.Find([]string{"rollout"})
	require.NoError(t, err)
	sampling := []string{"run", "rollout", "rank", "eval"}
	for _, name := range sampling {
		c, _, err := root.Find([]string{name})
		require.NoError(t, err, name)
		for _, fl := range backendFlagNames {
			got, want := c.Flags().Lookup(fl), ref.Flags().Lookup(fl)
			if !assert.NotNil(t, got, "flexrec %s lacks --%s", name, fl) {
				continue
			}
			assert.Equal(t, want.Value.Type(), got.Value.Type(), "flexrec %s --%s type", name, fl)
			if fl != "cache" { // run caches under its own folder by default
				assert.Equal(t, want.DefValue, got.DefValue, "flexrec %s --%s default", name, fl)
				assert.Equal(t, want.Usage, got.Usage, "flexrec %s --%s help", name, fl)
			}
		}
	}
}

// TestRunMethodSwitchesReachRecordsAndManifests sets switches by flag and
// config and finds them in every record and in the manifest.
func TestRunMethodSwitchesReachRecordsAndManifests(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "job.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("rollout: {repaired_tail: excluded, format_penalty: 0.1}\nepisodes: {limit: 8}\n"), 0o644))
	dir := filepath.Join(t.TempDir(), "out")
	code, _, stderr := runCLI(t, "", "run", "--config", cfg, "--out", dir, "--samples", "2", "--no-eval", "--normalize", "position", "--uncertainty", "none")
	require.Equal(t, 0, code, stderr)
	recs := readRecords(t, filepath.Join(dir, "rollouts.jsonl"))
	require.NotEmpty(t, recs)
	for _, r := range recs {
		for _, want := range []string{"normalize=position", "uncertainty=none", "repaired_tail=excluded", "format_penalty=0.1"} {
			assert.Contains(t, r.RewardSwitches, want)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "exports", "native", "manifest.json"))
	require.NoError(t, err)
	assert.Contains(t, string(b), "repaired_tail=excluded", "the manifest records the switches")

	require.NoError(t, os.WriteFile(cfg, []byte("rollout: {normalize: sideways}\n"), 0o644))
	code, _, stderr = runCLI(t, "", "run", "--config", cfg, "--out", t.TempDir())
	assert.Equal(t, exitUsage, code, "a bad switch in the config file is the user's: %s", stderr)
	assert.Contains(t, stderr, "rollout.normalize")
}
