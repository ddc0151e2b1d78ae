package export

import (
	"maps"
	"math"
	"runtime/debug"
	"strconv"

	"github.com/flexrec/flexrec/rollout"
)

// SchemaVersion is the version of the export layouts (the row types and
// the manifest); it changes when a column changes meaning or goes away.
const SchemaVersion = 1

// ManifestName is the manifest's file name in an export folder. It is
// written last: a folder without it holds no finished export.
const ManifestName = "manifest.json"

// baseVersion is flexrec's version when the build carries none.
const baseVersion = "0.1.0-dev"

// Version returns flexrec's version: the main module's version from the
// build information when it has one, else baseVersion, followed by
// "+<revision>" (12 hex digits) when the build recorded its VCS revision.
func Version() string {
	v := baseVersion
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if mv := bi.Main.Version; mv != "" && mv != "(devel)" {
		v = mv
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += "+" + s.Value[:12]
		}
	}
	return v
}

// Manifest describes one export; it is written as manifest.json beside the
// files. It holds no wall-clock time: the same inputs and configuration
// give a byte-identical export.
type Manifest struct {
	// SchemaVersion is SchemaVersion; RecordSchemaVersion the
	// rollout.SchemaVersion of the records read.
	SchemaVersion       int `json:"schema_version"`
	RecordSchemaVersion int `json:"record_schema_version"`
	// FlexrecVersion is Version() of the program that wrote the export.
	FlexrecVersion string `json:"flexrec_version"`
	// Format is the export format.
	Format Format `json:"format"`
	// Config is the configuration that shaped the rows.
	Config ManifestConfig `json:"config"`
	// Inputs are the rollouts files read, in order.
	Inputs []InputInfo `json:"inputs"`
	// Files are the files written, in the folder.
	Files []FileInfo `json:"files"`
	// Counts counts what was read, written and skipped.
	Counts Counts `json:"counts"`
	// Seeds summarises the rollouts' seeds.
	Seeds Seeds `json:"seeds"`
	// RewardSwitches counts the exported rollouts by the method switches
	// their rewards and advantages were computed with (the records'
	// reward_switches); one key when the input came from one run.
	RewardSwitches map[string]int64 `json:"reward_switches,omitempty"`
	// Lengths are the token lengths of the exported rollouts (prompt,
	// completion, both), from usage counts or an estimate; null when
	// nothing was exported.
	Lengths *Lengths `json:"lengths"`
	// TrainerSettings are the TRL, verl and OpenRLHF length limits under
	// which no row is dropped or cut; null when nothing was exported.
	TrainerSettings *TrainerSettings `json:"trainer_settings"`
	// Fields maps each column of the format's rows to its meaning.
	Fields map[string]string `json:"fields"`
	// SkipReasons maps each reason in Counts.Skipped to its meaning and
	// unit.
	SkipReasons map[string]string `json:"skip_reasons"`
}

// ManifestConfig is the part of Config that shapes the rows; fields that
// do not apply to the format are omitted.
type ManifestConfig struct {
	// Pairs, Margin and Completions are Config's (preference formats).
	Pairs       Pairing     `json:"pairs,omitempty"`
	Margin      *float64    `json:"margin,omitempty"`
	Completions Completions `json:"completions,omitempty"`
	// Cutoff is Config.Cutoff (trl-grpo, verl).
	Cutoff *int `json:"cutoff,omitempty"`
	// Parquet is Config.Parquet (native).
	Parquet *bool `json:"parquet,omitempty"`
	// RowGroup is Config.RowGroupRows and ShardRows
	// Config.ParquetShardRows (formats writing Parquet).
	RowGroup  int `json:"row_group_rows,omitempty"`
	ShardRows int `json:"parquet_shard_rows,omitempty"`
	// DataSource, Ability and Split are Config's (verl).
	DataSource string `json:"data_source,omitempty"`
	Ability    string `json:"ability,omitempty"`
	Split      string `json:"split,omitempty"`
	// InputHash is Config.InputHash.
	InputHash InputHash `json:"input_hash"`
	// SkipInvalid is Config.SkipInvalid.
	SkipInvalid bool `json:"skip_invalid"`
}

