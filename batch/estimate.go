package batch

import (
	"github.com/flexrec/flexrec/llm"
)

// Estimate counts requests and estimates what they will cost before any
// is sent. Token counts are estimates, not a tokenizer's: a prompt token
// per 4 bytes of message text plus 4 per message, and a completion of 5
// tokens per candidate shown plus 10 (a ranking writes "[12] > " per
// item), capped at the request's max_tokens. MaxCompletionTokens is the
// bound max_tokens sets, the worst case.
type Estimate struct {
	// Requests is the number of requests.
	Requests int `json:"requests"`
	// PromptTokens and CompletionTokens are the estimated tokens.
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	// MaxCompletionTokens adds up the requests' max_tokens (0 for a
	// request without a cap, which has no bound).
	MaxCompletionTokens int64 `json:"max_completion_tokens"`
	// Cost is the estimate priced; MaxCost prices the worst case.
	Cost    float64 `json:"cost"`
	MaxCost float64 `json:"max_cost"`
}

// estimateRequest estimates one request.
func estimateRequest(req *llm.Request) Estimate {
	e := Estimate{Requests: 1}
	for _, m := range req.Messages {
		e.PromptTokens += int64(len(m.Content)+3)/4 + 4
	}
	shown := 0
	if req.Subject != nil {
		shown = len(req.Subject.Order)
	}
	e.CompletionTokens = int64(5*shown + 10)
	if req.MaxTokens > 0 {
		e.CompletionTokens = min(e.CompletionTokens, int64(req.MaxTokens))
		e.MaxCompletionTokens = int64(req.MaxTokens)
	}
	return e
}

func (e *Estimate) add(o Estimate) {
	e.Requests += o.Requests
	e.PromptTokens += o.PromptTokens
	e.CompletionTokens += o.CompletionTokens
	e.MaxCompletionTokens += o.MaxCompletionTokens
}

// price sets Cost and MaxCost at p.
func (e *Estimate) price(p llm.Prices) {
	e.Cost = p.Cost(llm.Usage{PromptTokens: int(e.PromptTokens), CompletionTokens: int(e.CompletionTokens)})
	e.MaxCost = p.Cost(llm.Usage{PromptTokens: int(e.PromptTokens), CompletionTokens: int(e.MaxCompletionTokens)})
}
