package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/export/internal/jsonl"
	"github.com/flexrec/flexrec/rollout"
)

// testGen is realistic in size (30 candidates, reasoning) with repaired
// rollouts in every group, over more than one 1 MiB read chunk.
func testGen() genConfig {
	return genConfig{n: 30, group: 6, reason: true, history: 20, partial: true}
}

func TestNativeRoundTrip(t *testing.T) {
	data := genLines(t, testGen(), 20)
	require.Greater(t, len(data), 2*jsonl.ChunkSize, "the input must span read chunks")
	want := decodeRecords(t, data)
	cfg := withFormat(Native)
	cfg.RowGroupRows, cfg.ParquetShardRows = 5, 23 // several row groups per shard; groups of 6 span shards
	dir, m := runExport(t, cfg, data)

	jl, err := os.ReadFile(filepath.Join(dir, "rollouts.jsonl"))
	require.NoError(t, err)
	assert.Equal(t, data, jl, "rollouts.jsonl must copy the input byte for byte")
	assert.Equal(t, want, readJSONL[rollout.Record](t, filepath.Join(dir, "rollouts.jsonl")))

	rows, shards := readShards[NativeRow](t, dir, "rollouts", len(want), 23)
	require.Len(t, rows, len(want))
	for i := range rows {
		got, err := rows[i].Record()
		require.NoError(t, err, "row %d", i)
		require.Equal(t, want[i], got, "parquet row %d", i)
		assert.Equal(t, len(want[i].Tokens), len(rows[i].TokenLogprobs), "row %d: one old logprob per token", i)
	}
	wantFiles := []FileInfo{{Name: "rollouts.jsonl", Rows: int64(len(want)), Bytes: int64(len(data))}}
	wantFiles = append(wantFiles, shards...)
	assert.Equal(t, wantFiles, dataFiles(m.Files))
	assert.Equal(t, int64(2*len(want)), m.Counts.Rows)
}

// readShards reads every shard of a sharded Parquet output, in order, and
// checks the sharding: names <base>-00000.parquet, ... with no gap, each
// shard full (perShard rows) but the last, which holds the rest; the
// directory holds no other shard. It returns the rows and the FileInfo
// the manifest should list for the shards.
func readShards[T any](t *testing.T, dir, base string, total, perShard int) ([]T, []FileInfo) {
	t.Helper()
	nShards := max(1, (total+perShard-1)/perShard)
	var rows []T
	var infos []FileInfo
	for i := range nShards {
		name := fmt.Sprintf("%s-%05d.parquet", base, i)
		got, err := parquet.ReadFile[T](filepath.Join(dir, name))
		require.NoError(t, err, name)
		wantRows := min(perShard, total-i*perShard)
		require.Len(t, got, wantRows, name)
		rows = append(rows, got...)
		infos = append(infos, FileInfo{Name: name, Rows: int64(wantRows), Bytes: fileSize(t, filepath.Join(dir, name))})
	}
	matches, err := filepath.Glob(filepath.Join(dir, base+"-*.parquet"))
	require.NoError(t, err)
	assert.Len(t, matches, nShards, "shards in the folder")
	return rows, infos
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	require.NoError(t, err)
	return st.Size()
}

// TestNativeColumnsDocumented checks that every JSONL key and every
// Parquet column has an entry in the manifest's field map.
func TestNativeColumnsDocumented(t *testing.T) {
	dir, m := runExport(t, withFormat(Native), genLines(t, testGen(), 1))
	for _, k := range jsonKeys(t, filepath.Join(dir, "rollouts.jsonl")) {
		_, ok := m.Fields[k]
		assert.True(t, ok, "JSONL key %q has no field description", k)
	}
	for _, f := range parquet.SchemaOf(new(NativeRow)).Fields() {
		_, ok := m.Fields[f.Name()]
		assert.True(t, ok, "Parquet column %q has no field description", f.Name())
	}
}

// pairKey identifies a pair by episode and rollouts.
type pairKey struct {
	ep               string
	chosen, rejected int
}

// wantPairs computes the pairs of each group by brute force: best-worst
// takes the highest reward (lowest rollout on ties) and the lowest (highest
// rollout on ties); all takes every ordered pair. Both keep differences
// above margin.
func wantPairs(groups [][]rollout.Record, p Pairing, margin float64) map[pairKey]float64 {
	out := map[pairKey]float64{}
	for _, g := range groups {
		if p == BestWorst {
			b, w := 0, 0
			for i, r := range g {
				if r.ListReward > g[b].ListReward {
					b = i
				}
				if r.ListReward <= g[w].ListReward {
					w = i
				}
			}
			if d := g[b].ListReward - g[w].ListReward; d > margin {
				out[pairKey{g[b].EpisodeID, g[b].Rollout, g[w].Rollout}] = d
			}
			continue
		}
		for _, c := range g {
			for _, r := range g {
				if d := c.ListReward - r.ListReward; d > margin {
					out[pairKey{c.EpisodeID, c.Rollout, r.Rollout}] = d
				}
			}
		}
	}
	return out
}

