// Package rollout samples G rankings per episode through a backend and turns
// each into a training record: prompt, completion, tokens with logprobs,
// parse report, permutation, rewards and advantages at sequence, item and
// token level. It composes llm, rank and rl, none of which knows the
// others, and it owns the resumable JSONL file of records that exports and
// the main job read.
package rollout

import (
	"github.com/flexrec/flexrec/llm"
	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rank"
)

// SchemaVersion is the version of the Record JSON layout; it changes when a
// field changes meaning or goes away (adding fields does not change it).
const SchemaVersion = 1

// Token is one completion token in a record.
type Token struct {
	// Text is the token text (may be empty for a partial character).
	Text string `json:"text"`
	// Logprob is the sampling policy's log probability of the token (the
	// "old" logprob of PPO/GRPO).
	Logprob float64 `json:"logprob"`
	// ID is the token's vocabulary id when the server returned it (vLLM
	// with backend.token_ids), so a trainer need not re-tokenise.
	ID *int `json:"id,omitempty"`
}

// ItemSpan locates one generated item of the permutation in the completion.
type ItemSpan struct {
	// Position is the item's 0-based position in the permutation.
	Position int `json:"position"`
	// ItemID is the dataset item id; ShortID the id the model wrote ("7").
	ItemID  string `json:"item_id"`
	ShortID string `json:"short_id"`
	// Start and End are the byte span [Start, End) in the completion,
	// brackets included.
	Start int `json:"start"`
	End   int `json:"end"`
	// FirstToken and LastToken give the token range [First, Last) that
	// wrote the span; both -1 when the rollout has no tokens.
	FirstToken int `json:"first_token"`
	LastToken  int `json:"last_token"`
	// Logprob is the summed logprob of those tokens (0 without tokens).
	Logprob float64 `json:"logprob"`
}

// BackendInfo identifies what produced a completion.
type BackendInfo struct {
	// Name is the backend kind: "openai", "ollama" or "builtin".
	Name string `json:"name"`
	// Model is the model name the server reported.
	Model string `json:"model"`
	// Fingerprint is the server's build or model version, when given.
	Fingerprint string `json:"fingerprint,omitempty"`
}

// Record is one rollout: one sampled ranking of one episode with
// everything a trainer needs. Slices indexed by position follow
// Permutation; slices indexed by candidate follow the episode's candidate
// order. Records are deterministic for a given backend, episode and seed:
// they carry no wall-clock time.
type Record struct {
	// Schema is SchemaVersion.
	Schema int `json:"schema_version"`
	// EpisodeID, UserID and Need identify the episode.
	EpisodeID string `json:"episode_id"`
	UserID    string `json:"user_id"`
	Need      string `json:"need"`
	// Rollout is the index of this rollout in its group, 0..G-1; Group is G.
	Rollout int `json:"rollout"`
	Group   int `json:"group_size"`
	// Seed seeded both the candidate shuffle and the sampling.
	Seed int64 `json:"seed"`
	// Messages is the prompt (system, user).
	Messages []prompt.Message `json:"messages"`
	// Order maps short ids to candidates: [k+1] is candidate Order[k].
	Order []int `json:"order"`
	// Completion is the model's text; FinishReason the server's word.
	Completion   string `json:"completion"`
	FinishReason string `json:"finish_reason"`
	// Tokens are the completion's tokens with logprobs; empty when the
	// backend gave none (and the run allowed that).
	Tokens []Token `json:"tokens"`
	// Permutation lists every candidate's item id, best first, repaired.
	Permutation []string `json:"permutation"`
	// Ranking is Permutation as candidate indices (episode order).
	Ranking []int `json:"ranking"`
	// Generated marks, per position, the items the model wrote; the rest
	// were appended by the repair policy and get no credit.
	Generated []bool `json:"generated"`
	// ItemSpans locates every generated item in the text and the tokens.
	ItemSpans []ItemSpan `json:"item_spans"`
	// Gains and Variances are, per candidate (episode order), the gains the
	// rewards were computed from (observed, or the critic's mean) and their
	// variances (0 when observed).
	Gains     []float64 `json:"candidate_gains"`
	Variances []float64 `json:"candidate_variances"`
	// ItemReward and Cutoff name the item reward rule and the NDCG cutoff
	// (0: the whole list) the rewards below were computed with.
	ItemReward string `json:"item_reward_rule"`
	Cutoff     int    `json:"cutoff"`
	// RewardSwitches lists every method switch the rewards and advantages
	// below were computed with (rl.Config.Switches: item reward, level,
	// normalisation, uncertainty, scaling, per-item, other tokens, format
	// penalty, repaired tail, ...).
	RewardSwitches string `json:"reward_switches"`
	// ListReward is the need's NDCG of the permutation (after any format
	// penalty).
	ListReward float64 `json:"list_reward"`
	// ItemRewards are the per-position item rewards (causal swap by
	// default).
	ItemRewards []float64 `json:"item_rewards"`
	// U is the rollout's uncertainty u_i; C its scale c_i.
	U float64 `json:"u"`
	C float64 `json:"c"`
	// Advantage is the sequence-level (GRPO) advantage, scaled by C.
	Advantage float64 `json:"advantage"`
	// ItemAdvantages are the per-position item advantages (0 where not
	// generated).
	ItemAdvantages []float64 `json:"item_advantages"`
	// TokenAdvantages has one advantage per token; empty without tokens.
	TokenAdvantages []float64 `json:"token_advantages"`
	// Parse is the parse report of the completion.
	Parse rank.Report `json:"parse"`
	// AlignError says why tokens could not be aligned to the text; empty
	// when they were (or when there were no tokens).
	AlignError string `json:"align_error,omitempty"`
	// Backend identifies the model and server.
	Backend BackendInfo `json:"backend"`
	// Usage counts the request's tokens.
	Usage llm.Usage `json:"usage"`
	// JobFingerprint identifies the settings that decided this record's
	// content (seeds, backend kind and model, sampling, rewards, episodes),
	// so a resume can tell its own records from another run's even when
	// every sidecar file is gone. Empty in records written by other tools.
	JobFingerprint string `json:"job_fingerprint,omitempty"`
	// Checksum is "crc32c:" and eight hex digits: the CRC-32C of the JSON
	// line's bytes before its `,"checksum":` member, which Run always
	// writes last. Readers verify it where present (see Scan), so a record
	// changed after it was written is refused, not trained on. Set by the
	// writer; ignored on input.
	Checksum string `json:"checksum,omitempty"`
}
