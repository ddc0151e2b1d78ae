package main

import (
	"context"

	"github.com/flexrec/flexrec/batch"
	"github.com/flexrec/flexrec/llm"
	"github.com/flexrec/flexrec/pipeline"
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