// checkedPair is one pair row, format-independent.
type checkedPair struct {
	key                  pairKey
	prompt               []Message
	chosen, rejected     string
	margin, rc, rr       float64
	chosenMsg, rejectMsg []Message
}

func TestPreferenceRoundTrip(t *testing.T) {
	data := genLines(t, testGen(), 10)
	recs := decodeRecords(t, data)
	groups := groupsOf(recs)
	byKey := map[pairKey]rollout.Record{}
	for _, r := range recs {
		byKey[pairKey{ep: r.EpisodeID, chosen: r.Rollout}] = r
	}
	for _, f := range []Format{TRLPreference, OpenRLHF} {
		for _, tc := range []struct {
			pairs  Pairing
			margin float64
			mode   Completions
		}{{BestWorst, 0, Full}, {AllPairs, 0.05, Full}, {AllPairs, 0, Ranking}, {BestWorst, 0.9, Ranking}} {
			t.Run(string(f)+"/"+string(tc.pairs)+"/"+string(tc.mode), func(t *testing.T) {
				cfg := withFormat(f)
				cfg.Pairs, cfg.Margin, cfg.Completions = tc.pairs, tc.margin, tc.mode
				dir, m := runExport(t, cfg, data)
				got := readPairs(t, f, filepath.Join(dir, "preference.jsonl"))
				want := wantPairs(groups, tc.pairs, tc.margin)
				assert.Len(t, got, len(want), "pairs")
				assert.Equal(t, int64(len(want)), m.Counts.Pairs)
				assert.Zero(t, m.Counts.Skipped[skipNotReexpressible], "generated completions always re-express")
				for _, p := range got {
					margin, ok := want[p.key]
					require.True(t, ok, "unexpected pair %+v", p.key)
					c := byKey[pairKey{ep: p.key.ep, chosen: p.key.chosen}]
					r := byKey[pairKey{ep: p.key.ep, chosen: p.key.rejected}]
					assert.InDelta(t, margin, p.margin, 1e-15)
					assert.Greater(t, p.margin, tc.margin)
					assert.Equal(t, c.ListReward, p.rc)
					assert.Equal(t, r.ListReward, p.rr)
					checkPairTexts(t, p, c, r, tc.mode)
				}
			})
		}
	}
}

func readPairs(t *testing.T, f Format, path string) []checkedPair {
	var out []checkedPair
	if f == OpenRLHF {
		for _, row := range readJSONL[OpenRLHFRow](t, path) {
			n := len(row.Chosen)
			require.Equal(t, row.Chosen[:n-1], row.Rejected[:len(row.Rejected)-1], "both sides share the prompt")
			out = append(out, checkedPair{key: pairKey{row.EpisodeID, row.ChosenRollout, row.RejectedRollout},
				prompt: row.Chosen[:n-1], chosenMsg: row.Chosen[n-1:], rejectMsg: row.Rejected[len(row.Rejected)-1:],
				margin: row.Margin, rc: row.ChosenReward, rr: row.RejectedReward})
		}
	} else {
		for _, row := range readJSONL[PreferenceRow](t, path) {
			out = append(out, checkedPair{key: pairKey{row.EpisodeID, row.ChosenRollout, row.RejectedRollout},
				prompt: row.Prompt, chosenMsg: row.Chosen, rejectMsg: row.Rejected,
				margin: row.Margin, rc: row.ChosenReward, rr: row.RejectedReward})
		}
	}
	for i := range out {
		p := &out[i]
		require.Equal(t, []Message{{Role: "assistant", Content: p.chosenMsg[0].Content}}, p.chosenMsg)
		require.Equal(t, []Message{{Role: "assistant", Content: p.rejectMsg[0].Content}}, p.rejectMsg)
		p.chosen, p.rejected = p.chosenMsg[0].Content, p.rejectMsg[0].Content
	}
	return out
}

