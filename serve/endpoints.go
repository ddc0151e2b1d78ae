package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/flexrec/flexrec/rl"
)

// serveScore answers POST /v1/score.
func (h *Handler) serveScore(ctx context.Context, body []byte) (any, int, error) {
	var req ScoreRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, 0, locateScoreError(body, err)
	}
	if len(req.Items) == 0 {
		return nil, 0, badBody("items", errors.New("required: at least one item"))
	}
	fields, err := parseFields(req.Fields)
	if err != nil {
		return nil, 0, err
	}
	jobs := make([]job, len(req.Items))
	for i := range req.Items {
		if err := h.scoreJob(&req.Items[i], i, &jobs[i]); err != nil {
			return nil, len(jobs), err
		}
	}
	res, err := h.scoreAll(ctx, jobs)
	if err != nil {
		return nil, len(jobs), err
	}
	h.metrics.scored(res)
	return appendScoreResponse(make([]byte, 0, 1024*len(res)), res, fields), len(jobs), nil
}

// locateScoreError turns a failed decode of the whole body into an
// InputError naming the item and field: it decodes the items one by one,
// which only the error path pays for.
func locateScoreError(body []byte, err error) error {
	var probe struct {
		Items []json.RawMessage `json:"items"`
	}
	if perr := json.Unmarshal(body, &probe); perr != nil {
		field := typeField(perr)
		if field == "" {
			field = "body"
		}
		return badBody(field, perr)
	}
	for i, raw := range probe.Items {
		var it ScoreItem
		if ierr := json.Unmarshal(raw, &it); ierr != nil {
			return badItem("items", i, typeField(ierr), "%v", ierr)
		}
	}
	return badBody("body", err)
}

// scoreJob checks item i and turns it into a job.
func (h *Handler) scoreJob(it *ScoreItem, i int, j *job) error {
	if it.Completion == nil {
		return badItem("items", i, "completion", "required (a string, may be empty)")
	}
	j.list, j.text, j.finish = "items", *it.Completion, it.FinishReason
	if err := decodeGroundTruth(it.GroundTruth, &j.gt, "items", i, "ground_truth"); err != nil {
		return err
	}
	j.cfg = h.cfg.RL
	if it.ItemReward != "" {
		kind, err := rl.ParseItemReward(it.ItemReward)
		if err != nil {
			return badItem("items", i, "item_reward", "%v", err)
		}
		j.cfg.ItemReward = kind
	}
	j.cfg.Cutoff = j.gt.K
	if it.Cutoff != nil {
		if *it.Cutoff < 0 {
			return badItem("items", i, "cutoff", "%d, want >= 0 (0: the whole list)", *it.Cutoff)
		}
		j.cfg.Cutoff = *it.Cutoff
	}
	n := len(*it.Completion)
	for t, off := range it.Offsets {
		if off[0] < 0 || off[0] > off[1] || off[1] > n {
			return badItem("items", i, fmt.Sprintf("offsets[%d]", t), "[%d, %d] is not a byte range within the completion's %d bytes", off[0], off[1], n)
		}
	}
	j.offsets = it.Offsets
	return nil
}

// serveReward answers POST /get_reward, OpenRLHF's remote reward model
// protocol.
func (h *Handler) serveReward(ctx context.Context, body []byte) (any, int, error) {
	var req RewardRequest
	if err := json.Unmarshal(body, &req); err != nil {
		field := typeField(err)
		if field == "" {
			field = "body"
		}
		return nil, 0, badBody(field, err)
	}
	n := len(req.Query)
	switch {
	case n == 0:
		return nil, 0, badBody("query", errors.New("required: at least one query"))
	case len(req.Prompts) != n:
		return nil, n, badBody("prompts", fmt.Errorf("%d prompts for %d queries, want one per query", len(req.Prompts), n))
	case len(req.Labels) != n:
		return nil, n, badBody("labels", fmt.Errorf("%d labels for %d queries, want one ground truth per query", len(req.Labels), n))
	}
	jobs := make([]job, n)
	for i := range jobs {
		text, ok := completionOf(req.Query[i], req.Prompts[i])
		if !ok {
			return nil, n, badItem("query", i, "", "does not contain prompts[%d]: cannot tell the response from the prompt", i)
		}
		jobs[i] = job{list: "query", text: text, cfg: h.cfg.RL}
		if err := decodeGroundTruth(req.Labels[i], &jobs[i].gt, "labels", i, ""); err != nil {
			return nil, n, err
		}
		jobs[i].cfg.Cutoff = jobs[i].gt.K
	}
	res, err := h.scoreAll(ctx, jobs)
	if err != nil {
		return nil, n, err
	}
	h.metrics.scored(res)
	return rewardResponse(res), n, nil
}

// rewardResponse builds OpenRLHF's answer: rewards, scores, extra_logs.
func rewardResponse(res []*scored) RewardResponse {
	out := RewardResponse{Rewards: make([]float64, len(res)), ExtraLogs: map[string][]float64{}}
	logs := map[string][]float64{"list_reward": nil, "format_ok": nil, "valid": nil, "repaired": nil}
	for k := range logs {
		logs[k] = make([]float64, len(res))
	}
	for i, s := range res {
		out.Rewards[i] = s.out.ListReward
		logs["list_reward"][i] = s.out.ListReward
		logs["format_ok"][i] = b2f(s.out.Report.FormatOK)
		logs["valid"][i] = b2f(s.out.Report.Valid)
		logs["repaired"][i] = float64(len(s.out.Permutation) - s.out.Report.NGenerated)
	}
	out.Scores, out.ExtraLogs = out.Rewards, logs
	return out
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// promptTail is how much of a prompt's end completionOf looks for when the
// query does not start with the whole prompt (a prompt cut from the left,
// or a tokenizer round trip that changed its start).
const promptTail = 64

// trailingSpecial matches the special tokens a decode with
// skip_special_tokens=False leaves at the end of a response: <|im_end|>,
// <|endoftext|>, <|eot_id|>, </s>, <end_of_turn>, and the like.
var trailingSpecial = regexp.MustCompile(`(?:\s*(?:<\|[^<>|]{1,32}\|>|</s>|<end_of_turn>|<｜end▁of▁sentence｜>))+\s*$`)

// completionOf returns the response part of an OpenRLHF query: the text
// after the prompt (the whole prompt, else the first occurrence of its last
// promptTail bytes), without trailing special tokens. ok is false when the
// prompt cannot be found.
func completionOf(query, prompt string) (string, bool) {
	var rest string
	switch {
	case strings.HasPrefix(query, prompt):
		rest = query[len(prompt):]
	default:
		tail := prompt[max(0, len(prompt)-promptTail):]
		k := strings.Index(query, tail)
		if k < 0 || tail == "" {
			return "", false
		}
		rest = query[k+len(tail):]
	}
	if loc := trailingSpecial.FindStringIndex(rest); loc != nil {
		rest = rest[:loc[0]]
	}
	return rest, true
}