// InputInfo identifies one input.
type InputInfo struct {
	// Name is Input.Name.
	Name string `json:"name"`
	// SHA256 is the hex SHA-256 of the input's bytes (Config.InputHash
	// SHA256, the default); CRC32C the hex CRC-32C, 8 digits, big-endian
	// (InputHash CRC32C). The other is omitted.
	SHA256 string `json:"sha256,omitempty"`
	CRC32C string `json:"crc32c,omitempty"`
	// Bytes is its size; Lines its number of lines.
	Bytes int64 `json:"bytes"`
	Lines int   `json:"lines"`
}

// Counts counts one export.
type Counts struct {
	// Lines is the number of non-blank input lines; Records those whose
	// header read (each is one rollout).
	Lines   int64 `json:"lines"`
	Records int64 `json:"records"`
	// Episodes is the number of complete groups exported;
	// ValidationEpisodes how many of them went to the validation split
	// (Config.ValFraction).
	Episodes           int64 `json:"episodes"`
	ValidationEpisodes int64 `json:"validation_episodes"`
	// Rollouts is the number of records in those groups.
	Rollouts int64 `json:"rollouts"`
	// Pairs is the number of preference pairs written (preference formats).
	Pairs int64 `json:"pairs"`
	// Rows is the number of rows written, over all files.
	Rows int64 `json:"rows"`
	// Skipped counts what was left out, by reason (see
	// Manifest.SkipReasons); reasons that did not occur are absent.
	Skipped map[string]int64 `json:"skipped"`
}

// Seeds summarises the seeds of the exported rollouts (each rollout's
// candidate shuffle and sampling seed). The export itself draws nothing
// at random.
type Seeds struct {
	// Min and Max bound the seeds; both 0 when nothing was exported.
	Min int64 `json:"min"`
	Max int64 `json:"max"`
}

// Skip reasons.
const (
	skipMalformed        = "malformed_line"
	skipSchema           = "schema_version"
	skipIncomplete       = "incomplete_group"
	skipInvalidGroup     = "invalid_record_group"
	skipNoPair           = "no_pair"
	skipNotReexpressible = "not_reexpressible"
	skipTie              = "tie"
)

var skipReasons = map[string]string{
	skipMalformed:        "lines that are not one JSON object with the header fields (with skip_invalid); unit: lines",
	skipSchema:           "lines of another record schema_version (with skip_invalid); unit: lines",
	skipIncomplete:       "records of episodes whose contiguous records are not exactly rollouts 0..G-1 of a group of G; unit: records",
	skipInvalidGroup:     "records of episodes holding a record that does not decode or is inconsistent (with skip_invalid); unit: records",
	skipNoPair:           "episodes whose best and worst list rewards differ by no more than the margin; unit: episodes",
	skipNotReexpressible: "pairs whose rejected text could not be rewritten faithfully into the chosen prompt's ids (completions=full); unit: pairs",
	skipTie:              "rollouts whose list reward equals their group's mean (trl-kto); unit: rollouts",
}

// stats accumulates Counts and Seeds during an export.
type stats struct {
	lines, records, episodes, rollouts, pairs int64
	skipped                                   map[string]int64
	seedMin, seedMax                          int64
	lengths                                   lengthStats
	valEpisodes                               int64
	switches                                  map[string]int64
}

func newStats() *stats {
	return &stats{skipped: map[string]int64{}, seedMin: math.MaxInt64, seedMax: math.MinInt64}
}

func (s *stats) skip(reason string, n int) {
	if n > 0 {
		s.skipped[reason] += int64(n)
	}
}

func (s *stats) exported(g *group) {
	s.episodes++
	s.rollouts += int64(g.size())
	for i := range g.heads {
		h := &g.heads[i]
		s.seedMin, s.seedMax = min(s.seedMin, h.seed), max(s.seedMax, h.seed)
		s.lengths.add(h)
		if len(h.switches) > 0 {
			if s.switches == nil {
				s.switches = map[string]int64{}
			}
			s.switches[string(h.switches)]++
		}
	}
}

func (s *stats) seeds() Seeds {
	if s.rollouts == 0 {
		return Seeds{}
	}
	return Seeds{Min: s.seedMin, Max: s.seedMax}
}