// checkPairTexts checks, through the prompt's text alone, that both
// completions name under the pair's prompt the items their rollouts
// ranked, and earn there the reward they earned under their own prompts.
func checkPairTexts(t *testing.T, p checkedPair, c, r rollout.Record, mode Completions) {
	t.Helper()
	assert.Equal(t, messagesOf(c.Messages), p.prompt, "the prompt is the chosen rollout's")
	items := promptItems(t, p.prompt)
	ep := episodeNumber(t, c.EpisodeID)
	gains := make([]float64, len(items))
	for k, it := range items {
		gains[k-1] = genGain(ep, it)
	}
	named := func(text string) []string {
		var out []string
		for _, m := range bracketID.FindAllStringSubmatch(lastLine(text), -1) {
			out = append(out, items[atoi(t, m[1])])
		}
		return out
	}
	if mode == Full {
		assert.Equal(t, c.Completion, p.chosen)
		g := r.Parse.NGenerated
		assert.Equal(t, r.Permutation[:g], named(p.rejected), "rejected names its generated items, in order")
		if g == len(r.Order) {
			assert.InDelta(t, r.ListReward, pyNDCG(p.rejected, gains, 0), 1e-12, "rejected earns its own reward")
		}
		// The reasoning's "[3]" named the item the rejected prompt showed as [3].
		first := bracketID.FindStringSubmatch(p.rejected)
		require.NotNil(t, first)
		assert.Equal(t, promptItems(t, messagesOf(r.Messages))[3], items[atoi(t, first[1])], "reasoning id rewritten")
		return
	}
	assert.Equal(t, c.Permutation, named(p.chosen))
	assert.Equal(t, r.Permutation, named(p.rejected))
	assert.InDelta(t, c.ListReward, pyNDCG(p.chosen, gains, 0), 1e-12)
	assert.InDelta(t, r.ListReward, pyNDCG(p.rejected, gains, 0), 1e-12)
}

func lastLine(s string) string {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			return s[i+1:]
		}
	}
	return s
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var v int
	require.NoError(t, json.Unmarshal([]byte(s), &v))
	return v
}

func TestKTORoundTrip(t *testing.T) {
	recs := decodeRecords(t, genLines(t, testGen(), 6))
	// Episode 0 ties: every rollout gets the same reward.
	for i := range recs {
		if recs[i].EpisodeID == recs[0].EpisodeID {
			recs[i].ListReward = 0.5
		}
	}
	data := encodeRecords(t, recs)
	cfg := withFormat(TRLKTO)
	cfg.Shuffle = ptr(int64(-1)) // input order; TestShuffle covers the default
	dir, m := runExport(t, cfg, data)
	rows := readJSONL[KTORow](t, filepath.Join(dir, "kto.jsonl"))
	var want []KTORow
	for _, g := range groupsOf(recs) {
		mean := 0.0
		for _, r := range g {
			mean += r.ListReward / float64(len(g))
		}
		for _, r := range g {
			if math.Abs(r.ListReward-mean) > 1e-12 {
				want = append(want, KTORow{Prompt: messagesOf(r.Messages), Completion: []Message{{Role: "assistant", Content: r.Completion}},
					Label: r.ListReward > mean, EpisodeID: r.EpisodeID, Need: r.Need, Rollout: r.Rollout, ListReward: r.ListReward, GroupMean: mean})
			}
		}
	}
	require.Len(t, rows, len(want))
	for i := range want {
		assert.InDelta(t, want[i].GroupMean, rows[i].GroupMean, 1e-12)
		rows[i].GroupMean = want[i].GroupMean
		assert.Equal(t, want[i], rows[i], "row %d", i)
	}
	assert.Equal(t, int64(testGen().group), m.Counts.Skipped[skipTie], "the tied episode's rollouts")
	assert.Contains(t, labels(rows), true)
	assert.Contains(t, labels(rows), false)
}

func labels(rows []KTORow) []bool {
	out := make([]bool, len(rows))
	for i, r := range rows {
		out[i] = r.Label
	}
	return out
}

func encodeRecords(t *testing.T, recs []rollout.Record) []byte {
	t.Helper()
	var b []byte
	for i := range recs {
		line, err := json.Marshal(&recs[i])
		require.NoError(t, err)
		b = append(append(b, line...), '\n')
	}
	return b
}

// checkGroundTruth checks a prompt's gains against the generator's closed
// form, and that the documented reward function scores the first
// rollout's completion under them exactly as package rl did.
func checkGroundTruth(t *testing.T, prompt []Message, gains, variances []float64, k int, first rollout.Record) {
	t.Helper()
	assert.Equal(t, messagesOf(first.Messages), prompt, "the first rollout's prompt")
	items := promptItems(t, prompt)
	require.Len(t, gains, len(items))
	ep := episodeNumber(t, first.EpisodeID)
	for s, it := range items {
		assert.Equal(t, genGain(ep, it), gains[s-1], "gain of [%d] (%s)", s, it)
	}
	assert.Equal(t, make([]float64, len(items)), variances)
	assert.InDelta(t, first.ListReward, pyNDCG(first.Completion, gains, k), 1e-12)
}

