package export

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRewardScriptIsThePackages keeps the embedded flexrec_reward.py equal
// to python/flexrec/reward.py, its source.
func TestRewardScriptIsThePackages(t *testing.T) {
	src, err := os.ReadFile("../python/flexrec/reward.py")
	require.NoError(t, err)
	assert.Equal(t, string(src), string(rewardScript),
		"export/flexrec_reward.py differs from python/flexrec/reward.py: cp python/flexrec/reward.py export/flexrec_reward.py")
}

func TestStaticFiles(t *testing.T) {
	data := genLines(t, smallGen(), 4)
	for _, f := range Formats() {
		t.Run(string(f), func(t *testing.T) {
			dir, m := runExport(t, withFormat(f), data)
			names := dirNames(t, dir)
			assert.Contains(t, names, CardName)
			assert.Equal(t, writesRewardScript(f), slices.Contains(names, RewardScriptName), "flexrec_reward.py present")
			var listed []string
			for _, fi := range m.Files {
				listed = append(listed, fi.Name)
			}
			assert.Contains(t, listed, CardName, "the manifest lists the card")
			card, err := os.ReadFile(filepath.Join(dir, CardName))
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(string(card), "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n"), "card front matter:\n%s", card)
			if writesRewardScript(f) {
				script, err := os.ReadFile(filepath.Join(dir, RewardScriptName))
				require.NoError(t, err)
				assert.Equal(t, rewardScript, script)
			}
		})
	}
}

func TestOrphansRemoved(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{".grpo.jsonl.tmp-123", ".kto.jsonl.tmp-spill-9", "keep.txt"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644))
	}
	_, err := Export(context.Background(), withFormat(TRLGRPO), []Input{{Name: "in", R: bytes.NewReader(genLines(t, smallGen(), 2))}}, dir, nil)
	require.NoError(t, err)
	names := dirNames(t, dir)
	assert.Contains(t, names, "keep.txt")
	for _, n := range names {
		assert.NotContains(t, n, ".tmp-", "a killed export's temporary file is removed")
	}
}

func TestShuffle(t *testing.T) {
	data := genLines(t, testGen(), 12)
	order := func(cfg Config, file string) []string {
		dir, _ := runExport(t, cfg, data)
		rows := readJSONL[map[string]any](t, filepath.Join(dir, file))
		var ids []string
		for _, r := range rows {
			ids = append(ids, r["episode_id"].(string)+"/"+toString(r["rollout"])+toString(r["chosen_rollout"])+toString(r["rejected_rollout"]))
		}
		for _, n := range dirNames(t, dir) {
			assert.NotContains(t, n, ".tmp-", "no spill file is left")
		}
		return ids
	}
	kto := withFormat(TRLKTO)
	inOrder := kto
	inOrder.Shuffle = ptr(int64(-1))
	base := order(inOrder, "kto.jsonl")
	def := order(kto, "kto.jsonl")
	assert.NotEqual(t, base, def, "trl-kto is shuffled by default")
	assert.ElementsMatch(t, base, def, "the same rows")
	assert.Equal(t, def, order(kto, "kto.jsonl"), "deterministic")
	other := kto
	other.Shuffle = ptr(int64(7))
	assert.NotEqual(t, def, order(other, "kto.jsonl"), "another seed, another order")

	pref := withFormat(TRLPreference)
	pref.Pairs = AllPairs
	plain := order(pref, "preference.jsonl")
	pref.Shuffle = ptr(int64(3))
	shuffled := order(pref, "preference.jsonl")
	assert.NotEqual(t, plain, shuffled)
	assert.ElementsMatch(t, plain, shuffled)

	bad := withFormat(TRLGRPO)
	bad.Shuffle = ptr(int64(1))
	assert.ErrorContains(t, bad.Validate(), "shuffle applies to")
}

func toString(v any) string {
	if v == nil {
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestValidationSplit(t *testing.T) {
	data := genLines(t, smallGen(), 40)
	episodes := func(path string) []string {
		var ids []string
		for _, r := range readJSONL[map[string]any](t, path) {
			ids = append(ids, r["episode_id"].(string))
		}
		return ids
	}
	cfg := withFormat(TRLGRPO)
	cfg.ValFraction, cfg.ValSeed = 0.25, 5
	dir, m := runExport(t, cfg, data)
	train, val := episodes(filepath.Join(dir, "grpo.jsonl")), episodes(filepath.Join(dir, "grpo.validation.jsonl"))
	assert.Len(t, append(slices.Clone(train), val...), 40)
	assert.NotEmpty(t, val)
	assert.Less(t, len(val), 20)
	assert.Equal(t, int64(len(val)), m.Counts.ValidationEpisodes)
	for _, id := range val {
		assert.NotContains(t, train, id)
	}
	card, err := os.ReadFile(filepath.Join(dir, CardName))
	require.NoError(t, err)
	assert.Contains(t, string(card), "  - split: validation\n    path: \"grpo.validation.jsonl\"\n")

	v := withFormat(Verl)
	v.ValFraction, v.ValSeed = 0.25, 5
	vdir, vm := runExport(t, v, data)
	assert.Equal(t, m.Counts.ValidationEpisodes, vm.Counts.ValidationEpisodes, "the same episodes whatever the format")
	assert.Contains(t, dirNames(t, vdir), "validation-00000.parquet")
	assert.Contains(t, dirNames(t, vdir), "train-00000.parquet")

	bad := withFormat(Verl)
	bad.ValFraction = 1
	assert.Error(t, bad.Validate())
}

func TestLengths(t *testing.T) {
	recs := decodeRecords(t, genLines(t, smallGen(), 10))
	data := encodeRecords(t, recs)
	_, m := runExport(t, withFormat(TRLGRPO), data)
	require.NotNil(t, m.Lengths)
	assert.Equal(t, map[string]string{"prompt": "usage", "completion": "usage"}, m.Lengths.Source)
	assert.Equal(t, int64(1800), m.Lengths.Prompt.Max, "the records' usage counts")
	assert.Empty(t, m.Lengths.Estimate)
	s := m.TrainerSettings
	assert.Equal(t, int64(1856), s.Verl["data.max_prompt_length"], "1800 rounded up to a multiple of 64")
	assert.Equal(t, s.TRL["max_length"], s.OpenRLHF["--data.max_len"])
	assert.GreaterOrEqual(t, s.TRL["max_length"], m.Lengths.Total.Max)

	for i := range recs {
		recs[i].Usage.PromptTokens = 0
	}
	_, m = runExport(t, withFormat(TRLGRPO), encodeRecords(t, recs))
	assert.Equal(t, "estimate", m.Lengths.Source["prompt"])
	assert.Equal(t, "usage", m.Lengths.Source["completion"])
	assert.Equal(t, estimateRule, m.Lengths.Estimate)
	want := estimateTokens(int64(len(recs[0].Messages[0].Content)+len(recs[0].Messages[1].Content)+len(`"role""system""content""role""user""content"`))) + 8
	assert.InDelta(t, want, m.Lengths.Prompt.Max, float64(want)/10, "the estimate is about bytes/3 + 4 per message")
	assert.Contains(t, m.Lengths.Summary(), "data.max_prompt_length=")
}

func TestQuantiles(t *testing.T) {
	var h lengthHist
	for v := int64(1); v <= 100; v++ {
		h.add(v)
	}
	assert.Equal(t, Quantiles{P50: 50, P95: 95, Max: 100}, h.quantiles())
	h.add(1 << 20)
	assert.Equal(t, int64(1<<20), h.quantiles().Max)
}
