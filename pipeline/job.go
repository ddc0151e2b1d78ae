package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/flexrec/flexrec/eval"
	"github.com/flexrec/flexrec/eval/dataset"
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
	// Episodes is the number of episodes rolled out; HeldOut the number of
	// held-out users' episodes the report scores; Dropped those without a
	// relevant candidate.
	Episodes int `json:"episodes"`
	HeldOut  int `json:"held_out_episodes"`
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
	sum.Episodes, sum.HeldOut, sum.Dropped = len(st.train), len(st.test), st.dropped
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
	// needs are the job's needs as the episode builder applied them
	// (thresholds on the dataset's scale).
	needs []prompt.Need
	// train are the episodes of the rollouts, critic and exports; test
	// those of the report (held-out users).
	train, test []prompt.Episode
	critic      rl.Predictor
}

// prepare builds the episodes (and the critic in the sparse mode) and
// checks that dir belongs to this job.
func prepare(ctx context.Context, job Job, dir string, log *slog.Logger) (*state, error) {
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
	st := &state{suite: suite}
	for _, sp := range suite.Splits {
		st.dropped += sp.Dropped
		st.needs = append(st.needs, sp.Rule)
	}
	st.train, st.test = holdOut(suite.Episodes, job.Eval.HoldOut, job.Episodes.Seed)
	log.Info("episodes built", "episodes", len(st.train), "held_out", len(st.test), "dropped", st.dropped, "train_interactions", len(suite.Train))
	if err := claim(dir, job); err != nil {
		return nil, err
	}
	if err := dataset.WriteEpisodesFile(filepath.Join(dir, "episodes.jsonl"), st.train); err != nil {
		return nil, err
	}
	if err := dataset.WriteEpisodesFile(filepath.Join(dir, "heldout.jsonl"), st.test); err != nil {
		return nil, err
	}
	if job.Episodes.Sparse > 0 {
		if st.critic, err = trainCritic(ctx, job, dir, st.train, log); err != nil {
			return nil, err
		}
	}
	return st, ctx.Err()
}

// claim records the job in dir/job.json, or refuses a dir whose outputs
// another job wrote: one whose content-deciding settings (see
// fingerprint) differ. Limits, timeouts, exports and report settings may
// change between a run and its resume. It runs after the episodes were
// built, so a job that fails on its input claims nothing.
func claim(dir string, job Job) error {
	path := filepath.Join(dir, "job.json")
	var have struct {
		Fingerprint string `json:"fingerprint"`
	}
	if b, err := os.ReadFile(path); err == nil {
		if json.Unmarshal(b, &have) == nil && have.Fingerprint == fingerprint(job) {
			return writeJSON(path, jobFile{Fingerprint: fingerprint(job), Job: job})
		}
		return fmt.Errorf("pipeline: %s holds the outputs of another job (see %s): use another --out or remove it", dir, path)
	}
	return writeJSON(path, jobFile{Fingerprint: fingerprint(job), Job: job})
}

// jobFile is dir/job.json: the last job that ran there and the
// fingerprint of its content-deciding settings.
type jobFile struct {
	Fingerprint string `json:"fingerprint"`
	Job         Job    `json:"job"`
}

// fingerprint hashes what decides the content of the episodes and
// rollouts: dataset, needs, builder, backend kind, model and server,
// sampling and rewards, the critic and the held-out split. Limits,
// timeouts, prices, the cache, exports and report rankers do not count.
func fingerprint(job Job) string {
	r := job.Rollout
	r.Episodes = 0                // episodes in flight change no record
	b, _ := json.Marshal(struct { // plain structs: cannot fail
		D       string
		N       []string
		E       EpisodesConfig
		K, M, U string
		NumCtx  int
		SO      string
		R       RolloutConfig
		C       string
		H       float64
	}{job.Dataset, job.Needs, job.Episodes, job.Backend.Kind, job.Backend.Model, job.Backend.BaseURL,
		job.Backend.NumCtx, job.Backend.StructuredOutputs, r, job.Critic, job.Eval.HoldOut})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// holdOut splits episodes by user: a seeded hash puts a fraction of the
// users (all their episodes, every need) into test. Order is kept.
func holdOut(eps []prompt.Episode, frac float64, seed int64) (train, test []prompt.Episode) {
	for _, ep := range eps {
		h := sha256.Sum256([]byte(strconv.FormatInt(seed, 10) + "\x00" + ep.UserID))
		if float64(binary.BigEndian.Uint64(h[:8])>>11)/(1<<53) < frac {
			test = append(test, ep)
		} else {
			train = append(train, ep)
		}
	}
	return train, test
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
