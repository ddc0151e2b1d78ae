package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/flexrec/flexrec/batch"
	"github.com/flexrec/flexrec/llm"
	"github.com/flexrec/flexrec/pipeline"
)

// errBudget is the cause of a run's cancellation at --max-cost.
var errBudget = errors.New("the --max-cost budget is spent")

// budget stops a run once its backend's metered cost (this invocation's
// requests; cache hits are free) reaches max: it cancels the run's
// context, so the run ends as after an interrupt, keeping whole groups,
// and the same command resumes it. Requests in flight when the budget is
// reached are cancelled; what they had cost is the overshoot.
type budget struct {
	max    float64
	cancel context.CancelCauseFunc
	mu     sync.Mutex
	spent  float64
}

// withBudget returns ctx under a budget of limit (none when limit <= 0).
func withBudget(ctx context.Context, limit float64) (context.Context, *budget) {
	ctx, cancel := context.WithCancelCause(ctx)
	return ctx, &budget{max: limit, cancel: cancel}
}

// check cancels the run when o has spent the budget, and reports
// whether it has.
func (b *budget) check(o *pipeline.Opened) bool {
	if b.max <= 0 || o == nil || o.Stack == nil {
		return false
	}
	spent := o.Stack.Progress().Cost
	b.mu.Lock()
	defer b.mu.Unlock()
	b.spent = max(b.spent, spent)
	if b.spent >= b.max {
		b.cancel(errBudget)
		return true
	}
	return false
}

// wrap returns o's backend with a check before and after every request,
// so the run stops within the requests in flight, not within a group.
func (b *budget) wrap(o *pipeline.Opened) llm.Backend {
	if b.max <= 0 {
		return o
	}
	return budgetBackend{b: b, o: o}
}

// budgetBackend refuses requests once the budget is spent.
type budgetBackend struct {
	b *budget
	o *pipeline.Opened
}

// Sample implements llm.Backend.
func (bb budgetBackend) Sample(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	if bb.b.check(bb.o) {
		return nil, context.Cause(ctx)
	}
	resp, err := bb.o.Sample(ctx, req)
	bb.b.check(bb.o)
	return resp, err
}

// result turns the cancellation at the budget into a *BudgetError; other
// errors come back as they are.
func (b *budget) result(ctx context.Context, err error) error {
	defer b.cancel(nil)
	if err != nil && errors.Is(context.Cause(ctx), errBudget) {
		b.mu.Lock()
		defer b.mu.Unlock()
		return &budgetError{spent: b.spent, max: b.max}
	}
	return err
}

// budgetError is a run stopped at --max-cost (exit code 1, not 130: no
// one interrupted it).
type budgetError struct{ spent, max float64 }

func (e *budgetError) Error() string {
	return fmt.Sprintf("stopped at the --max-cost budget (%.4f spent of %.4f): the complete groups are kept; "+
		"the same command with a higher --max-cost goes on", e.spent, e.max)
}

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
