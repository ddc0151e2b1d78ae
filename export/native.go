package export

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/flexrec/flexrec/llm"
	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rank"
	"github.com/flexrec/flexrec/rollout"
)

// Message is one chat message of an exported row, under the column names
// every trainer reads ("role", "content").
type Message struct {
	// Role is "system", "user" or "assistant".
	Role string `json:"role" parquet:"role"`
	// Content is the message text.
	Content string `json:"content" parquet:"content"`
}

func messagesOf(ms []prompt.Message) []Message {
	out := make([]Message, len(ms))
	for i, m := range ms {
		out[i] = Message{Role: m.Role, Content: m.Content}
	}
	return out
}

func assistant(text string) []Message { return []Message{{Role: "assistant", Content: text}} }

// NativeSpan is a rollout.ItemSpan in the native Parquet shards; the
// fields keep their JSON names and meanings.
type NativeSpan struct {
	// The fields are rollout.ItemSpan's, as INT64 and DOUBLE columns.
	Position   int64   `json:"position" parquet:"position"`
	ItemID     string  `json:"item_id" parquet:"item_id"`
	ShortID    string  `json:"short_id" parquet:"short_id"`
	Start      int64   `json:"start" parquet:"start"`
	End        int64   `json:"end" parquet:"end"`
	FirstToken int64   `json:"first_token" parquet:"first_token"`
	LastToken  int64   `json:"last_token" parquet:"last_token"`
	Logprob    float64 `json:"logprob" parquet:"logprob"`
}

// NativeRow is one row of the rollouts-NNNNN.parquet shards: a
// rollout.Record, column for field, under the record's JSON names, except
// that the tokens are split into two aligned list columns (token_texts and
// token_logprobs, the "old" logprobs of PPO/GRPO) and the parse report is
// kept as JSON text (parse), with its verdict in parse_valid for
// filtering. Integers are INT64; lists
// are Parquet LISTs.
type NativeRow struct {
	// The fields mean what the rollout.Record fields of the same JSON name
	// mean; Fields(Native) describes each.
	Schema             int64        `json:"schema_version" parquet:"schema_version"`
	EpisodeID          string       `json:"episode_id" parquet:"episode_id,dict"`
	UserID             string       `json:"user_id" parquet:"user_id,dict"`
	Need               string       `json:"need" parquet:"need,dict"`
	Rollout            int64        `json:"rollout" parquet:"rollout"`
	Group              int64        `json:"group_size" parquet:"group_size"`
	Seed               int64        `json:"seed" parquet:"seed"`
	Messages           []Message    `json:"messages" parquet:"messages,list"`
	Order              []int64      `json:"order" parquet:"order,list"`
	Completion         string       `json:"completion" parquet:"completion"`
	FinishReason       string       `json:"finish_reason" parquet:"finish_reason,dict"`
	TokenTexts         []string     `json:"token_texts" parquet:"token_texts,list"`
	TokenLogprobs      []float64    `json:"token_logprobs" parquet:"token_logprobs,list"`
	TokenIDs           []int64      `json:"token_ids,omitempty" parquet:"token_ids,list"`
	Permutation        []string     `json:"permutation" parquet:"permutation,list"`
	Ranking            []int64      `json:"ranking" parquet:"ranking,list"`
	Generated          []bool       `json:"generated" parquet:"generated,list"`
	ItemSpans          []NativeSpan `json:"item_spans" parquet:"item_spans,list"`
	CandidateGains     []float64    `json:"candidate_gains" parquet:"candidate_gains,list"`
	CandidateVariances []float64    `json:"candidate_variances" parquet:"candidate_variances,list"`
	ItemRewardRule     string       `json:"item_reward_rule" parquet:"item_reward_rule,dict"`
	RewardSwitches     string       `json:"reward_switches" parquet:"reward_switches,dict"`
	Cutoff             int64        `json:"cutoff" parquet:"cutoff"`
	ListReward         float64      `json:"list_reward" parquet:"list_reward"`
	ItemRewards        []float64    `json:"item_rewards" parquet:"item_rewards,list"`
	U                  float64      `json:"u" parquet:"u"`
	C                  float64      `json:"c" parquet:"c"`
	Advantage          float64      `json:"advantage" parquet:"advantage"`
	ItemAdvantages     []float64    `json:"item_advantages" parquet:"item_advantages,list"`
	TokenAdvantages    []float64    `json:"token_advantages" parquet:"token_advantages,list"`
	Parse              string       `json:"parse" parquet:"parse"`
	ParseValid         bool         `json:"parse_valid" parquet:"parse_valid"`
	AlignError         string       `json:"align_error" parquet:"align_error"`
	BackendName        string       `json:"backend_name" parquet:"backend_name,dict"`
	BackendModel       string       `json:"backend_model" parquet:"backend_model,dict"`
	BackendFingerprint string       `json:"backend_fingerprint" parquet:"backend_fingerprint,dict"`
	PromptTokens       int64        `json:"prompt_tokens" parquet:"prompt_tokens"`
	CompletionTokens   int64        `json:"completion_tokens" parquet:"completion_tokens"`
}

