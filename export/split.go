package export

import (
	"encoding/binary"
	"hash/fnv"
	"maps"
	"slices"
)

// ValidationSplit names the validation split: its verl shards
// (validation-NNNNN.parquet, extra_info.split) and, as the ".validation"
// infix, the other formats' files (kto.validation.jsonl, ...).
const ValidationSplit = "validation"

// split is one output split: its dataset-card name and its file-name
// infix.
type split struct{ name, suffix string }

// splitsOf lists the splits cfg writes: train, and validation when
// cfg.ValFraction > 0.
func splitsOf(cfg Config) []split {
	s := []split{{name: "train"}}
	if cfg.ValFraction > 0 {
		s = append(s, split{name: ValidationSplit, suffix: "." + ValidationSplit})
	}
	return s
}

// verlName is the verl shard base name of the split.
func (sp split) verlName(cfg Config) string {
	if sp.suffix == "" {
		return cfg.Split
	}
	return ValidationSplit
}

// jsonlName is the JSON Lines file of a format (native: the records) for
// a split's infix.
func jsonlName(f Format, suffix string) string {
	base := map[Format]string{Native: "rollouts", TRLPreference: "preference", OpenRLHF: "preference",
		TRLKTO: "kto", TRLGRPO: "grpo", Verl: "verl"}[f]
	return base + suffix + ".jsonl"
}

// splitWriter sends each episode to the train or the validation writer,
// by a seeded hash of its id: the same episodes land in the validation
// split whatever the input order, the format or the other episodes.
type splitWriter struct {
	train, val formatWriter
	frac       float64
	seed       int64
	st         *stats
}

func newSplitWriter(cfg Config, dir string, create createFunc, st *stats) (*splitWriter, error) {
	train, err := newOneWriter(cfg, dir, create, st)
	if err != nil {
		return nil, err
	}
	vcfg := cfg
	vcfg.suffix, vcfg.Split = "."+ValidationSplit, ValidationSplit
	val, err := newOneWriter(vcfg, dir, create, st)
	if err != nil {
		abortAll(train.outputs())
		return nil, err
	}
	return &splitWriter{train: train, val: val, frac: cfg.ValFraction, seed: cfg.ValSeed, st: st}, nil
}

func (w *splitWriter) group(g *group) error {
	if !inValidation(w.seed, g.id, w.frac) {
		return w.train.group(g)
	}
	if err := w.val.group(g); err != nil {
		return err
	}
	w.st.valEpisodes++
	return nil
}

func (w *splitWriter) outputs() []output { return append(w.train.outputs(), w.val.outputs()...) }

// inValidation reports whether the episode goes to the validation split:
// the FNV-1a hash of the seed and the episode id, mixed by SplitMix64's
// finaliser (FNV's high bits barely move when ids differ in their last
// bytes) and read as a number in [0, 1), is below frac.
func inValidation(seed int64, episodeID []byte, frac float64) bool {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(seed))
	h.Write(b[:]) // hash.Hash writes never fail
	h.Write(episodeID)
	z := h.Sum64()
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11)/(1<<53) < frac
}

// withExtras adds the folder's static files to the data outputs: the
// dataset card, and flexrec_reward.py for trl-grpo and verl.
func withExtras(cfg Config, dir string, create createFunc, m *Manifest, outs []output) ([]output, error) {
	rows := int64(0)
	for _, o := range outs {
		rows += o.fileInfo().Rows
	}
	mc := *m
	mc.Counts.Rows = rows
	if writesRewardScript(cfg.Format) {
		o, err := staticFile(create, dir, RewardScriptName, rewardScript, 0)
		if err != nil {
			return outs, err
		}
		outs = append(outs, o)
	}
	o, err := staticFile(create, dir, CardName, card(cfg, &mc), 0)
	if err != nil {
		return outs, err
	}
	return append(outs, o), nil
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
