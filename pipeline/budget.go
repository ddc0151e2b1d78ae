package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/flexrec/flexrec/llm"
)

// errBudget is the cause of a run's cancellation at its budget.
var errBudget = errors.New("pipeline: the cost budget is spent")

// BudgetError is a run stopped at its cost budget (Options.MaxCost,
// rollout's --max-cost): it ended as after an interrupt, with every
// complete group kept, and the same job run again goes on.
type BudgetError struct {
	// Spent is what the invocation's requests cost; Max the budget. Spent
	// passes Max by what the requests in flight at the budget cost.
	Spent, Max float64
}

// Error says what was spent and how to go on.
func (e *BudgetError) Error() string {
	return fmt.Sprintf("stopped at the cost budget (%.4f spent of %.4f): the complete groups are kept; "+
		"the same command with a higher budget goes on", e.Spent, e.Max)
}

// Budget stops a run once an opened backend's metered cost (this
// invocation's requests; cache hits are free) reaches Max: it checks
// before and after every request, and cancels the run's context, so the
// run ends as after an interrupt. It is safe for concurrent use.
type Budget struct {
	max    float64
	o      *Opened
	cancel context.CancelCauseFunc
	mu     sync.Mutex
	spent  float64
}

// NewBudget returns ctx under a budget of limit for o; limit <= 0, or a
// backend without a meter (the builtin policy), is no budget.
func NewBudget(ctx context.Context, o *Opened, limit float64) (context.Context, *Budget) {
	ctx, cancel := context.WithCancelCause(ctx)
	return ctx, &Budget{max: limit, o: o, cancel: cancel}
}

// Backend is o's backend under the budget's checks.
func (b *Budget) Backend() llm.Backend {
	if b.max <= 0 || b.o.Stack == nil {
		return b.o
	}
	return budgeted{b}
}

type budgeted struct{ b *Budget }

// Sample implements llm.Backend.
func (bb budgeted) Sample(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	if bb.b.check() {
		return nil, context.Cause(ctx)
	}
	resp, err := bb.b.o.Sample(ctx, req)
	bb.b.check()
	return resp, err
}

// check cancels the run once the budget is spent and reports whether it is.
func (b *Budget) check() bool {
	spent := b.o.Stack.Progress().Cost
	b.mu.Lock()
	defer b.mu.Unlock()
	b.spent = max(b.spent, spent)
	if b.spent >= b.max {
		b.cancel(errBudget)
		return true
	}
	return false
}

// Err returns a *BudgetError when ctx (from NewBudget) ended at the
// budget and err is the run's resulting error; otherwise err. It releases
// the budget's context.
func (b *Budget) Err(ctx context.Context, err error) error {
	defer b.cancel(nil)
	if err == nil || !errors.Is(context.Cause(ctx), errBudget) {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return &BudgetError{Spent: b.spent, Max: b.max}
}
