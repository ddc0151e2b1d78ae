package pipeline

import (
	"context"
	"log/slog"

	"github.com/flexrec/flexrec/batch"
	"github.com/flexrec/flexrec/internal/shard"
	"github.com/flexrec/flexrec/llm"
	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rollout"
)

// DryRunReport is what a job would send, estimated without a server.
type DryRunReport struct {
	// Rollouts estimates the rollouts' requests (the shard's, when
	// sharded).
	Rollouts batch.Estimate `json:"rollouts"`
	// Report estimates the report's policy requests (one per held-out
	// episode, greedy); zero when the report is skipped or sharded.
	Report batch.Estimate `json:"report"`
	// Total adds them up.
	Total batch.Estimate `json:"total"`
	// Prices are the job's prices per million tokens.
	Prices llm.Prices `json:"prices"`
}

// DryRun builds the job's episodes and renders every request the job
// would send through the online render path, over a backend that
// answers nothing, and prices the estimate (see batch.Estimate). It
// opens no backend and writes nothing. In the sparse mode unobserved
// gains count as 0 (no critic is trained): the requests do not depend on
// them.
func DryRun(ctx context.Context, job Job, sh shard.Spec, log *slog.Logger) (*DryRunReport, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st, err := prepare(ctx, job, log)
	if err != nil {
		return nil, err
	}
	rep := &DryRunReport{Prices: llm.Prices{InputPerMillion: job.Backend.PriceInput, OutputPerMillion: job.Backend.PriceOutput}}
	byID := func(e *prompt.Episode) string { return e.ID }
	if rep.Rollouts, err = estimate(ctx, job, st, shard.Filter(sh, st.train, byID), job.Rollout.Samples, rep.Prices); err != nil {
		return nil, err
	}
	if !job.Eval.Skip && sh.N == 0 {
		test := st.test
		if len(test) == 0 {
			test = st.train
		}
		if rep.Report, err = estimate(ctx, job, st, test, 1, rep.Prices); err != nil {
			return nil, err
		}
	}
	rep.Total = rep.Rollouts
	rep.Total.Requests += rep.Report.Requests
	rep.Total.PromptTokens += rep.Report.PromptTokens
	rep.Total.CompletionTokens += rep.Report.CompletionTokens
	rep.Total.MaxCompletionTokens += rep.Report.MaxCompletionTokens
	rep.Total.Cost += rep.Report.Cost
	rep.Total.MaxCost += rep.Report.MaxCost
	return rep, nil
}

// estimate renders g requests per episode of eps.
func estimate(ctx context.Context, job Job, st *state, eps []prompt.Episode, g int, p llm.Prices) (batch.Estimate, error) {
	cfg, err := rolloutConfig(job, st.needs, job.Backend.Model)
	if err != nil {
		return batch.Estimate{}, err
	}
	cfg.Samples = g
	newRunner := func(b llm.Backend) (*rollout.Runner, error) {
		return rollout.NewRunner(b, rollout.BackendInfo{Name: job.Backend.Kind, Model: job.Backend.Model}, cfg, zeroCritic{})
	}
	ps, err := batch.Prepare(ctx, newRunner, nil, eps, batch.PrepareOptions{DryRun: true, Seed: cfg.Seed, Prices: p})
	return ps.Estimate, err
}

// zeroCritic predicts 0 for every unobserved gain, for the dry run.
type zeroCritic struct{}

// Predict implements rl.Predictor.
func (zeroCritic) Predict(string, string) (float64, float64) { return 0, 0 }
