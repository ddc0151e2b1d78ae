package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/flexrec/flexrec/eval"
	"github.com/flexrec/flexrec/eval/dataset"
	"github.com/flexrec/flexrec/llm"
	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rl"
	"github.com/flexrec/flexrec/rollout"
)

// Options are the job's run-time hooks; none changes its results.
type Options struct {
	// Logger receives progress records; nil discards them.
	Logger *slog.Logger
	// Progress, when set, is called as rollouts are written (episodes done
	// out of total), from one goroutine.
	Progress func(done, total int)
}

// Summary is what a finished (or interrupted) job reports.
type Summary struct {
	// Out is the output folder.
	Out string `json:"out"`
	// Episodes is the number of episodes; Dropped those without a relevant
	// candidate.
	Episodes int `json:"episodes"`
	Dropped  int `json:"dropped"`
	// Rollouts counts the records written; Resumed the episodes found done.
	Rollouts int `json:"rollouts"`
	Resumed  int `json:"resumed_episodes"`
	// InvalidRate is the share of rollouts whose answer needed repair.
	InvalidRate float64 `json:"invalid_output_rate"`
	// MeanListReward is the mean NDCG of the sampled rankings.
	MeanListReward float64 `json:"mean_list_reward"`
	// PromptTokens, CompletionTokens and Cost total the backend's usage
	// (what reached the server; cache hits are free).
	PromptTokens     int     `json:"prompt_tokens"`
	CompletionTokens int     `json:"completion_tokens"`
	Cost             float64 `json:"cost"`
	// Exports lists the export folders written.
	Exports []string `json:"exports"`
	// Report is the evaluation report folder, empty when skipped.
	Report string `json:"report,omitempty"`
	// Seconds is the wall time of this invocation.
	Seconds float64 `json:"seconds"`
}

// Run runs the job into dir. Run again after a kill with the same job and
// dir, it resumes the rollouts where they stopped and redoes the cheap,
// deterministic stages (episodes, models, exports, report), so the outputs
// equal an uninterrupted run's. A different job over the same dir is
// refused. On cancellation it finishes the episodes in flight, flushes, and
// returns ctx's error with the partial summary.
func Run(ctx context.Context, job Job, dir string, opts Options) (*Summary, error) {
	start := time.Now()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := job.Validate(); err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	sum := &Summary{Out: dir}
	st, err := prepare(ctx, job, dir, log)
	if err != nil {
		return nil, err
	}
	sum.Episodes, sum.Dropped = len(st.suite.Episodes), st.dropped
	backend, err := openBackend(ctx, job, dir, st, log)
	if err != nil {
		return nil, err
	}
	stats, runErr := rollouts(ctx, job, dir, st, backend, opts, log)
	sum.fill(stats, backend)
	if runErr != nil {
		sum.Seconds = time.Since(start).Seconds()
		return sum, runErr
	}
	if sum.Exports, err = exports(ctx, job, dir, log); err != nil {
		return sum, err
	}
	if !job.Eval.Skip {
		if sum.Report, err = report(ctx, job, dir, st, backend, log); err != nil {
			return sum, err
		}
	}
	sum.Seconds = time.Since(start).Seconds()
	return sum, writeJSON(filepath.Join(dir, "summary.json"), sum)
}

// state is what the stages before the rollouts produce.
type state struct {
	suite   *eval.Suite
	dropped int
	needs   []prompt.Need
	critic  rl.Predictor
}

// prepare builds the episodes (and the critic in the sparse mode) and
// checks that dir belongs to this job.
func prepare(ctx context.Context, job Job, dir string, log *slog.Logger) (*state, error) {
	if err := claim(dir, job); err != nil {
		return nil, err
	}
	needs := make([]prompt.Need, len(job.Needs))
	for i, id := range job.Needs {
		n, err := prompt.ResolveNeed(id)
		if err != nil {
			return nil, fmt.Errorf("pipeline: %w", err)
		}
		needs[i] = n
	}
	log.Info("loading dataset", "dataset", job.Dataset)
	ds, err := dataset.Load(ctx, job.Dataset)
	if err != nil {
		return nil, err
	}
	cfg := dataset.DefaultBuildConfig()
	cfg.Limit, cfg.NumCandidates, cfg.HistoryLen = job.Episodes.Limit, job.Episodes.Candidates, job.Episodes.History
	cfg.Split, cfg.Sparse, cfg.Seed = job.Episodes.Split, job.Episodes.Sparse, job.Episodes.Seed
	suite, err := eval.BuildSuite(ctx, ds, needs, cfg)
	if err != nil {
		return nil, err
	}
	st := &state{suite: suite, needs: needs}
	for _, sp := range suite.Splits {
		st.dropped += sp.Dropped
	}
	log.Info("episodes built", "episodes", len(suite.Episodes), "dropped", st.dropped, "train_interactions", len(suite.Train))
	if err := dataset.WriteEpisodesFile(filepath.Join(dir, "episodes.jsonl"), suite.Episodes); err != nil {
		return nil, err
	}
	if job.Episodes.Sparse > 0 {
		if st.critic, err = trainCritic(ctx, job, dir, suite.Episodes, log); err != nil {
			return nil, err
		}
	}
	return st, ctx.Err()
}

// claim records the job in dir/job.json, or refuses a dir that holds
// another job's outputs.
func claim(dir string, job Job) error {
	path := filepath.Join(dir, "job.json")
	want, err := json.MarshalIndent(job, "", "  ")
	if err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	if have, err := os.ReadFile(path); err == nil {
		if string(have) != string(want) {
			return fmt.Errorf("pipeline: %s holds the outputs of another job (see %s): use another --out or remove it", dir, path)
		}
		return nil
	}
	return writeFile(path, want)
}

// fingerprint hashes what decides the rollouts' content.
func fingerprint(job Job) string {
	b, _ := json.Marshal(struct { // plain structs: cannot fail
		D string
		N []string
		E EpisodesConfig
		B BackendConfig
		R RolloutConfig
		C string
	}{job.Dataset, job.Needs, job.Episodes, job.Backend, job.Rollout, job.Critic})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

func (s *Summary) fill(st rollout.Stats, b *Opened) {
	s.Rollouts, s.Resumed = st.Rollouts, st.Resumed
	if st.Rollouts > 0 {
		s.InvalidRate = float64(st.Invalid) / float64(st.Rollouts)
		s.MeanListReward = st.SumListReward / float64(st.Rollouts)
	}
	s.PromptTokens, s.CompletionTokens = st.PromptTokens, st.CompletionTokens
	if b != nil && b.Stack != nil {
		s.Cost = b.Stack.Meter.Totals().Cost
	}
}

var _ llm.Backend = (*Opened)(nil)
