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
	Rollouts estimateSum `json:"rollouts"`
	// Report estimates the report's LLM requests (one per held-out
	// episode, greedy, for the policy and each of eval.llms; the shard's
	// episodes when sharded); zero when the report is skipped.
	Report estimateSum `json:"report"`
	// Total adds them up.
	Total estimateSum `json:"total"`
	// Prices are the job's prices per million tokens.
	Prices llm.Prices `json:"prices"`
}

// DryRun builds the job's episodes and renders every request the job (or
// its shard sh) would send through the online render path, over a
// backend that answers nothing, and prices the estimate (see
// batch.Estimate). It
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
	if rep.Rollouts.Estimate, err = estimate(ctx, job, st, shard.Filter(sh, st.train, byID), job.Rollout.Samples, rep.Prices); err != nil {
		return nil, err
	}
	if !job.Eval.Skip {
		test := st.test
		if len(test) == 0 {
			test = st.train
		}
		test = shard.Filter(sh, test, byID)
		if rep.Report.Estimate, err = estimate(ctx, job, st, test, 1, rep.Prices); err != nil {
			return nil, err
		}
		for _, l := range job.Eval.LLMs {
			p := llm.Prices{InputPerMillion: l.PriceInput, OutputPerMillion: l.PriceOutput}
			e, err := estimate(ctx, job, st, test, 1, p)
			if err != nil {
				return nil, err
			}
			rep.Report.add(e)
		}
	}
	rep.Total = rep.Rollouts
	rep.Total.add(rep.Report.Estimate)
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

// estimateSum is a batch.Estimate that adds up.
type estimateSum struct{ batch.Estimate }

func (e *estimateSum) add(o batch.Estimate) {
	e.Requests += o.Requests
	e.PromptTokens += o.PromptTokens
	e.CompletionTokens += o.CompletionTokens
	e.MaxCompletionTokens += o.MaxCompletionTokens
	e.Cost += o.Cost
	e.MaxCost += o.MaxCost
}