func TestGRPORoundTrip(t *testing.T) {
	data := genLines(t, testGen(), 8)
	recs := decodeRecords(t, data)
	dir, m := runExport(t, withFormat(TRLGRPO), data)
	rows := readJSONL[GRPORow](t, filepath.Join(dir, "grpo.jsonl"))
	groups := groupsOf(recs)
	require.Len(t, rows, len(groups))
	for i, row := range rows {
		g := groups[i]
		assert.Equal(t, g[0].EpisodeID, row.EpisodeID)
		assert.Equal(t, g[0].UserID, row.UserID)
		assert.Equal(t, "interest", row.Need)
		assert.Zero(t, row.K)
		checkGroundTruth(t, row.Prompt, row.Gains, row.Variances, row.K, g[0])
		var text GroundTruth
		require.NoError(t, json.Unmarshal([]byte(row.GroundTruthJSON), &text), "row %d: ground_truth is JSON text", i)
		assert.Equal(t, row.GroundTruth, text, "row %d: ground_truth holds the row's gains, variances and k", i)
	}
	assert.Equal(t, int64(len(groups)), m.Counts.Episodes)
}

// TestRewardFunctionMatchesRL checks the documented Python reward function
// (ported) against package rl on every rollout, repaired ones included:
// the ground truth of a record's own prompt reproduces its list reward.
func TestRewardFunctionMatchesRL(t *testing.T) {
	recs := decodeRecords(t, genLines(t, testGen(), 8))
	repaired := 0
	for _, r := range recs {
		gt := groundTruth(&r, 0)
		assert.InDelta(t, r.ListReward, pyNDCG(r.Completion, gt.Gains, 0), 1e-12, "%s rollout %d", r.EpisodeID, r.Rollout)
		if r.Parse.NGenerated < len(r.Order) {
			repaired++
		}
	}
	assert.Positive(t, repaired, "some rollouts must exercise the repair")
}

func TestVerlRoundTrip(t *testing.T) {
	data := genLines(t, testGen(), 8)
	recs := decodeRecords(t, data)
	cfg := withFormat(Verl)
	cfg.Split, cfg.DataSource, cfg.Cutoff, cfg.RowGroupRows, cfg.ParquetShardRows = "test", "flexrec/ml", 10, 3, 3
	dir, m := runExport(t, cfg, data)
	groups := groupsOf(recs)
	rows, shards := readShards[VerlRow](t, dir, "test", len(groups), 3)
	require.Len(t, rows, len(groups))
	require.Len(t, shards, 3, "8 episodes in shards of 3")
	for i, row := range rows {
		g := groups[i]
		assert.Equal(t, "flexrec/ml", row.DataSource)
		assert.Equal(t, "recommendation", row.Ability)
		assert.Equal(t, "rule", row.RewardModel.Style)
		assert.Equal(t, VerlExtra{Split: "test", Index: int64(i), EpisodeID: g[0].EpisodeID, UserID: g[0].UserID, Need: "interest"}, row.ExtraInfo)
		var gt GroundTruth
		require.NoError(t, json.Unmarshal([]byte(row.RewardModel.GroundTruth), &gt))
		assert.Equal(t, 10, gt.K)
		checkGroundTruth(t, row.Prompt, gt.Gains, gt.Variances, 0, g[0])
	}
	assert.Equal(t, shards, dataFiles(m.Files))
	assert.Equal(t, int64(len(groups)), m.Counts.Rows)
}

// TestGroundTruthCutoff checks that the ground truth's k is the records'
// own cutoff by default, and the configured one when set.
func TestGroundTruthCutoff(t *testing.T) {
	var lines bytes.Buffer
	for _, line := range bytes.SplitAfter(genLines(t, testGen(), 2), []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var rec rollout.Record
		require.NoError(t, json.Unmarshal(line, &rec))
		rec.Cutoff = 7
		b, err := json.Marshal(&rec)
		require.NoError(t, err)
		lines.Write(append(b, '\n'))
	}
	for _, tc := range []struct{ cutoff, want int }{{-1, 7}, {3, 3}, {0, 0}} {
		cfg := withFormat(TRLGRPO)
		cfg.Cutoff = tc.cutoff
		dir, _ := runExport(t, cfg, lines.Bytes())
		rows := readJSONL[GRPORow](t, filepath.Join(dir, "grpo.jsonl"))
		require.NotEmpty(t, rows)
		for _, r := range rows {
			assert.Equal(t, tc.want, r.K, "cutoff %d", tc.cutoff)
		}
	}
}

// dataFiles drops the static files (dataset card, reward script).
func dataFiles(files []FileInfo) []FileInfo {
	var out []FileInfo
	for _, f := range files {
		if f.Name != CardName && f.Name != RewardScriptName {
			out = append(out, f)
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }
