package shard_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/internal/shard"
	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rollout"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want shard.Spec
		err  bool
	}{
		{in: "", want: shard.Spec{}},
		{in: "0/1", want: shard.Spec{K: 0, N: 1}},
		{in: "3/4", want: shard.Spec{K: 3, N: 4}},
		{in: "4/4", err: true},
		{in: "-1/4", err: true},
		{in: "1/0", err: true},
		{in: "1", err: true},
		{in: "a/b", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := shard.Parse(tc.in)
			if tc.err {
				assert.Error(t, err, "Parse(%q)", tc.in)
				return
			}
			require.NoError(t, err, "Parse(%q)", tc.in)
			assert.Equal(t, tc.want, got, "Parse(%q)", tc.in)
			assert.Equal(t, tc.in, got.String(), "String")
		})
	}
}

// TestFilterPartitions checks that the shards of a set are disjoint and
// cover it, in order, and that Of is FNV-1a's.
func TestFilterPartitions(t *testing.T) {
	var ids []string
	for i := range 500 {
		ids = append(ids, "interest/u"+string(rune('a'+i%26))+string(rune('0'+i/26%10))+string(rune('0'+i/260)))
	}
	id := func(s *string) string { return *s }
	seen := map[string]int{}
	for k := range 5 {
		part := shard.Filter(shard.Spec{K: k, N: 5}, ids, id)
		assert.NotEmpty(t, part, "shard %d/5", k)
		for _, x := range part {
			seen[x]++
		}
	}
	assert.Len(t, seen, len(ids), "every id in a shard")
	for x, n := range seen {
		assert.Equal(t, 1, n, "%s in %d shards", x, n)
	}
	assert.Equal(t, ids, shard.Filter(shard.Spec{}, ids, id), "the zero Spec keeps all")
	assert.Equal(t, 0xc, shard.Of("a", 16), "Of(\"a\", 16): FNV-1a 64 of \"a\" is 0xaf63dc4c8601ec8c")
}

// writeRollouts writes records for episodes e0..e(n-1), G = 2, through
// rollout's encoder, with the given fingerprint.
func writeRollouts(t *testing.T, path, fp string, eps []int, edit func(*rollout.Record)) {
	t.Helper()
	var buf []byte
	for _, e := range eps {
		for i := range 2 {
			rec := rollout.Record{Schema: rollout.SchemaVersion, EpisodeID: "e" + string(rune('0'+e)), Rollout: i, Group: 2, JobFingerprint: fp}
			if edit != nil {
				edit(&rec)
			}
			var err error
			buf, err = rollout.AppendRecord(buf, &rec)
			require.NoError(t, err)
		}
	}
	require.NoError(t, os.WriteFile(path, buf, 0o644))
}

func TestMergeRollouts(t *testing.T) {
	dir := t.TempDir()
	eps := []prompt.Episode{{ID: "e0"}, {ID: "e1"}, {ID: "e2"}}
	a, b := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	writeRollouts(t, a, "fp1", []int{2, 0}, nil)
	writeRollouts(t, b, "fp1", []int{1, 2}, nil)
	out := filepath.Join(dir, "m.jsonl")
	st, err := shard.MergeRollouts([]string{a, b}, eps, out, false)
	require.NoError(t, err, "MergeRollouts")
	assert.Equal(t, 3, st.Episodes)
	assert.Equal(t, 2, st.Duplicates, "e2 twice")
	want := filepath.Join(dir, "want.jsonl")
	writeRollouts(t, want, "fp1", []int{0, 1, 2}, nil)
	wb, _ := os.ReadFile(want)
	gb, _ := os.ReadFile(out)
	assert.Equal(t, string(wb), string(gb), "merged in episode order")

	tests := []struct {
		name  string
		write func(path string)
		want  string
	}{
		{name: "another job", write: func(p string) { writeRollouts(t, p, "fp2", []int{1}, nil) }, want: "different jobs"},
		{name: "a conflicting copy", write: func(p string) {
			writeRollouts(t, p, "fp1", []int{0}, func(r *rollout.Record) { r.Completion = "other" })
		}, want: "differs from an earlier copy"},
		{name: "a foreign episode", write: func(p string) { writeRollouts(t, p, "fp1", []int{7}, nil) }, want: "not among the episodes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := filepath.Join(t.TempDir(), "c.jsonl")
			tc.write(c)
			_, err := shard.MergeRollouts([]string{a, b, c}, eps, filepath.Join(t.TempDir(), "m.jsonl"), false)
			assert.ErrorContains(t, err, tc.want, "MergeRollouts with %s", tc.name)
		})
	}
	_, err = shard.MergeRollouts([]string{a}, eps, filepath.Join(dir, "part.jsonl"), false)
	assert.ErrorIs(t, err, shard.ErrIncomplete, "e1 missing")
	st, err = shard.MergeRollouts([]string{a}, eps, filepath.Join(dir, "part.jsonl"), true)
	require.NoError(t, err, "allowIncomplete")
	assert.Equal(t, []string{"e1"}, st.Missing)
}
