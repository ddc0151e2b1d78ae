package serve

import (
	"encoding/json"

	"github.com/flexrec/flexrec/rank"
)

// ScoreRequest is the body of POST /v1/score.
type ScoreRequest struct {
	// Items are the completions to score, at least one.
	Items []ScoreItem `json:"items"`
	// Fields, when given, limits every result to these keys (e.g.
	// ["list_reward"]: a trainer that needs only the reward gets a tenth of
	// the answer). Absent or empty: every field.
	Fields []string `json:"fields,omitempty"`
}

// ScoreItem is one completion to score.
type ScoreItem struct {
	// Completion is the model's answer as it wrote it (reasoning
	// included); required, may be empty.
	Completion *string `json:"completion"`
	// GroundTruth is a GroundTruth as a JSON object, or the same object as
	// JSON text (as verl's reward_model.ground_truth carries it); required.
	GroundTruth json.RawMessage `json:"ground_truth"`
	// ItemReward is the item reward rule (causal-swap, independent,
	// noncausal-swap, rank-level); empty means the service's default
	// (--item-reward, causal-swap unless set).
	ItemReward string `json:"item_reward,omitempty"`
	// Cutoff overrides the ground truth's k when set: the NDCG cutoff, >= 0,
	// 0 meaning the whole list.
	Cutoff *int `json:"cutoff,omitempty"`
	// FinishReason is the sample's finish reason; "length" or "max_tokens"
	// marks the answer truncated in the report, as `flexrec parse
	// --finish-reason` does. It does not change the rewards.
	FinishReason string `json:"finish_reason,omitempty"`
	// Offsets are the byte ranges [start, end) of the completion's tokens,
	// 0 <= start <= end <= len(completion); optional. Each gets one entry
	// of ScoreResult.TokenRewards.
	Offsets [][2]int `json:"offsets,omitempty"`
}

// GroundTruth is what scoring needs besides the completion: the columns of
// the trl-grpo export, and the JSON text of the verl export's
// reward_model.ground_truth. Unknown keys are ignored.
type GroundTruth struct {
	// Gains[k-1] is the gain of the candidate shown as [k] in the prompt:
	// N >= 1 values, each finite and >= 0. N is the candidate count.
	Gains []float64 `json:"gains"`
	// Variances[k-1] is that gain's variance (0 when observed); absent or
	// empty means every gain was observed (u = 0). Else N values, finite
	// and >= 0.
	Variances []float64 `json:"variances,omitempty"`
	// K is the NDCG cutoff; 0 (or absent) means the whole list.
	K int `json:"k"`
	// Titles[k-1] is the text shown for [k]; optional, for answers that
	// name titles instead of ids. Else N strings.
	Titles []string `json:"titles,omitempty"`
}

// ScoreResponse is the body of a successful POST /v1/score.
type ScoreResponse struct {
	// Results has one entry per request item, in order.
	Results []ScoreResult `json:"results"`
}

// ScoreResult is the score of one item: `flexrec parse --n N` of the
// completion and `flexrec reward` of its permutation, in one object.
type ScoreResult struct {
	// ListReward is the NDCG of the (repaired) permutation under the gains
	// and cutoff, after the service's format penalty (0 by default).
	ListReward float64 `json:"list_reward"`
	// ItemRewards has one item reward per ranked position.
	ItemRewards []float64 `json:"item_rewards"`
	// Permutation lists every short id, best first, repaired in prompt
	// order; the same as Report.Permutation.
	Permutation []string `json:"permutation"`
	// Generated is true, per position, for the items the model wrote.
	Generated []bool `json:"generated"`
	// Report is the parse report, as `flexrec parse` prints it.
	Report rank.Report `json:"report"`
	// U is the rollout uncertainty (0 without variances).
	U float64 `json:"u"`
	// TokenRewards has one entry per given offset: the item reward of the
	// position whose id the token helped write (the earlier item when a
	// token spans two), 0 for every other token. Empty without offsets.
	TokenRewards []float64 `json:"token_rewards"`
}

// RewardRequest is the body of POST /get_reward, OpenRLHF's remote reward
// model protocol as its SingleTurnAgentExecutor sends it.
type RewardRequest struct {
	// Query holds the decoded prompt+response texts (special tokens kept).
	Query []string `json:"query"`
	// Prompts holds the prompts as the dataset rendered them, one per query.
	Prompts []string `json:"prompts"`
	// Labels holds the ground truths (--data.label_key), one per query: a
	// GroundTruth object or its JSON text.
	Labels []json.RawMessage `json:"labels"`
}

// RewardResponse is the body of a successful POST /get_reward.
type RewardResponse struct {
	// Rewards has the list reward of each query.
	Rewards []float64 `json:"rewards"`
	// Scores equals Rewards (OpenRLHF uses it for dynamic filtering).
	Scores []float64 `json:"scores"`
	// ExtraLogs holds per-query figures OpenRLHF logs: list_reward,
	// format_ok and valid (0 or 1), repaired (positions the parser
	// appended).
	ExtraLogs map[string][]float64 `json:"extra_logs"`
}

// errorBody is the body of every error answer.
type errorBody struct {
	Error string `json:"error"`
}