func manifestConfig(c Config) ManifestConfig {
	m := ManifestConfig{SkipInvalid: c.SkipInvalid, InputHash: c.InputHash}
	switch c.Format {
	case Native:
		m.Parquet = &c.Parquet
		if c.Parquet {
			m.RowGroup, m.ShardRows = c.RowGroupRows, c.ParquetShardRows
		}
	case TRLPreference, OpenRLHF:
		m.Pairs, m.Margin, m.Completions = c.Pairs, &c.Margin, c.Completions
	case TRLGRPO:
		m.Cutoff = &c.Cutoff
	case Verl:
		m.Cutoff, m.RowGroup, m.ShardRows = &c.Cutoff, c.RowGroupRows, c.ParquetShardRows
		m.DataSource, m.Ability, m.Split = c.DataSource, c.Ability, c.Split
	}
	return m
}

// parquetMeta is the key-value metadata of every Parquet file.
func parquetMeta(c Config) [][2]string {
	return [][2]string{
		{"flexrec.format", string(c.Format)},
		{"flexrec.schema_version", strconv.Itoa(SchemaVersion)},
		{"flexrec.record_schema_version", strconv.Itoa(rollout.SchemaVersion)},
		{"flexrec.version", Version()},
	}
}

// Fields returns the meaning of every column of the format's rows; the
// manifest carries it.
func Fields(f Format) map[string]string {
	switch f {
	case Native:
		return maps.Clone(nativeFields)
	case TRLPreference:
		return withMeta(map[string]string{
			"prompt":   "the chosen rollout's prompt: [{role: system}, {role: user}]",
			"chosen":   "[{role: assistant, content}]: the chosen (higher-reward) completion",
			"rejected": "[{role: assistant, content}]: the rejected completion, its candidate ids rewritten into the prompt's ids (completions=full) or both sides as the ranking line (completions=ranking)",
			"margin":   "chosen_reward - rejected_reward (> the margin); TRL RewardTrainer's margin loss reads it",
		})
	case OpenRLHF:
		return withMeta(map[string]string{
			"chosen":   "the chosen prompt's messages followed by {role: assistant} with the chosen completion (OpenRLHF --chosen_key chosen, no --prompt_key, --apply_chat_template)",
			"rejected": "the same prompt followed by {role: assistant} with the rejected completion, re-expressed as in trl-preference",
			"margin":   "chosen_reward - rejected_reward (> the margin); OpenRLHF's reward model margin loss reads it",
		})
	case TRLKTO:
		return map[string]string{
			"prompt":      "the rollout's own prompt: [{role: system}, {role: user}]",
			"completion":  "[{role: assistant, content}]: the rollout's completion as written",
			"label":       "true when list_reward > group_mean (desirable), false when below; ties are not written",
			"episode_id":  "the episode's id",
			"need":        "the episode's need id",
			"rollout":     "the rollout's index in its group",
			"list_reward": "the rollout's list reward: NDCG of its ranking under the need's gains",
			"group_mean":  "the mean list reward of the rollout's group",
		}
	case TRLGRPO:
		return maps.Clone(grpoFields)
	case Verl:
		return maps.Clone(verlFields)
	}
	return nil
}

func withMeta(m map[string]string) map[string]string {
	m["chosen_rollout"] = "the chosen rollout's index in its group"
	m["rejected_rollout"] = "the rejected rollout's index in its group"
	m["episode_id"] = "the episode's id"
	m["need"] = "the episode's need id"
	m["chosen_reward"] = "the chosen rollout's list reward (NDCG)"
	m["rejected_reward"] = "the rejected rollout's list reward (NDCG)"
	return m
}

var grpoFields = map[string]string{
	"prompt":       "the episode's first rollout's prompt: [{role: system}, {role: user}]",
	"gains":        "gains[k-1] is the gain of the candidate shown as [k] in prompt (observed, or the critic's mean)",
	"variances":    "variances[k-1] is the variance of gains[k-1] (0 when observed)",
	"k":            "the NDCG cutoff; 0 means the whole list",
	"ground_truth": "gains, variances and k as one JSON text, as verl's reward_model.ground_truth holds them: OpenRLHF's --data.label_key for flexrec serve's /get_reward",
	"episode_id":   "the episode's id",
	"user_id":      "the user's id",
	"need":         "the episode's need id",
}

