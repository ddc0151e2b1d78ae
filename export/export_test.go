package export

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/export/internal/jsonl"
)

func smallGen() genConfig { return genConfig{n: 8, group: 4, reason: true, history: 3, partial: true} }

// lines splits JSONL data into its lines, each ending in "\n".
func lines(data []byte) [][]byte {
	ls := bytes.SplitAfter(bytes.TrimSuffix(data, []byte{'\n'}), []byte{'\n'})
	ls[len(ls)-1] = append(ls[len(ls)-1], '\n')
	return ls
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func TestManifest(t *testing.T) {
	a, b := genLines(t, smallGen(), 3), genLines(t, smallGen(), 5)[len(genLines(t, smallGen(), 3)):]
	dir := t.TempDir()
	cfg := withFormat(TRLGRPO)
	cfg.Cutoff = 5
	m, err := Export(context.Background(), cfg, []Input{{Name: "a.jsonl", R: bytes.NewReader(a)}, {Name: "b.jsonl", R: bytes.NewReader(b)}}, dir, nil)
	require.NoError(t, err)
	sum := func(d []byte) string { s := sha256.Sum256(d); return hex.EncodeToString(s[:]) }
	assert.Equal(t, []InputInfo{
		{Name: "a.jsonl", SHA256: sum(a), Bytes: int64(len(a)), Lines: 12},
		{Name: "b.jsonl", SHA256: sum(b), Bytes: int64(len(b)), Lines: 8},
	}, m.Inputs)
	assert.Equal(t, Counts{Lines: 20, Records: 20, Episodes: 5, Rollouts: 20, Rows: 5, Skipped: map[string]int64{}}, m.Counts)
	require.NotNil(t, m.Lengths, "lengths")
	assert.Equal(t, int64(20), m.Lengths.Rollouts)
	assert.Equal(t, Seeds{Min: 0, Max: 4003}, m.Seeds)
	assert.Equal(t, 5, *m.Config.Cutoff)
	assert.Equal(t, SchemaVersion, m.SchemaVersion)
	assert.NotEmpty(t, m.FlexrecVersion)

	data, err := os.ReadFile(filepath.Join(dir, ManifestName))
	require.NoError(t, err)
	var back Manifest
	require.NoError(t, json.Unmarshal(data, &back))
	assert.Equal(t, *m, back, "manifest.json is the returned manifest")
	assert.Equal(t, []string{CardName, "flexrec_reward.py", "grpo.jsonl", ManifestName}, dirNames(t, dir))
	assert.Equal(t, SHA256, m.Config.InputHash)
}

// TestManifestCRC32C checks the checksum an export records with
// InputHash CRC32C against the standard library's, and that it then
// records no SHA-256.
func TestManifestCRC32C(t *testing.T) {
	data := genLines(t, testGen(), 20) // spans read chunks
	require.Greater(t, len(data), 2*jsonl.ChunkSize)
	cfg := withFormat(Native)
	cfg.InputHash = CRC32C
	_, m := runExport(t, cfg, data)
	want := fmt.Sprintf("%08x", crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)))
	assert.Equal(t, []InputInfo{{Name: "rollouts.jsonl", CRC32C: want, Bytes: int64(len(data)), Lines: 120}}, m.Inputs)
	assert.Equal(t, CRC32C, m.Config.InputHash)
}

