package export

import (
	"encoding/json"
	"math"
	"slices"

	"github.com/flexrec/flexrec/rollout"
)

// PreferenceRow is one line of trl-preference's preference.jsonl: TRL's
// conversational preference type with an explicit prompt, loadable as is
// by DPOTrainer and RewardTrainer (which reads margin). Both completions
// are written for Prompt, the chosen rollout's prompt (see Completions).
type PreferenceRow struct {
	// Prompt is the chosen rollout's system and user messages.
	Prompt []Message `json:"prompt"`
	// Chosen and Rejected are one assistant message each.
	Chosen   []Message `json:"chosen"`
	Rejected []Message `json:"rejected"`
	PairInfo
}

// PairInfo describes a preference pair; its fields sit beside the
// completions in every preference format's rows.
type PairInfo struct {
	// Margin is ChosenReward - RejectedReward, > Config.Margin.
	Margin float64 `json:"margin"`
	// EpisodeID and Need identify the episode.
	EpisodeID string `json:"episode_id"`
	Need      string `json:"need"`
	// ChosenRollout and RejectedRollout are the rollouts' group indices.
	ChosenRollout   int `json:"chosen_rollout"`
	RejectedRollout int `json:"rejected_rollout"`
	// ChosenReward and RejectedReward are their list rewards (NDCG).
	ChosenReward   float64 `json:"chosen_reward"`
	RejectedReward float64 `json:"rejected_reward"`
}

// OpenRLHFRow is one line of openrlhf's preference.jsonl, under OpenRLHF's
// default keys (--chosen_key chosen --rejected_key rejected, no
// --prompt_key): each side is the whole conversation, prompt included, as
// its --apply_chat_template path expects; margin feeds its margin loss.
type OpenRLHFRow struct {
	// Chosen and Rejected are the chosen prompt's messages followed by one
	// assistant message.
	Chosen   []Message `json:"chosen"`
	Rejected []Message `json:"rejected"`
	// PairInfo is as in PreferenceRow; OpenRLHF ignores it.
	PairInfo
}

// prefWriter writes trl-preference or openrlhf rows.
type prefWriter struct {
	cfg Config
	st  *stats
	out *jsonlFile
	buf []any
}

func newPrefWriter(cfg Config, dir string, create createFunc, st *stats) (*prefWriter, error) {
	out, err := openJSONL(create, dir, jsonlName(cfg.Format, cfg.suffix))
	if err != nil {
		return nil, err
	}
	if err := out.shuffle(dir, cfg.shuffleSeed()); err != nil {
		out.abort()
		return nil, err
	}
	return &prefWriter{cfg: cfg, st: st, out: out}, nil
}

func (w *prefWriter) group(g *group) error {
	pairs := selectPairs(g.heads, w.cfg.Pairs, w.cfg.Margin)
	if err := g.decode(pairMembers(pairs)); err != nil {
		return err
	}
	w.buf = w.buf[:0]
	skipped := 0
	for _, p := range pairs {
		c, r := g.recs[p.chosen], g.recs[p.rejected]
		ct, rt, ok := pairTexts(c, r, w.cfg.Completions)
		if !ok {
			skipped++
			continue
		}
		w.buf = append(w.buf, w.row(c, r, ct, rt, p.margin))
	}
	// Counted only now: a record error above skips the whole group.
	if len(pairs) == 0 {
		w.st.skip(skipNoPair, 1)
	}
	w.st.skip(skipNotReexpressible, skipped)
	w.st.pairs += int64(len(w.buf))
	for _, row := range w.buf {
		if err := w.out.write(row); err != nil {
			return err
		}
	}
	return nil
}

// pairMembers lists the rollouts that appear in pairs, each once.
func pairMembers(pairs []pair) []int {
	var idx []int
	for _, p := range pairs {
		idx = append(idx, p.chosen, p.rejected)
	}
	slices.Sort(idx)
	return slices.Compact(idx)
}

func (w *prefWriter) row(c, r *rollout.Record, ct, rt string, margin float64) any {
	prompt := messagesOf(c.Messages)
	info := PairInfo{Margin: margin, EpisodeID: c.EpisodeID, Need: c.Need, ChosenRollout: c.Rollout,
		RejectedRollout: r.Rollout, ChosenReward: c.ListReward, RejectedReward: r.ListReward}
	if w.cfg.Format == OpenRLHF {
		return OpenRLHFRow{
			Chosen:   append(prompt[:len(prompt):len(prompt)], assistant(ct)...),
			Rejected: append(prompt[:len(prompt):len(prompt)], assistant(rt)...),
			PairInfo: info,
		}
	}
	return PreferenceRow{Prompt: prompt, Chosen: assistant(ct), Rejected: assistant(rt), PairInfo: info}
}

