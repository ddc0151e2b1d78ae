package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flexrec/flexrec/export"
	"github.com/flexrec/flexrec/internal/folderlock"
)

type exportOptions struct {
	in          []string
	out         string
	format      string
	pairs       string
	completions string
	inputHash   string
	shuffle     int64
	flags       *pflag.FlagSet // to tell a given --shuffle from its default
	cfg         export.Config  // the other flags write straight into it
}

func newExportCmd(s io3) *cobra.Command {
	o := &exportOptions{cfg: export.DefaultConfig()}
	c := &cobra.Command{
		Use:   "export",
		Short: "Turn rollouts into training data for TRL, verl, OpenRLHF or a custom trainer",
		Long: `Read the rollouts of 'flexrec rollout' (JSON Lines, one record per rollout,
each episode's G records together) and write training data that a trainer
loads as is, with a manifest.json (counts, configuration, seeds, SHA-256 of
the inputs (or CRC-32C, --input-hash crc32c), flexrec version, schema version, the meaning of every column).

Formats (--format):
  native          rollouts.jsonl (the records, copied) and rollouts-00000.parquet, ...
                  (per-token advantages and old logprobs as list columns)
  trl-preference  preference.jsonl: prompt/chosen/rejected/margin (DPO, reward model)
  trl-kto         kto.jsonl: prompt/completion/label (KTO)
  trl-grpo        grpo.jsonl: prompts with the candidates' gains (GRPO reward function)
  verl            <split>-00000.parquet, ...: data_source/prompt/ability/reward_model/extra_info
  openrlhf        preference.jsonl: chosen/rejected conversations and margin

Preference pairs are built within an episode: the best rollout against the
worst (--pairs best-worst) or every pair whose list rewards differ by more
than --margin (--pairs all). Each rollout saw its own shuffle of the
candidates, so the rejected text is re-expressed in the chosen prompt's ids
(--completions full), or both become the ranking line (--completions ranking).

Parquet outputs are split into shards of at most --parquet-shard-rows rows
(<name>-00000.parquet, <name>-00001.parquet, ...; all listed in the manifest),
so memory stays flat whatever the input size. Files are written under temporary
names and renamed when complete; manifest.json comes last, so a folder
without one holds no finished export; temporary files a killed export left
are removed when the next one starts. A bad line stops the export with its
file and line, unless --skip-invalid.

Every folder also gets a Hugging Face dataset card (README.md, whose configs
name each split's files, so datasets.load_dataset(folder) reads them), and
trl-grpo and verl folders get flexrec_reward.py, the reward function TRL and
verl load as is (it calls 'flexrec serve'). --val-fraction F writes a seeded
validation split beside the train split (verl: validation-NNNNN.parquet;
others: NAME.validation.jsonl). --shuffle SEED orders the rows of trl-kto
and the pair formats at random, interleaving episodes (trl-kto: on by
default with seed 0, since KTO's KL term pairs each row with the rest of
its batch; -1 keeps the input order).

A summary goes to stdout: the files, the counts, and the prompt and
completion token lengths (p50/p95/max, from the records' usage counts or
an estimate) with the length settings they imply for TRL, verl and OpenRLHF;
manifest.json holds the same.

Examples:
  flexrec export --in rollouts.jsonl --format native --out data/native
  flexrec export --in rollouts.jsonl --format trl-preference --pairs all --margin 0.05 --out data/dpo
  flexrec export --in a.jsonl --in b.jsonl --format verl --split train --out data/verl
  flexrec export --in rollouts.jsonl --format trl-grpo --cutoff 10 --out data/grpo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runExport(cmd.Context(), o, s) },
	}
	o.addFlags(c.Flags())
	return c
}

func (o *exportOptions) addFlags(f *pflag.FlagSet) {
	c := &o.cfg
	o.flags = f
	f.StringArrayVar(&o.in, "in", nil, "rollouts JSONL file, repeatable, read in order; - reads stdin (required)")
	f.StringVar(&o.out, "out", "", "output folder, created if missing (required)")
	f.StringVar(&o.format, "format", string(c.Format), "native, trl-preference, trl-kto, trl-grpo, verl or openrlhf")
	f.StringVar(&o.pairs, "pairs", string(c.Pairs), "preference pairs: best-worst or all")
	f.Float64Var(&c.Margin, "margin", c.Margin, "a pair's list rewards must differ by more than this (>= 0)")
	f.StringVar(&o.completions, "completions", string(c.Completions), "pair texts: full (rejected ids rewritten) or ranking (ranking lines only)")
	f.IntVar(&c.Cutoff, "cutoff", c.Cutoff, "NDCG cutoff written into trl-grpo and verl ground truth (0: whole list; -1: each record's own)")
	f.BoolVar(&c.Parquet, "parquet", c.Parquet, "native: also write the rollouts-NNNNN.parquet shards")
	f.IntVar(&c.RowGroupRows, "row-group-rows", c.RowGroupRows, "Parquet rows per row group (memory per file)")
	f.IntVar(&c.ParquetShardRows, "parquet-shard-rows", c.ParquetShardRows, "most rows per Parquet file (shard); memory grows with it")
	f.StringVar(&c.DataSource, "data-source", c.DataSource, "verl: the data_source column")
	f.StringVar(&c.Ability, "ability", c.Ability, "verl: the ability column")
	f.StringVar(&c.Split, "split", c.Split, "verl: extra_info.split and the file names <split>-NNNNN.parquet")
	f.StringVar(&o.inputHash, "input-hash", string(c.InputHash), "hash of the inputs in the manifest: sha256 (tamper-evident) or crc32c (accidental changes only; twice the JSONL speed on one core)")
	f.BoolVar(&c.SkipInvalid, "skip-invalid", false, "skip and count bad lines and groups instead of failing")
	f.Int64Var(&o.shuffle, "shuffle", -1, "trl-kto, trl-preference, openrlhf: shuffle the rows with this seed (-1: input order; trl-kto shuffles with seed 0 unless given)")
	f.Float64Var(&c.ValFraction, "val-fraction", c.ValFraction, "share of episodes written to a validation split, 0 <= F < 1")
	f.Int64Var(&c.ValSeed, "val-seed", c.ValSeed, "seed of the validation split")
}

// config turns the flags into a validated export.Config.
func (o *exportOptions) config() (export.Config, error) {
	cfg := o.cfg
	cfg.Format, cfg.Pairs, cfg.Completions = export.Format(o.format), export.Pairing(o.pairs), export.Completions(o.completions)
	cfg.InputHash = export.InputHash(o.inputHash)
	if o.flags != nil && o.flags.Changed("shuffle") {
		cfg.Shuffle = &o.shuffle
	}
	if len(o.in) == 0 || o.out == "" {
		return cfg, usagef("--in and --out are required")
	}
	if err := cfg.Validate(); err != nil {
		return cfg, usagef("%v", err)
	}
	return cfg, nil
}

func runExport(ctx context.Context, o *exportOptions, s io3) error {
	cfg, err := o.config()
	if err != nil {
		return err
	}
	inputs, closeAll, err := openInputs(o.in, s.in)
	if err != nil {
		return err
	}
	defer closeAll()
	lock, err := folderlock.Acquire(o.out) // one export per folder
	if err != nil {
		return err
	}
	defer func() { _ = lock.Release() }() // the process's exit releases it too
	log := slog.New(slog.NewTextHandler(s.err, nil))
	m, err := export.Export(ctx, cfg, inputs, o.out, log)
	if err != nil {
		return err
	}
	printExportSummary(s.out, o.out, m)
	return nil
}

// openInputs opens the --in files ("-" is stdin, at most once).
func openInputs(paths []string, stdin io.Reader) ([]export.Input, func(), error) {
	var files []*os.File
	closeAll := func() {
		for _, f := range files {
			f.Close() // read-only: nothing to lose
		}
	}
	inputs := make([]export.Input, 0, len(paths))
	for _, p := range paths {
		if p == "-" {
			if slices.ContainsFunc(inputs, func(in export.Input) bool { return in.Name == "stdin" }) {
				closeAll()
				return nil, nil, usagef("--in -: stdin can be read once")
			}
			inputs = append(inputs, export.Input{Name: "stdin", R: stdin})
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("export: %w", err)
		}
		files = append(files, f)
		inputs = append(inputs, export.Input{Name: p, R: f})
	}
	return inputs, closeAll, nil
}

func printExportSummary(w io.Writer, dir string, m *export.Manifest) {
	for _, f := range m.Files {
		fmt.Fprintf(w, "wrote %s (%d rows, %d bytes)\n", filepath.Join(dir, f.Name), f.Rows, f.Bytes)
	}
	fmt.Fprintf(w, "wrote %s\n", filepath.Join(dir, export.ManifestName))
	c := m.Counts
	fmt.Fprintf(w, "%d records, %d episodes exported, %d rows", c.Records, c.Episodes, c.Rows)
	if m.Format == export.TRLPreference || m.Format == export.OpenRLHF {
		fmt.Fprintf(w, ", %d pairs", c.Pairs)
	}
	if len(c.Skipped) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(c.Skipped)) {
			parts = append(parts, fmt.Sprintf("%s=%d", k, c.Skipped[k]))
		}
		fmt.Fprintf(w, "; skipped %s", strings.Join(parts, " "))
	}
	if c.ValidationEpisodes > 0 {
		fmt.Fprintf(w, "; %d episodes in the validation split", c.ValidationEpisodes)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, m.Lengths.Summary())
}
