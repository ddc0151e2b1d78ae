package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/export"
	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rank"
	"github.com/flexrec/flexrec/rl"
	"github.com/flexrec/flexrec/rollout"
)

// exportFixture writes a small rollouts file: two episodes of three
// candidates, two rollouts each, parsed and scored by packages rank and rl
// as the rollout loop does.
func exportFixture(t *testing.T) string {
	t.Helper()
	gains := []float64{3, 0, 1}
	var b strings.Builder
	for e, ep := range []string{"interest/u1", "interest/u2"} {
		for r, tc := range []struct {
			order []int
			text  string
		}{{[]int{0, 1, 2}, "Best first.\n[1] > [3] > [2]"}, {[]int{2, 0, 1}, "[3] > [1] > [2]"}} {
			cands := []rank.Candidate{{ID: "1"}, {ID: "2"}, {ID: "3"}}
			res := rank.Parse(tc.text, cands)
			rec := rollout.Record{
				Schema: rollout.SchemaVersion, EpisodeID: ep, UserID: strconv.Itoa(e), Need: "interest",
				Rollout: r, Group: 2, Seed: int64(10*e + r), Order: tc.order, Completion: tc.text,
				Messages: []prompt.Message{{Role: "system", Content: "Rank."}, {Role: "user", Content: "[1] A\n[2] B\n[3] C"}},
				Gains:    gains, Variances: make([]float64, 3), Parse: res.Report(), Ranking: make([]int, 3),
			}
			for p, k := range res.Order {
				rec.Ranking[p] = tc.order[k]
			}
			var err error
			rec.ListReward, err = rl.ListReward(gains, rec.Ranking, 0)
			require.NoError(t, err)
			line, err := json.Marshal(&rec)
			require.NoError(t, err)
			b.Write(append(line, '\n'))
		}
	}
	path := filepath.Join(t.TempDir(), "rollouts.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	return path
}

func TestExportCommand(t *testing.T) {
	in := exportFixture(t)
	cases := []struct {
		format string
		files  []string
		rows   string
	}{
		{"native", []string{"rollouts.jsonl", "rollouts-00000.parquet"}, "4 records, 2 episodes exported, 8 rows"},
		{"trl-preference", []string{"preference.jsonl"}, "2 pairs"},
		{"trl-kto", []string{"kto.jsonl"}, "4 rows"},
		{"trl-grpo", []string{"grpo.jsonl"}, "2 rows"},
		{"verl", []string{"train-00000.parquet"}, "2 rows"},
		{"openrlhf", []string{"preference.jsonl"}, "2 pairs"},
	}
	for _, tc := range cases {
		t.Run(tc.format, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			code, stdout, stderr := runCLI(t, "", "export", "--in", in, "--format", tc.format, "--out", out)
			require.Equal(t, 0, code, "stderr: %s", stderr)
			for _, f := range append(tc.files, export.ManifestName) {
				assert.FileExists(t, filepath.Join(out, f))
				assert.Contains(t, stdout, "wrote "+filepath.Join(out, f))
			}
			assert.Contains(t, stdout, tc.rows)
			assert.Contains(t, stdout, "wrote "+filepath.Join(out, export.CardName))
			assert.Regexp(t, `tokens \(.*\) p50/p95/max: prompt \d+/\d+/\d+, completion \d+/\d+/\d+, prompt\+completion \d+/\d+/\d+; `+
				`settings: TRL max_length=\d+ max_completion_length=\d+; verl data.max_prompt_length=\d+ data.max_response_length=\d+; `+
				`OpenRLHF --data.max_len=\d+ --rollout.max_new_tokens=\d+`, stdout, "the summary's lengths and settings")
		})
	}
}

func TestExportCommandStdin(t *testing.T) {
	data, err := os.ReadFile(exportFixture(t))
	require.NoError(t, err)
	out := t.TempDir()
	code, _, stderr := runCLI(t, string(data), "export", "--in", "-", "--format", "trl-grpo", "--out", out)
	require.Equal(t, 0, code, "stderr: %s", stderr)
	var m export.Manifest
	raw, err := os.ReadFile(filepath.Join(out, export.ManifestName))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &m))
	assert.Equal(t, "stdin", m.Inputs[0].Name)
	assert.Equal(t, int64(len(data)), m.Inputs[0].Bytes)
}