func (w *prefWriter) outputs() []output { return []output{w.out} }

// KTORow is one line of trl-kto's kto.jsonl: TRL's conversational unpaired
// preference type, for KTOTrainer. Every rollout is a row under its own
// prompt and completion.
type KTORow struct {
	// Prompt is the rollout's system and user messages.
	Prompt []Message `json:"prompt"`
	// Completion is one assistant message: the rollout's text.
	Completion []Message `json:"completion"`
	// Label is true when ListReward is above GroupMean (desirable), false
	// when below; rollouts within 1e-12 of the mean are not written.
	Label bool `json:"label"`
	// EpisodeID, Need and Rollout identify the rollout.
	EpisodeID string `json:"episode_id"`
	Need      string `json:"need"`
	Rollout   int    `json:"rollout"`
	// ListReward is the rollout's NDCG; GroupMean the mean over its group.
	ListReward float64 `json:"list_reward"`
	GroupMean  float64 `json:"group_mean"`
}

// tieTolerance is how close to its group mean a list reward counts as
// equal to it (rewards are NDCG values in [0, 1]).
const tieTolerance = 1e-12

type ktoWriter struct {
	st   *stats
	out  *jsonlFile
	rows []KTORow
}

func newKTOWriter(cfg Config, dir string, create createFunc, st *stats) (*ktoWriter, error) {
	out, err := openJSONL(create, dir, jsonlName(cfg.Format, cfg.suffix))
	if err != nil {
		return nil, err
	}
	if err := out.shuffle(dir, cfg.shuffleSeed()); err != nil {
		out.abort()
		return nil, err
	}
	return &ktoWriter{st: st, out: out}, nil
}

// group labels each rollout against the group mean of the list rewards:
// the sign of the GRPO advantage, computed here so that it does not depend
// on how the records' advantages were scaled.
func (w *ktoWriter) group(g *group) error {
	mean := 0.0
	for _, h := range g.heads {
		mean += h.listReward
	}
	mean /= float64(g.size())
	var idx []int
	for i, h := range g.heads {
		if math.Abs(h.listReward-mean) > tieTolerance {
			idx = append(idx, i)
		}
	}
	if err := g.decode(idx); err != nil {
		return err
	}
	w.rows = w.rows[:0]
	for _, i := range idx {
		h, r := g.heads[i], g.recs[i]
		w.rows = append(w.rows, KTORow{
			Prompt: messagesOf(r.Messages), Completion: assistant(r.Completion), Label: h.listReward > mean,
			EpisodeID: r.EpisodeID, Need: r.Need, Rollout: r.Rollout, ListReward: r.ListReward, GroupMean: mean,
		})
	}
	w.st.skip(skipTie, g.size()-len(idx))
	for i := range w.rows {
		if err := w.out.write(&w.rows[i]); err != nil {
			return err
		}
	}
	return nil
}

func (w *ktoWriter) outputs() []output { return []output{w.out} }

// GRPORow is one line of trl-grpo's grpo.jsonl: TRL's conversational
// prompt-only type, one row per episode under its first rollout's prompt,
// with the reward function's inputs as extra columns (GRPOTrainer passes
// them to reward functions as keyword arguments).
type GRPORow struct {
	// Prompt is the first rollout's system and user messages.
	Prompt []Message `json:"prompt"`
	// GroundTruth holds the gains of the candidates as Prompt shows them.
	GroundTruth
	// GroundTruthJSON is GroundTruth as JSON text (verl's form), one
	// column for OpenRLHF's --data.label_key (flexrec serve's /get_reward
	// reads it); GRPOTrainer passes it to reward functions, which may
	// ignore it.
	GroundTruthJSON string `json:"ground_truth"`
	// EpisodeID, UserID and Need identify the episode.
	EpisodeID string `json:"episode_id"`
	UserID    string `json:"user_id"`
	Need      string `json:"need"`
}

// GroundTruth is what a reward function needs to recompute a rollout's
// NDCG: the columns of trl-grpo's rows, and the JSON text in verl's
// reward_model.ground_truth.
type GroundTruth struct {
	// Gains[k-1] is the gain of the candidate shown as [k] in the prompt.
	Gains []float64 `json:"gains"`
	// Variances[k-1] is that gain's variance (0 when observed).
	Variances []float64 `json:"variances"`
	// K is the NDCG cutoff; 0 means the whole list.
	K int `json:"k"`
}

