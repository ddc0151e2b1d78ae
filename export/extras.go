package export

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// RewardScriptName is the reward function file written beside the
// trl-grpo and verl rows.
const RewardScriptName = "flexrec_reward.py"

// CardName is the Hugging Face dataset card written into every export.
const CardName = "README.md"

// rewardScript is python/flexrec/reward.py, copied here because go:embed
// cannot reach outside the package (TestRewardScriptIsThePackages keeps
// the two equal): a standalone file whose ndcg_reward (TRL) and
// compute_score / compute_score_batch (verl) call `flexrec serve`.
//
//go:embed flexrec_reward.py
var rewardScript []byte

// RewardScript returns the content of flexrec_reward.py.
func RewardScript() []byte { return append([]byte(nil), rewardScript...) }

// writesRewardScript reports whether the format's folder gets
// flexrec_reward.py.
func writesRewardScript(f Format) bool { return f == TRLGRPO || f == Verl }

// staticFile is an output whose bytes are known in full.
func staticFile(create createFunc, dir, name string, data []byte, rows int64) (output, error) {
	o, err := openOut(create, dir, name)
	if err != nil {
		return nil, err
	}
	if _, err := o.w.Write(data); err != nil {
		o.abort()
		return nil, fmt.Errorf("export: write %s: %w", name, err)
	}
	o.info.Rows = rows
	return o, nil
}

// removeOrphans deletes the temporary files a killed export left in dir:
// hidden files named ".NAME.tmp-*" (atomicfile's and the shuffle's spill
// files). A live export in the same folder would lose its files too; the
// job's folder lock keeps two writers out.
func removeOrphans(dir string) error {
	matches, err := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	for _, m := range matches {
		if err := os.Remove(m); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("export: remove a killed export's temporary file: %w", err)
		}
	}
	return nil
}

// card returns the folder's Hugging Face dataset card: YAML front matter
// whose configs name the data files of each split, so that
// datasets.load_dataset(folder) reads the right files, then what the
// folder holds.
func card(cfg Config, m *Manifest) []byte {
	var b strings.Builder
	b.WriteString("---\nconfigs:\n- config_name: default\n  data_files:\n")
	for _, sp := range splitsOf(cfg) {
		fmt.Fprintf(&b, "  - split: %s\n    path: %q\n", sp.name, dataGlob(cfg, sp))
	}
	b.WriteString("tags:\n- recommendation\n- flexrec\n---\n\n")
	fmt.Fprintf(&b, "# flexrec export: %s\n\n", cfg.Format)
	fmt.Fprintf(&b, "Written by flexrec %s from %d rollouts of %d episodes (%d rows). ",
		m.FlexrecVersion, m.Counts.Rollouts, m.Counts.Episodes, m.Counts.Rows)
	b.WriteString("`manifest.json` lists every file, the settings, the columns and the token lengths.\n\n")
	b.WriteString("```python\nfrom datasets import load_dataset\nds = load_dataset(\"path/to/this/folder\")\n```\n")
	if m.Lengths != nil {
		fmt.Fprintf(&b, "\nToken lengths and trainer limits: %s.\n", m.Lengths.Summary())
	}
	if writesRewardScript(cfg.Format) {
		b.WriteString("\n`" + RewardScriptName + "` is the reward function (TRL: `ndcg_reward`; verl: `compute_score`, " +
			"or `compute_score_batch` with `reward_manager.name=batch`). It calls `flexrec serve` " +
			"(at `FLEXREC_REWARD_URL`, else a child process of the `flexrec` binary on `PATH` or at `FLEXREC_BIN`).\n")
	}
	b.WriteString("\nColumns:\n\n")
	for _, k := range sortedKeys(m.Fields) {
		fmt.Fprintf(&b, "- `%s`: %s\n", k, m.Fields[k])
	}
	return []byte(b.String())
}

// dataGlob is the data files of one split, as the card names them.
func dataGlob(cfg Config, sp split) string {
	switch cfg.Format {
	case Native:
		if cfg.Parquet {
			return "rollouts" + sp.suffix + "-*.parquet"
		}
		return "rollouts" + sp.suffix + ".jsonl"
	case Verl:
		return sp.verlName(cfg) + "-*.parquet"
	}
	return jsonlName(cfg.Format, sp.suffix)
}
