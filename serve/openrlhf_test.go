package serve

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGetRewardOpenRLHF replays the request OpenRLHF's remote reward client
// builds (openrlhf/utils/agent.py, SingleTurnAgentExecutor at v0.11.0):
// query is hf_tokenizer.decode(prompt_ids + response_ids,
// skip_special_tokens=False), so the chat-templated prompt, the response
// and the end-of-turn token; prompts is the templated prompt; labels is
// the dataset's --data.label_key column; it is posted as
// {"query": [...], "prompts": [...], "labels": [...]} and the answer is
// read with .get("rewards"), .get("scores"), .get("extra_logs").
func TestGetRewardOpenRLHF(t *testing.T) {
	h := newTestHandler(t, nil)
	prompt := "<|im_start|>system\nYou are a recommender system.<|im_end|>\n<|im_start|>user\n## Candidates (3)\n[1] Alien (1979)\n[2] Heat (1995)\n[3] Babe (1995)\n<|im_end|>\n<|im_start|>assistant\n"
	responses := []string{"Heat first.\n[2] > [1] > [3]", "[3] > [1]", "nothing useful"}
	gt := `{"gains":[3,4.5,0],"variances":[0,0,0],"k":0}`
	var payload struct {
		Query   []string `json:"query"`
		Prompts []string `json:"prompts"`
		Labels  []any    `json:"labels"`
	}
	var items []map[string]any
	for i, r := range responses {
		query := prompt + r + "<|im_end|>"
		if i == 1 {
			query = prompt[20:] + r + "<|im_end|><|endoftext|>" // a prompt cut from the left
		}
		payload.Query = append(payload.Query, query)
		payload.Prompts = append(payload.Prompts, prompt)
		if i == 2 {
			payload.Labels = append(payload.Labels, map[string]any{"gains": []float64{3, 4.5, 0}, "k": 0}) // an object label
		} else {
			payload.Labels = append(payload.Labels, gt)
		}
		items = append(items, map[string]any{"completion": r, "ground_truth": gt})
	}
	code, out := post(t, h, "/get_reward", mustJSON(t, payload))
	require.Equal(t, http.StatusOK, code, "POST /get_reward: %s", out)
	var got map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(out, &got))
	for _, k := range []string{"rewards", "scores", "extra_logs"} {
		assert.Contains(t, got, k, "answer key")
	}
	var resp RewardResponse
	require.NoError(t, json.Unmarshal(out, &resp))

	_, sout := post(t, h, "/v1/score", mustJSON(t, map[string]any{"items": items}))
	var score ScoreResponse
	require.NoError(t, json.Unmarshal(sout, &score))
	for i, r := range score.Results {
		assert.Equal(t, r.ListReward, resp.Rewards[i], "rewards[%d] equals /v1/score's list_reward", i)
		assert.Equal(t, r.ListReward, resp.Scores[i], "scores[%d]", i)
		assert.Equal(t, b2f(r.Report.FormatOK), resp.ExtraLogs["format_ok"][i], "extra_logs.format_ok[%d]", i)
	}
	assert.Equal(t, 1.0, resp.ExtraLogs["format_ok"][0], "the end-of-turn token is not part of the answer")
	assert.Len(t, resp.ExtraLogs["repaired"], 3)
}

func TestGetRewardBadInput(t *testing.T) {
	h := newTestHandler(t, nil)
	cases := []struct{ name, body, want string }{
		{"no query", `{"prompts":[],"labels":[]}`, "serve: query: required"},
		{"prompts short", `{"query":["a","b"],"prompts":["a"],"labels":["{}","{}"]}`, "serve: prompts: 1 prompts for 2 queries"},
		{"labels short", `{"query":["a"],"prompts":["a"],"labels":[]}`, "serve: labels: 0 labels for 1 queries"},
		{"prompt not in query", `{"query":["xyz"],"prompts":["abc"],"labels":["{\"gains\":[1]}"]}`, "serve: query[0]: does not contain prompts[0]"},
		{"label without gains", `{"query":["p [1]"],"prompts":["p "],"labels":["{\"k\":0}"]}`, "serve: labels[0].gains: required"},
		{"query not strings", `{"query":[1],"prompts":["p"],"labels":[""]}`, "serve: query:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out := post(t, h, "/get_reward", []byte(tc.body))
			assert.Equal(t, http.StatusBadRequest, code, "POST /get_reward %s: %s", tc.body, out)
			assert.Contains(t, string(out), tc.want)
		})
	}
}