// cutoffOf is the cutoff a ground truth carries: cfg's, or the record's
// own when cfg.Cutoff is -1.
func cutoffOf(cfg Config, r *rollout.Record) int {
	if cfg.Cutoff < 0 {
		return r.Cutoff
	}
	return cfg.Cutoff
}

// groundTruth maps the record's per-candidate gains to its prompt's short
// ids.
func groundTruth(r *rollout.Record, k int) GroundTruth {
	gt := GroundTruth{Gains: make([]float64, len(r.Order)), Variances: make([]float64, len(r.Order)), K: k}
	for s, c := range r.Order {
		gt.Gains[s] = r.Gains[c]
		if len(r.Variances) > 0 {
			gt.Variances[s] = r.Variances[c]
		}
	}
	return gt
}

type grpoWriter struct {
	cfg Config
	out *jsonlFile
}

func newGRPOWriter(cfg Config, dir string, create createFunc) (*grpoWriter, error) {
	out, err := openJSONL(create, dir, jsonlName(cfg.Format, cfg.suffix))
	if err != nil {
		return nil, err
	}
	return &grpoWriter{cfg: cfg, out: out}, nil
}

func (w *grpoWriter) group(g *group) error {
	r, err := g.record(g.first())
	if err != nil {
		return err
	}
	gt := groundTruth(r, cutoffOf(w.cfg, r))
	text, _ := json.Marshal(gt) // floats decoded from JSON are finite: cannot fail
	return w.out.write(&GRPORow{Prompt: messagesOf(r.Messages), GroundTruth: gt, GroundTruthJSON: string(text),
		EpisodeID: r.EpisodeID, UserID: r.UserID, Need: r.Need})
}

func (w *grpoWriter) outputs() []output { return []output{w.out} }

// VerlRow is one row of verl's <split>-NNNNN.parquet shards, in the layout of verl's
// data preparation scripts: one row per episode under its first rollout's
// prompt, the reward inputs in reward_model.ground_truth as JSON text
// (GroundTruth) for a custom compute_score.
type VerlRow struct {
	// DataSource is Config.DataSource; verl passes it to compute_score.
	DataSource string `json:"data_source" parquet:"data_source,dict"`
	// Prompt is the system and user messages.
	Prompt []Message `json:"prompt" parquet:"prompt,list"`
	// Ability is Config.Ability.
	Ability string `json:"ability" parquet:"ability,dict"`
	// RewardModel holds the rule-based reward's inputs.
	RewardModel VerlReward `json:"reward_model" parquet:"reward_model"`
	// ExtraInfo identifies the row.
	ExtraInfo VerlExtra `json:"extra_info" parquet:"extra_info"`
}

// VerlReward is verl's reward_model column.
type VerlReward struct {
	// Style is "rule".
	Style string `json:"style" parquet:"style,dict"`
	// GroundTruth is a GroundTruth as JSON text.
	GroundTruth string `json:"ground_truth" parquet:"ground_truth"`
}

// VerlExtra is verl's extra_info column.
type VerlExtra struct {
	// Split is Config.Split; Index the row's 0-based index in the split,
	// counted across its shards.
	Split string `json:"split" parquet:"split,dict"`
	Index int64  `json:"index" parquet:"index"`
	// EpisodeID, UserID and Need identify the episode.
	EpisodeID string `json:"episode_id" parquet:"episode_id"`
	UserID    string `json:"user_id" parquet:"user_id"`
	Need      string `json:"need" parquet:"need,dict"`
}

type verlWriter struct {
	cfg   Config
	out   *parquetShards[VerlRow]
	index int64
}

func newVerlWriter(cfg Config, dir string, create createFunc) (*verlWriter, error) {
	out, err := openShards[VerlRow](create, dir, cfg.Split, cfg.RowGroupRows, cfg.ParquetShardRows, parquetMeta(cfg))
	if err != nil {
		return nil, err
	}
	return &verlWriter{cfg: cfg, out: out}, nil
}

func (w *verlWriter) group(g *group) error {
	r, err := g.record(g.first())
	if err != nil {
		return err
	}
	gt, _ := json.Marshal(groundTruth(r, cutoffOf(w.cfg, r))) // floats decoded from JSON are finite: cannot fail
	row := VerlRow{
		DataSource: w.cfg.DataSource, Prompt: messagesOf(r.Messages), Ability: w.cfg.Ability,
		RewardModel: VerlReward{Style: "rule", GroundTruth: string(gt)},
		ExtraInfo:   VerlExtra{Split: w.cfg.Split, Index: w.index, EpisodeID: r.EpisodeID, UserID: r.UserID, Need: r.Need},
	}
	w.index++
	return w.out.write([]VerlRow{row})
}

func (w *verlWriter) outputs() []output { return w.out.outputs() }