var verlFields = map[string]string{
	"data_source":               "the configured data source; verl passes it to compute_score",
	"prompt":                    "the episode's first rollout's prompt: [{role: system}, {role: user}]",
	"ability":                   "the configured ability",
	"reward_model.style":        `"rule"`,
	"reward_model.ground_truth": `JSON text {"gains": [...], "variances": [...], "k": K}: gains[k-1] is the gain of the candidate shown as [k]; k is the NDCG cutoff (0: whole list)`,
	"extra_info.split":          "the configured split",
	"extra_info.index":          "the row's 0-based index in the split, counted across its shards",
	"extra_info.episode_id":     "the episode's id",
	"extra_info.user_id":        "the user's id",
	"extra_info.need":           "the episode's need id",
}

var nativeFields = map[string]string{
	"schema_version":      "the record layout version (rollout.SchemaVersion)",
	"episode_id":          "the episode's id",
	"user_id":             "the user's id",
	"need":                "the episode's need id",
	"rollout":             "the rollout's index in its group, 0..group_size-1",
	"group_size":          "G, the number of rollouts of the episode",
	"seed":                "the seed of the rollout's candidate shuffle and sampling",
	"messages":            "the prompt: [{role: system}, {role: user}]",
	"order":               "order[k] is the candidate (episode order) shown as [k+1]",
	"completion":          "the model's text",
	"finish_reason":       "the server's finish reason",
	"tokens":              "JSONL: [{text, logprob}] of the completion; logprob is the sampling policy's (the old logprob)",
	"token_texts":         "Parquet: the completion's token texts",
	"token_logprobs":      "Parquet: the sampling policy's logprob of each token (the old logprobs of PPO/GRPO)",
	"permutation":         "the ranking as item ids, best first, repaired",
	"ranking":             "the ranking as candidate indices (episode order)",
	"generated":           "per position: whether the model wrote the item (false: appended by the repair policy)",
	"item_spans":          "per generated item: position, item_id, short_id, byte span [start, end), token span [first_token, last_token), summed logprob",
	"candidate_gains":     "per candidate (episode order): the gain the rewards used (observed or the critic's mean)",
	"candidate_variances": "per candidate: that gain's variance (0 when observed)",
	"item_reward_rule":    "the item reward rule the item rewards used: causal-swap, independent, noncausal-swap or rank-level",
	"reward_switches":     "every method switch the rewards and advantages used (rl.Config.Switches)",
	"token_ids":           "per token: its vocabulary id, when the server returned every id (vLLM with backend.token_ids); absent otherwise",
	"cutoff":              "the NDCG cutoff k of the rewards; 0 means the whole list",
	"list_reward":         "NDCG of the ranking under the gains (after any format penalty)",
	"item_rewards":        "per position: the item reward (causal swap by default)",
	"u":                   "the rollout's uncertainty u_i",
	"c":                   "the rollout's uncertainty scale c_i",
	"advantage":           "the sequence-level (GRPO) advantage, scaled by c",
	"item_advantages":     "per position: the item advantage (0 where not generated)",
	"token_advantages":    "per token: the token advantage (the item's on its id tokens, else the sequence advantage); empty without tokens",
	"parse":               "JSONL: the parse report object; Parquet: the same as JSON text",
	"parse_valid":         "Parquet: parse.valid, whether no repair was needed",
	"align_error":         "why tokens could not be aligned to the text; empty when they were",
	"backend":             "JSONL: {name, model, fingerprint}: the backend kind, the model the server reported, its build or model version",
	"backend_name":        "Parquet: backend.name",
	"backend_model":       "Parquet: backend.model",
	"backend_fingerprint": "Parquet: backend.fingerprint",
	"usage":               "JSONL: {prompt_tokens, completion_tokens} of the request",
	"prompt_tokens":       "Parquet: usage.prompt_tokens",
	"completion_tokens":   "Parquet: usage.completion_tokens",
}