// NativeRowOf converts a record to its Parquet row.
func NativeRowOf(r *rollout.Record) NativeRow {
	parse, _ := json.Marshal(&r.Parse) // plain data: cannot fail
	row := NativeRow{
		Schema: int64(r.Schema), EpisodeID: r.EpisodeID, UserID: r.UserID, Need: r.Need,
		Rollout: int64(r.Rollout), Group: int64(r.Group), Seed: r.Seed,
		Messages: messagesOf(r.Messages), Order: int64s(r.Order),
		Completion: r.Completion, FinishReason: r.FinishReason,
		TokenTexts: make([]string, len(r.Tokens)), TokenLogprobs: make([]float64, len(r.Tokens)),
		Permutation: r.Permutation, Ranking: int64s(r.Ranking), Generated: r.Generated,
		ItemSpans:      make([]NativeSpan, len(r.ItemSpans)),
		CandidateGains: r.Gains, CandidateVariances: r.Variances,
		ItemRewardRule: r.ItemReward, RewardSwitches: r.RewardSwitches, Cutoff: int64(r.Cutoff),
		ListReward: r.ListReward, ItemRewards: r.ItemRewards, U: r.U, C: r.C, Advantage: r.Advantage,
		ItemAdvantages: r.ItemAdvantages, TokenAdvantages: r.TokenAdvantages,
		Parse: string(parse), ParseValid: r.Parse.Valid, AlignError: r.AlignError,
		BackendName: r.Backend.Name, BackendModel: r.Backend.Model, BackendFingerprint: r.Backend.Fingerprint,
		PromptTokens: int64(r.Usage.PromptTokens), CompletionTokens: int64(r.Usage.CompletionTokens),
	}
	for t, tok := range r.Tokens {
		row.TokenTexts[t], row.TokenLogprobs[t] = tok.Text, tok.Logprob
	}
	if len(r.Tokens) > 0 && !slices.ContainsFunc(r.Tokens, func(tok rollout.Token) bool { return tok.ID == nil }) {
		row.TokenIDs = make([]int64, len(r.Tokens)) // only when the server gave every id
		for t, tok := range r.Tokens {
			row.TokenIDs[t] = int64(*tok.ID)
		}
	}
	for i, s := range r.ItemSpans {
		row.ItemSpans[i] = NativeSpan{Position: int64(s.Position), ItemID: s.ItemID, ShortID: s.ShortID,
			Start: int64(s.Start), End: int64(s.End), FirstToken: int64(s.FirstToken), LastToken: int64(s.LastToken),
			Logprob: s.Logprob}
	}
	return row
}