// TestFieldsDescribeRows: the manifest's field map names exactly the keys
// of the rows, for every JSON Lines format.
func TestFieldsDescribeRows(t *testing.T) {
	data := genLines(t, smallGen(), 4)
	for f, file := range map[Format]string{TRLPreference: "preference.jsonl", OpenRLHF: "preference.jsonl", TRLKTO: "kto.jsonl", TRLGRPO: "grpo.jsonl"} {
		t.Run(string(f), func(t *testing.T) {
			dir, m := runExport(t, withFormat(f), data)
			var keys []string
			for k := range m.Fields {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			assert.Equal(t, keys, jsonKeys(t, filepath.Join(dir, file)))
		})
	}
	t.Run("verl", func(t *testing.T) {
		var keys []string
		flat, err := json.Marshal(VerlRow{})
		require.NoError(t, err)
		var obj map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(flat, &obj))
		for k, v := range obj {
			var sub map[string]json.RawMessage
			if v[0] != '{' || json.Unmarshal(v, &sub) != nil {
				keys = append(keys, k)
				continue
			}
			for sk := range sub {
				keys = append(keys, k+"."+sk)
			}
		}
		var want []string
		for k := range Fields(Verl) {
			want = append(want, k)
		}
		assert.ElementsMatch(t, want, keys)
	})
}

func TestExportIsDeterministic(t *testing.T) {
	data := genLines(t, smallGen(), 6)
	for _, f := range Formats() {
		t.Run(string(f), func(t *testing.T) {
			d1, _ := runExport(t, withFormat(f), data)
			d2, _ := runExport(t, withFormat(f), data)
			for _, name := range dirNames(t, d1) {
				b1, err := os.ReadFile(filepath.Join(d1, name))
				require.NoError(t, err)
				b2, err := os.ReadFile(filepath.Join(d2, name))
				require.NoError(t, err)
				assert.True(t, bytes.Equal(b1, b2), "%s differs between two runs", name)
			}
		})
	}
}

func TestLineEndingsAndBlankLines(t *testing.T) {
	data := genLines(t, smallGen(), 3)
	var messy []byte
	for i, l := range lines(data) {
		l = bytes.TrimSuffix(l, []byte{'\n'})
		messy = append(messy, l...)
		if i < 11 { // the last line has no line end
			messy = append(messy, "\r\n\n  \n"...)
		}
	}
	dir, m := runExport(t, withFormat(Native), messy)
	got, err := os.ReadFile(filepath.Join(dir, "rollouts.jsonl"))
	require.NoError(t, err)
	assert.Equal(t, data, got)
	assert.Equal(t, int64(12), m.Counts.Records)
	assert.Equal(t, 11*3+1, m.Inputs[0].Lines, "blank lines count as lines")
}

func TestIncompleteGroupsAreSkipped(t *testing.T) {
	ls := lines(genLines(t, smallGen(), 3))
	cases := []struct {
		name string
		data [][]byte
	}{
		{"missing rollout", append(append([][]byte{}, ls[:5]...), ls[6:]...)},
		{"duplicated rollout", append(append(append([][]byte{}, ls[:6]...), ls[5]), ls[6:]...)},
		{"episode split in two", append(append(append([][]byte{}, ls[:6]...), ls[8:]...), ls[6:8]...)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, m := runExport(t, withFormat(TRLGRPO), bytes.Join(tc.data, nil))
			rows := readJSONL[GRPORow](t, filepath.Join(dir, "grpo.jsonl"))
			require.Len(t, rows, 2, "episodes 0 and 2 are whole")
			assert.Equal(t, "interest/u0", rows[0].EpisodeID)
			assert.Equal(t, "interest/u2", rows[1].EpisodeID)
			assert.Equal(t, int64(2), m.Counts.Episodes)
			assert.Equal(t, int64(len(tc.data)-8), m.Counts.Skipped[skipIncomplete])
		})
	}
}

