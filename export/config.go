package export

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"hash/crc32"
	"math"
	"slices"
	"strings"
)

// Format names an export format. The names are part of the command-line
// contract; see Formats.
type Format string

// Export formats.
const (
	// Native writes the records themselves: rollouts.jsonl (each input line
	// copied byte for byte) and rollouts-00000.parquet, rollouts-00001.parquet,
	// ... (NativeRow; per-token advantages and old logprobs as list
	// columns; see Config.ParquetShardRows).
	Native Format = "native"
	// TRLPreference writes preference.jsonl: TRL's conversational
	// preference format with an explicit prompt (PreferenceRow), for
	// DPOTrainer and RewardTrainer.
	TRLPreference Format = "trl-preference"
	// TRLKTO writes kto.jsonl: TRL's conversational unpaired preference
	// format (KTORow), for KTOTrainer.
	TRLKTO Format = "trl-kto"
	// TRLGRPO writes grpo.jsonl: a conversational prompt-only dataset with
	// the candidates' gains as reward columns (GRPORow), for GRPOTrainer.
	TRLGRPO Format = "trl-grpo"
	// Verl writes <split>-00000.parquet, <split>-00001.parquet, ...: verl's
	// RL dataset layout (VerlRow), the gains carried in
	// reward_model.ground_truth (see Config.ParquetShardRows).
	Verl Format = "verl"
	// OpenRLHF writes preference.jsonl under OpenRLHF's default keys
	// (OpenRLHFRow): chosen and rejected as whole conversations, margin.
	OpenRLHF Format = "openrlhf"
)

// Formats lists every format, in the order the help text shows them.
func Formats() []Format {
	return []Format{Native, TRLPreference, TRLKTO, TRLGRPO, Verl, OpenRLHF}
}

// Pairing says which rollouts of a group become preference pairs.
type Pairing string

// Pairings.
const (
	// BestWorst pairs the group's best rollout (highest list reward) with
	// its worst: at most one pair per episode.
	BestWorst Pairing = "best-worst"
	// AllPairs pairs every two rollouts whose list rewards differ by more
	// than the margin: up to G(G-1)/2 pairs per episode.
	AllPairs Pairing = "all"
)

// Completions says how the two completions of a preference pair are
// written under the chosen rollout's prompt.
type Completions string

// Completion modes.
const (
	// Full keeps both texts as the model wrote them, reasoning included;
	// the rejected text's candidate ids are rewritten into the chosen
	// prompt's ids (each rollout saw its own shuffle). A pair whose rewrite
	// cannot be verified is skipped.
	Full Completions = "full"
	// Ranking writes both as the output contract's single line
	// "[a] > [b] > ..." of their full (repaired) rankings, in the chosen
	// prompt's ids; reasoning is dropped from both, so the pair differs in
	// the ranking only.
	Ranking Completions = "ranking"
)

// InputHash names the hash of the inputs recorded in the manifest.
type InputHash string

// Input hashes.
const (
	// SHA256 is SHA-256: a cryptographic digest, for provenance that must
	// hold against deliberate tampering. It costs about 0.7 ns per byte
	// (1.35 GB/s with SHA-NI): half of a JSONL export's time on one core.
	SHA256 InputHash = "sha256"
	// CRC32C is the CRC-32C (Castagnoli) checksum: it detects accidental
	// changes of an input (any change of up to 32 bits, others with
	// probability 1 - 2^-32, beside the byte and line counts) but not
	// deliberate ones, at 20 GB/s with SSE4.2.
	CRC32C InputHash = "crc32c"
)