// Record converts the row back to the record it came from; lists come back
// empty rather than nil. It errors when token_texts and token_logprobs
// differ in length or parse is not a parse report.
func (n *NativeRow) Record() (rollout.Record, error) {
	if len(n.TokenTexts) != len(n.TokenLogprobs) {
		return rollout.Record{}, fmt.Errorf("%w: %d token texts, %d token logprobs", ErrRecord, len(n.TokenTexts), len(n.TokenLogprobs))
	}
	r := rollout.Record{
		Schema: int(n.Schema), EpisodeID: n.EpisodeID, UserID: n.UserID, Need: n.Need,
		Rollout: int(n.Rollout), Group: int(n.Group), Seed: n.Seed,
		Messages: make([]prompt.Message, len(n.Messages)), Order: ints(n.Order),
		Completion: n.Completion, FinishReason: n.FinishReason,
		Tokens:      make([]rollout.Token, len(n.TokenTexts)),
		Permutation: nonNil(n.Permutation), Ranking: ints(n.Ranking), Generated: nonNil(n.Generated),
		ItemSpans: make([]rollout.ItemSpan, len(n.ItemSpans)),
		Gains:     nonNil(n.CandidateGains), Variances: nonNil(n.CandidateVariances),
		ItemReward: n.ItemRewardRule, RewardSwitches: n.RewardSwitches, Cutoff: int(n.Cutoff),
		ListReward: n.ListReward, ItemRewards: nonNil(n.ItemRewards), U: n.U, C: n.C, Advantage: n.Advantage,
		ItemAdvantages: nonNil(n.ItemAdvantages), TokenAdvantages: nonNil(n.TokenAdvantages),
		AlignError: n.AlignError,
		Backend:    rollout.BackendInfo{Name: n.BackendName, Model: n.BackendModel, Fingerprint: n.BackendFingerprint},
		Usage:      llm.Usage{PromptTokens: int(n.PromptTokens), CompletionTokens: int(n.CompletionTokens)},
	}
	for i, m := range n.Messages {
		r.Messages[i] = prompt.Message{Role: m.Role, Content: m.Content}
	}
	for t := range n.TokenTexts {
		r.Tokens[t] = rollout.Token{Text: n.TokenTexts[t], Logprob: n.TokenLogprobs[t]}
		if len(n.TokenIDs) == len(n.TokenTexts) {
			id := int(n.TokenIDs[t])
			r.Tokens[t].ID = &id
		}
	}
	for i, s := range n.ItemSpans {
		r.ItemSpans[i] = rollout.ItemSpan{Position: int(s.Position), ItemID: s.ItemID, ShortID: s.ShortID,
			Start: int(s.Start), End: int(s.End), FirstToken: int(s.FirstToken), LastToken: int(s.LastToken),
			Logprob: s.Logprob}
	}
	var rep rank.Report
	if err := json.Unmarshal([]byte(n.Parse), &rep); err != nil {
		return rollout.Record{}, fmt.Errorf("%w: parse column: %v", ErrRecord, err)
	}
	r.Parse = rep
	return r, nil
}

func int64s(v []int) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

func ints(v []int64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}

// nativeWriter writes rollouts.jsonl (lines copied as read) and, unless
// Config.Parquet is off, the rollouts-NNNNN.parquet shards.
type nativeWriter struct {
	jl   *jsonlFile
	pq   *parquetShards[NativeRow]
	rows []NativeRow
}

func newNativeWriter(cfg Config, dir string, create createFunc) (*nativeWriter, error) {
	w := &nativeWriter{}
	var err error
	if w.jl, err = openJSONL(create, dir, jsonlName(cfg.Format, cfg.suffix)); err != nil {
		return nil, err
	}
	if cfg.Parquet {
		if w.pq, err = openShards[NativeRow](create, dir, "rollouts"+cfg.suffix, cfg.RowGroupRows, cfg.ParquetShardRows, parquetMeta(cfg)); err != nil {
			w.jl.abort()
			return nil, err
		}
	}
	return w, nil
}

func (w *nativeWriter) group(g *group) error {
	if w.pq != nil {
		if err := g.decode(g.all()); err != nil {
			return err
		}
		w.rows = w.rows[:0]
		for i := range g.size() {
			w.rows = append(w.rows, NativeRowOf(g.recs[i]))
		}
		if err := w.pq.write(w.rows); err != nil {
			return err
		}
	}
	return w.jl.writeLines(g.raw(), g.size())
}

func (w *nativeWriter) outputs() []output {
	if w.pq == nil {
		return []output{w.jl}
	}
	return append([]output{w.jl}, w.pq.outputs()...)
}