func TestBadLines(t *testing.T) {
	ls := lines(genLines(t, smallGen(), 3))
	withLine := func(at int, line string, replace bool) []byte {
		out := append([][]byte{}, ls[:at]...)
		out = append(out, []byte(line+"\n"))
		if replace {
			at++
		}
		return bytes.Join(append(out, ls[at:]...), nil)
	}
	v2 := strings.Replace(string(ls[4]), `"schema_version":1`, `"schema_version":2`, 1)
	badOrder := strings.Replace(string(bytes.TrimSpace(ls[4])), `"order":[`, `"order":[0,`, 1)
	cases := []struct {
		name     string
		data     []byte
		line     int
		sentinel error
		reason   string
		skipped  int64
		episodes int64
	}{
		{"garbage between groups", withLine(4, "not json", false), 5, ErrMalformed, skipMalformed, 1, 3},
		{"truncated record", withLine(4, string(ls[4][:len(ls[4])/2]), true), 5, ErrMalformed, skipMalformed, 1, 2},
		{"other schema version", withLine(4, strings.TrimSpace(v2), true), 5, ErrSchema, skipSchema, 1, 2},
		{"inconsistent record", withLine(4, badOrder, true), 5, ErrRecord, skipInvalidGroup, 4, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := Export(context.Background(), withFormat(Native), []Input{{Name: "in.jsonl", R: bytes.NewReader(tc.data)}}, dir, nil)
			var le *LineError
			require.ErrorAs(t, err, &le)
			assert.Equal(t, "in.jsonl", le.Name)
			assert.Equal(t, tc.line, le.Line)
			assert.ErrorIs(t, err, tc.sentinel)
			assert.Contains(t, err.Error(), "export: in.jsonl:5: ")
			assert.Empty(t, dirNames(t, dir), "a failed export leaves nothing")

			cfg := withFormat(Native)
			cfg.SkipInvalid = true
			_, m := runExport(t, cfg, tc.data)
			assert.Equal(t, tc.skipped, m.Counts.Skipped[tc.reason])
			assert.Equal(t, tc.episodes, m.Counts.Episodes)
		})
	}
}

func TestFailedExportRemovesOldManifest(t *testing.T) {
	data := genLines(t, smallGen(), 2)
	dir := t.TempDir()
	_, err := Export(context.Background(), withFormat(Native), []Input{{Name: "a", R: bytes.NewReader(data)}}, dir, nil)
	require.NoError(t, err)
	require.Contains(t, dirNames(t, dir), ManifestName)
	_, err = Export(context.Background(), withFormat(Native), []Input{{Name: "b", R: strings.NewReader("{oops\n")}}, dir, nil)
	require.Error(t, err)
	assert.NotContains(t, dirNames(t, dir), ManifestName, "the old manifest no longer describes the folder")
}

// hookReader calls hook once, after half of the data has been read.
type hookReader struct {
	r    *bytes.Reader
	half int64
	hook func()
}

func (h *hookReader) Read(p []byte) (int, error) {
	if h.hook != nil && h.r.Size()-int64(h.r.Len()) >= h.half {
		h.hook()
		h.hook = nil
	}
	return h.r.Read(p[:min(len(p), 64<<10)])
}

// TestNothingLooksCompleteMidway looks at the folder in the middle of an
// export, where a kill would leave it: only hidden temporary files, no
// manifest, even though Parquet shards have been finished by then.
func TestNothingLooksCompleteMidway(t *testing.T) {
	data := genLines(t, testGen(), 80) // 480 rollouts
	// The reader runs at most three chunks ahead of the parser: at half
	// way the parser has written shards.
	require.Greater(t, len(data), 8*jsonl.ChunkSize)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, ManifestName), []byte("{}"), 0o644))
	var midway []string
	in := &hookReader{r: bytes.NewReader(data), half: int64(len(data)) / 2, hook: func() { midway = dirNames(t, dir) }}
	cfg := withFormat(Native)
	cfg.ParquetShardRows = 10
	_, err := Export(context.Background(), cfg, []Input{{Name: "in", R: in}}, dir, nil)
	require.NoError(t, err)
	require.NotEmpty(t, midway)
	for _, name := range midway {
		assert.True(t, strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-"), "midway the folder holds %q", name)
	}
	assert.Greater(t, len(midway), 3, "midway: the JSONL and shards, finished ones included")
	want := []string{CardName, ManifestName}
	for i := range 48 {
		want = append(want, fmt.Sprintf("rollouts-%05d.parquet", i))
	}
	assert.Equal(t, append(want, "rollouts.jsonl"), dirNames(t, dir))
}