// Config controls an export. The zero value is not valid; start from
// DefaultConfig.
type Config struct {
	// Format is the output format. Default Native.
	Format Format
	// Pairs selects preference pairs (trl-preference, openrlhf). Default
	// BestWorst.
	Pairs Pairing
	// Margin is the list-reward difference a pair must exceed (strictly),
	// >= 0. Default 0: any strict preference; equal rewards never pair.
	Margin float64
	// Completions is how pair texts are written. Default Full.
	Completions Completions
	// Cutoff is the NDCG cutoff written into the ground truth (k) of
	// trl-grpo and verl rows; 0 means the whole list, and -1 (the default)
	// takes each record's own cutoff, the one its rewards were scored with.
	Cutoff int
	// Parquet makes the native format also write the rollouts-NNNNN.parquet
	// shards. Default true.
	Parquet bool
	// RowGroupRows is the most rows per Parquet row group: what a Parquet
	// writer holds in memory. Default 1024; must be >= 1.
	RowGroupRows int
	// ParquetShardRows is the most rows per Parquet file: a Parquet output
	// is split into shards <base>-00000.parquet, <base>-00001.parquet, ...
	// (five-digit 0-based index; more digits past 99,999 shards), each of
	// at most this many rows, because a Parquet writer keeps every row
	// group's footer metadata (about 50 bytes per native row) until its
	// file is closed. Memory grows with it, not with the input. Each
	// finished shard keeps one open temporary file until the export ends.
	// Default 100,000; must be >= 1.
	ParquetShardRows int
	// DataSource is verl's data_source column. Default "flexrec".
	DataSource string
	// Ability is verl's ability column. Default "recommendation".
	Ability string
	// Split is verl's extra_info.split and names its shards
	// (<split>-NNNNN.parquet). Default "train".
	Split string
	// InputHash is the hash of every input recorded in the manifest.
	// Default SHA256.
	InputHash InputHash
	// SkipInvalid skips malformed lines and groups holding an inconsistent
	// record (counted in the manifest) instead of failing on the first.
	// Default false.
	SkipInvalid bool
	// Shuffle orders the rows of trl-kto, trl-preference and openrlhf: nil
	// means the format's default (trl-kto: shuffled with seed
	// DefaultShuffleSeed, since KTO's KL term pairs each example with the
	// others of its batch and a file in episode order gives batches of one
	// episode; the pair formats: input order); a value >= 0 shuffles the
	// rows with that seed (PCG), so episodes interleave; -1 keeps the input
	// order. Shuffling spills the rows to a temporary file in the output
	// folder and holds 16 bytes per row in memory. Other formats: must be
	// nil.
	Shuffle *int64
	// ValFraction is the share of episodes, in [0, 1), written to a
	// validation split beside the train split (verl's data.val_files):
	// validation-NNNNN.parquet for verl, NAME.validation.jsonl and
	// rollouts.validation-NNNNN.parquet otherwise. An episode's split is a
	// seeded hash of its id (ValSeed). Default 0: no validation split.
	ValFraction float64
	// ValSeed seeds the validation split. Default 0.
	ValSeed int64

	suffix string // the split's file-name infix: "" or ".validation"
}

// DefaultShuffleSeed is the seed trl-kto rows are shuffled with when
// Config.Shuffle is nil.
const DefaultShuffleSeed = 0

// shuffleSeed returns the seed the rows are shuffled with, or -1 for none.
func (c Config) shuffleSeed() int64 {
	switch {
	case c.Shuffle != nil:
		return *c.Shuffle
	case c.Format == TRLKTO:
		return DefaultShuffleSeed
	}
	return -1
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		Format: Native, Pairs: BestWorst, Completions: Full, Cutoff: -1,
		Parquet: true, RowGroupRows: 1024, ParquetShardRows: 100_000,
		DataSource: "flexrec", Ability: "recommendation", Split: "train", InputHash: SHA256,
	}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case !slices.Contains(Formats(), c.Format):
		return fmt.Errorf("export: unknown format %q (one of %s)", c.Format, joinFormats())
	case c.Pairs != BestWorst && c.Pairs != AllPairs:
		return fmt.Errorf("export: unknown pairing %q (best-worst or all)", c.Pairs)
	case !(c.Margin >= 0) || math.IsInf(c.Margin, 1):
		return fmt.Errorf("export: margin %v, want a finite number >= 0", c.Margin)
	case c.Completions != Full && c.Completions != Ranking:
		return fmt.Errorf("export: unknown completions mode %q (full or ranking)", c.Completions)
	case c.Cutoff < -1:
		return fmt.Errorf("export: cutoff %d, want >= 0, or -1 for the records' own", c.Cutoff)
	case c.RowGroupRows < 1:
		return fmt.Errorf("export: row group rows %d, want >= 1", c.RowGroupRows)
	case c.ParquetShardRows < 1:
		return fmt.Errorf("export: parquet shard rows %d, want >= 1", c.ParquetShardRows)
	case c.InputHash != SHA256 && c.InputHash != CRC32C:
		return fmt.Errorf("export: unknown input hash %q (sha256 or crc32c)", c.InputHash)
	case c.Format == Verl && !validFileName(c.Split):
		return fmt.Errorf("export: split %q, want a plain file name", c.Split)
	case c.Shuffle != nil && *c.Shuffle < -1:
		return fmt.Errorf("export: shuffle seed %d, want >= 0, or -1 for input order", *c.Shuffle)
	case c.Shuffle != nil && c.Format != TRLKTO && !c.pairs():
		return fmt.Errorf("export: shuffle applies to trl-kto, trl-preference and openrlhf, not %s", c.Format)
	case !(c.ValFraction >= 0 && c.ValFraction < 1):
		return fmt.Errorf("export: validation fraction %v, want 0 <= f < 1", c.ValFraction)
	case c.ValFraction > 0 && c.Format == Verl && c.Split == ValidationSplit:
		return fmt.Errorf("export: split %q is the validation split's name; pick another train split name", c.Split)
	}
	return nil
}

// newHash returns a fresh hash of kind h.
func (h InputHash) newHash() hash.Hash {
	if h == CRC32C {
		return crc32.New(crc32.MakeTable(crc32.Castagnoli))
	}
	return sha256.New()
}

// pairs reports whether the format builds preference pairs.
func (c Config) pairs() bool { return c.Format == TRLPreference || c.Format == OpenRLHF }

func joinFormats() string {
	names := make([]string, 0, len(Formats()))
	for _, f := range Formats() {
		names = append(names, string(f))
	}
	return strings.Join(names, ", ")
}

func validFileName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, `/\`) && !strings.HasPrefix(s, ".")
}
