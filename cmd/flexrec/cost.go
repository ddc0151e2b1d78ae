package main

import (
	"context"

	"github.com/flexrec/flexrec/batch"
	"github.com/flexrec/flexrec/llm"
	"github.com/flexrec/flexrec/pipeline"
	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rollout"
)

// checkMaxCost refuses a budget that could never be reached.
func checkMaxCost(limit float64, bc pipeline.BackendConfig) error {
	if limit < 0 {
		return usagef("--max-cost %v: want >= 0", limit)
	}
	if limit > 0 && bc.PriceInput <= 0 && bc.PriceOutput <= 0 {
		return usagef("--max-cost needs --price-in or --price-out: without prices nothing costs anything")
	}
	return nil
}

// dryRunReport is what --dry-run prints.
type dryRunReport struct {
	DryRun bool `json:"dry_run"`
	batch.Estimate
	// Prices are the prices the cost was computed at, per million tokens.
	Prices llm.Prices `json:"prices"`
	// Note says how the tokens were estimated.
	Note string `json:"note"`
}

const estimateNote = "no server was called; tokens are estimated (4 bytes of prompt per token; 5 completion tokens per candidate + 10, " +
	"capped at max_tokens); max_cost prices every completion at max_tokens"

func newDryRunReport(e batch.Estimate, bc pipeline.BackendConfig) dryRunReport {
	return dryRunReport{DryRun: true, Estimate: e, Prices: llm.Prices{InputPerMillion: bc.PriceInput, OutputPerMillion: bc.PriceOutput},
		Note: estimateNote}
}

// runRolloutDryRun renders every request of the rollout through the
// online path, over a backend that answers nothing, and prints the count
// and the estimate. No backend is opened.
func runRolloutDryRun(ctx context.Context, o *rolloutOptions, s io3) error {
	su, err := o.setup(ctx)
	if err != nil {
		return err
	}
	st, err := batch.Prepare(ctx, su.newRunner, nil, su.eps, batch.PrepareOptions{DryRun: true, Seed: o.cfg.Seed,
		Prices: llm.Prices{InputPerMillion: o.backend.cfg.PriceInput, OutputPerMillion: o.backend.cfg.PriceOutput}})
	if err != nil {
		return err
	}
	return encodeJSON(s, newDryRunReport(st.Estimate, o.backend.cfg))
}

// evalDryRunRanker is one LLM ranker's estimate in eval --dry-run.
type evalDryRunRanker struct {
	// Name is the ranker's report name.
	Name string `json:"name"`
	dryRunReport
}

// evalDryRun estimates the requests of eval's LLM rankers (one greedy
// request per episode each), rendered as rollouts render them, without a
// server; the other rankers send none.
func evalDryRun(ctx context.Context, eps []prompt.Episode, needs []prompt.Need, specs []llmSpec, s io3) error {
	out := struct {
		DryRun  bool               `json:"dry_run"`
		Rankers []evalDryRunRanker `json:"rankers"`
		Total   batch.Estimate     `json:"total"`
		Note    string             `json:"note"`
	}{DryRun: true, Rankers: []evalDryRunRanker{}, Note: estimateNote}
	for _, sp := range specs {
		cfg := rollout.DefaultConfig()
		cfg.Samples, cfg.MaxTokens, cfg.Model, cfg.Needs = 1, sp.maxTokens, sp.backend.Model, needs
		newRunner := func(b llm.Backend) (*rollout.Runner, error) {
			return rollout.NewRunner(b, rollout.BackendInfo{Name: sp.backend.Kind, Model: sp.backend.Model}, cfg, zeroGains{})
		}
		prices := llm.Prices{InputPerMillion: sp.backend.PriceInput, OutputPerMillion: sp.backend.PriceOutput}
		st, err := batch.Prepare(ctx, newRunner, nil, eps, batch.PrepareOptions{DryRun: true, Prices: prices})
		if err != nil {
			return err
		}
		out.Rankers = append(out.Rankers, evalDryRunRanker{Name: sp.rankerName(), dryRunReport: newDryRunReport(st.Estimate, sp.backend)})
		out.Total.Requests += st.Requests
		out.Total.PromptTokens += st.PromptTokens
		out.Total.CompletionTokens += st.CompletionTokens
		out.Total.MaxCompletionTokens += st.MaxCompletionTokens
		out.Total.Cost += st.Cost
		out.Total.MaxCost += st.MaxCost
	}
	return encodeJSON(s, out)
}

// zeroGains predicts 0 for unobserved gains: a dry run renders requests,
// which do not depend on them.
type zeroGains struct{}

// Predict implements rl.Predictor.
func (zeroGains) Predict(string, string) (float64, float64) { return 0, 0 }