// TestFailedShardedExportLeavesNothing fails an export on its last line,
// after Parquet shards were finished: none of them is left behind.
func TestFailedShardedExportLeavesNothing(t *testing.T) {
	data := append(genLines(t, smallGen(), 6), "{oops\n"...) // 24 rollouts, then a bad line
	for _, f := range []Format{Native, Verl} {
		cfg := withFormat(f)
		cfg.ParquetShardRows = 2
		dir := t.TempDir()
		_, err := Export(context.Background(), cfg, []Input{{Name: "in", R: bytes.NewReader(data)}}, dir, nil)
		require.ErrorIs(t, err, ErrMalformed, "%s", f)
		assert.Empty(t, dirNames(t, dir), "%s: a failed export leaves nothing", f)
	}
}

func TestCancel(t *testing.T) {
	data := genLines(t, testGen(), 12)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	in := &hookReader{r: bytes.NewReader(data), half: int64(len(data)) / 2, hook: cancel}
	_, err := Export(ctx, withFormat(Native), []Input{{Name: "in", R: in}}, dir, nil)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, dirNames(t, dir))
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n > 0 {
		f.n--
		return copy(p, "\n"), nil
	}
	return 0, errors.New("disk on fire")
}

func TestReadError(t *testing.T) {
	dir := t.TempDir()
	_, err := Export(context.Background(), withFormat(TRLKTO), []Input{{Name: "in", R: &failingReader{n: 3}}}, dir, nil)
	assert.ErrorContains(t, err, "export: read in: disk on fire")
	assert.Empty(t, dirNames(t, dir))
}

func TestEmptyInput(t *testing.T) {
	for _, f := range Formats() {
		t.Run(string(f), func(t *testing.T) {
			dir, m := runExport(t, withFormat(f), nil)
			assert.Equal(t, int64(0), m.Counts.Rows)
			assert.Equal(t, Seeds{}, m.Seeds)
			assert.Contains(t, dirNames(t, dir), ManifestName)
		})
	}
}

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	require.NoError(t, ok.Validate())
	cases := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"format", func(c *Config) { c.Format = "csv" }, `unknown format "csv"`},
		{"pairing", func(c *Config) { c.Pairs = "some" }, "unknown pairing"},
		{"negative margin", func(c *Config) { c.Margin = -0.1 }, "margin"},
		{"NaN margin", func(c *Config) { c.Margin = nan() }, "margin"},
		{"completions", func(c *Config) { c.Completions = "short" }, "completions"},
		{"cutoff", func(c *Config) { c.Cutoff = -2 }, "cutoff"},
		{"row group", func(c *Config) { c.RowGroupRows = 0 }, "row group"},
		{"shard rows", func(c *Config) { c.ParquetShardRows = 0 }, "parquet shard rows"},
		{"input hash", func(c *Config) { c.InputHash = "md5" }, "unknown input hash"},
		{"split path", func(c *Config) { c.Format, c.Split = Verl, "../x" }, "split"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mutate(&c)
			assert.ErrorContains(t, c.Validate(), tc.want)
		})
	}
}

func nan() float64 { z := 0.0; return z / z }

var _ io.Reader = (*hookReader)(nil)

func TestOverlongGroupFails(t *testing.T) {
	line := strings.TrimSpace(string(lines(genLines(t, smallGen(), 1))[0]))
	data := strings.Repeat(line+"\n", maxGroup+1)
	_, err := Export(context.Background(), withFormat(TRLGRPO), []Input{{Name: "in", R: strings.NewReader(data)}}, t.TempDir(), nil)
	var le *LineError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, maxGroup+1, le.Line)
	assert.ErrorContains(t, err, "more than 4096 contiguous records")
}
