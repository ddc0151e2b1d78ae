package export

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/rollout"
)

// runExport exports data (rollouts JSONL) with cfg into a fresh folder.
func runExport(t *testing.T, cfg Config, data []byte) (string, *Manifest) {
	t.Helper()
	dir := t.TempDir()
	m, err := Export(context.Background(), cfg, []Input{{Name: "rollouts.jsonl", R: bytes.NewReader(data)}}, dir, nil)
	require.NoError(t, err, "Export(%s)", cfg.Format)
	return dir, m
}

func withFormat(f Format) Config {
	cfg := DefaultConfig()
	cfg.Format = f
	return cfg
}

// readJSONL decodes every line of path into a T.
func readJSONL[T any](t *testing.T, path string) []T {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var rows []T
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<26)
	for sc.Scan() {
		var row T
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(&row), "decode %s line %d", filepath.Base(path), len(rows)+1)
		rows = append(rows, row)
	}
	require.NoError(t, sc.Err())
	return rows
}

// jsonKeys returns the top-level keys of the first line of a JSONL file.
func jsonKeys(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	line, _, _ := bytes.Cut(data, []byte{'\n'})
	var obj map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(line, &obj))
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// groupsOf splits records into their episodes, in order.
func groupsOf(recs []rollout.Record) [][]rollout.Record {
	var out [][]rollout.Record
	for i, r := range recs {
		if i == 0 || r.EpisodeID != recs[i-1].EpisodeID {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], r)
	}
	return out
}

func decodeRecords(t *testing.T, data []byte) []rollout.Record {
	t.Helper()
	var recs []rollout.Record
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte{'\n'}) {
		var r rollout.Record
		require.NoError(t, json.Unmarshal(line, &r))
		recs = append(recs, r)
	}
	return recs
}

// candidateLine matches a candidate line of genMessages' user message.
var candidateLine = regexp.MustCompile(`(?m)^\[(\d+)\] Candidate Film (\d+) `)

// promptItems reads, from a prompt's text alone, which item each short id
// shows: the oracle for every mapping between prompts.
func promptItems(t *testing.T, msgs []Message) map[int]string {
	t.Helper()
	out := map[int]string{}
	for _, m := range candidateLine.FindAllStringSubmatch(msgs[len(msgs)-1].Content, -1) {
		k, err := strconv.Atoi(m[1])
		require.NoError(t, err)
		out[k] = "item" + m[2]
	}
	require.NotEmpty(t, out, "no candidate lines in the prompt")
	return out
}

// genGain is genRecord's gain of item "item<X>" in episode ep, in closed
// form.
func genGain(ep int, item string) float64 {
	x, _ := strconv.Atoi(strings.TrimPrefix(item, "item"))
	c := x - ep*7919
	if c%3 != 0 {
		return 0
	}
	return float64(1 + (ep+c)%5)
}

func episodeNumber(t *testing.T, id string) int {
	t.Helper()
	ep, err := strconv.Atoi(strings.TrimPrefix(id, "interest/u"))
	require.NoError(t, err, "episode id %q", id)
	return ep
}

var bracketID = regexp.MustCompile(`\[(\d+)\]`)

// pyNDCG is a line-for-line port of the Python reward function in
// docs/readme/export.md: the last non-empty line's [k] ids, first mention
// kept, the rest appended in prompt order, NDCG@k of gains (k = 0: all).
func pyNDCG(text string, gains []float64, k int) float64 {
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	n := len(gains)
	last := ""
	if len(lines) > 0 {
		last = lines[len(lines)-1]
	}
	var seen []int
	in := map[int]bool{}
	for _, m := range bracketID.FindAllStringSubmatch(last, -1) {
		v, _ := strconv.Atoi(m[1])
		if v >= 1 && v <= n && !in[v-1] {
			seen, in[v-1] = append(seen, v-1), true
		}
	}
	for i := range n {
		if !in[i] {
			seen = append(seen, i)
		}
	}
	if k == 0 || k > n {
		k = n
	}
	sorted := append([]float64(nil), gains...)
	sort.Sort(sort.Reverse(sort.Float64Slice(sorted)))
	var dcg, idcg float64
	for p := range k {
		d := 1 / math.Log2(float64(p)+2)
		dcg += gains[seen[p]] * d
		idcg += sorted[p] * d
	}
	if idcg <= 0 {
		return 0
	}
	return dcg / idcg
}