func TestExportCommandErrors(t *testing.T) {
	in := exportFixture(t)
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	data, err := os.ReadFile(in)
	require.NoError(t, err)
	first, _, _ := strings.Cut(string(data), "\n")
	require.NoError(t, os.WriteFile(bad, []byte(first+"\n{\"truncated\n"), 0o644))
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no input", []string{"export", "--out", t.TempDir()}, exitUsage, "--in and --out are required"},
		{"unknown format", []string{"export", "--in", in, "--out", t.TempDir(), "--format", "csv"}, exitUsage, `unknown format "csv"`},
		{"negative margin", []string{"export", "--in", in, "--out", t.TempDir(), "--margin", "-1"}, exitUsage, "margin"},
		{"stdin twice", []string{"export", "--in", "-", "--in", "-", "--out", t.TempDir()}, exitUsage, "stdin can be read once"},
		{"missing file", []string{"export", "--in", "nope.jsonl", "--out", t.TempDir()}, exitError, "nope.jsonl"},
		{"bad line", []string{"export", "--in", bad, "--out", t.TempDir()}, exitError, "export: " + bad + ":2: malformed record"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, "", tc.args...)
			assert.Equal(t, tc.code, code, "stderr: %s", stderr)
			assert.Contains(t, stderr, tc.msg)
		})
	}
	t.Run("skip invalid", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "", "export", "--in", bad, "--out", t.TempDir(), "--skip-invalid")
		require.Equal(t, 0, code, "stderr: %s", stderr)
		assert.Contains(t, stdout, "skipped incomplete_group=1 malformed_line=1")
		assert.Contains(t, stderr, "skipped line")
	})
}

// TestExportFlags checks that each flag lands in the typed configuration.
func TestExportFlags(t *testing.T) {
	o := &exportOptions{cfg: export.DefaultConfig()}
	fs := pflag.NewFlagSet("export", pflag.ContinueOnError)
	o.addFlags(fs)
	require.NoError(t, fs.Parse([]string{"--in", "a", "--in", "b", "--out", "d", "--format", "verl", "--pairs", "all",
		"--margin", "0.25", "--completions", "ranking", "--cutoff", "5", "--parquet=false", "--row-group-rows", "7",
		"--parquet-shard-rows", "9", "--input-hash", "crc32c",
		"--data-source", "src", "--ability", "ab", "--split", "test", "--skip-invalid"}))
	cfg, err := o.config()
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, o.in)
	assert.Equal(t, export.Config{Format: export.Verl, Pairs: export.AllPairs, Margin: 0.25, Completions: export.Ranking,
		Cutoff: 5, Parquet: false, RowGroupRows: 7, ParquetShardRows: 9, DataSource: "src", Ability: "ab", Split: "test", InputHash: export.CRC32C, SkipInvalid: true}, cfg)

	o = &exportOptions{cfg: export.DefaultConfig()}
	fs = pflag.NewFlagSet("export", pflag.ContinueOnError)
	o.addFlags(fs)
	require.NoError(t, fs.Parse([]string{"--in", "a", "--out", "d", "--format", "trl-kto", "--shuffle", "7", "--val-fraction", "0.1", "--val-seed", "3"}))
	cfg, err = o.config()
	require.NoError(t, err)
	require.NotNil(t, cfg.Shuffle, "--shuffle given")
	assert.Equal(t, int64(7), *cfg.Shuffle)
	assert.Equal(t, 0.1, cfg.ValFraction)
	assert.Equal(t, int64(3), cfg.ValSeed)

	o = &exportOptions{cfg: export.DefaultConfig()}
	fs = pflag.NewFlagSet("export", pflag.ContinueOnError)
	o.addFlags(fs)
	require.NoError(t, fs.Parse([]string{"--in", "a", "--out", "d", "--format", "trl-kto"}))
	cfg, err = o.config()
	require.NoError(t, err)
	assert.Nil(t, cfg.Shuffle, "no --shuffle: the format's default")
}
