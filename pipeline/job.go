package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flexrec/flexrec/eval"
	"github.com/flexrec/flexrec/eval/dataset"
	"github.com/flexrec/flexrec/internal/folderlock"
	"github.com/flexrec/flexrec/internal/shard"
	"github.com/flexrec/flexrec/llm"
	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rl"
	"github.com/flexrec/flexrec/rollout"
)

// Options are the job's run-time hooks; none changes its results.
type Options struct {
	// Logger receives progress records; nil discards them.
	Logger *slog.Logger
	// Progress, when set, is called as rollouts are written or fail, from
	// one goroutine.
	Progress func(Progress)
	// FailFast ends the job at the first episode that fails after the
	// backend's retries; by default the job goes on, lists failures in
	// DIR/failures.jsonl and fails at the end (see rollout.RunOptions).
	FailFast bool
	// TruncateAtDamage cuts a damaged rollouts file at its first damaged
	// line instead of refusing to resume it.
	TruncateAtDamage bool
	// Shard rolls out and evaluates only its episodes (the whole job when
	// zero); the episode files, the critic and the fingerprint stay the
	// whole job's, so Merge of the shards equals one machine's outputs. A
	// sharded job writes report/shard.json (see eval.EvaluateShard), not a
	// report; Merge computes the report from the shards'.
	Shard shard.Spec
	// MaxCost stops the rollouts once this invocation's requests cost that
	// much at the job's prices (see Budget); 0 is no limit.
	MaxCost float64
}

// Progress is the job's state while it samples rollouts.
type Progress struct {
	// Stats are the rollout counts so far (resumed episodes included).
	Stats rollout.Stats
	// Backend is the LLM stack's live meter and throttle state; nil for the
	// builtin policy.
	Backend *Opened
}

// Job statuses, in Summary.Status.
const (
	StatusComplete    = "complete"
	StatusInterrupted = "interrupted"
	StatusFailed      = "failed"
)

// Summary is what a job reports, finished or not: it counts what was done,
// not what was planned.
type Summary struct {
	// Out is the output folder.
	Out string `json:"out"`
	// Status is complete, interrupted (Ctrl-C) or failed; Error says why a
	// job that is not complete stopped.
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
	// Episodes is the number of episodes of the rollouts; RolledOut those
	// written (resumed ones included); Failed those that failed after the
	// backend's retries in this invocation (see failures.jsonl), by reason
	// in FailureReasons; HeldOut the held-out users' episodes the report
	// scores; Dropped those without a relevant candidate.
	Episodes       int            `json:"episodes"`
	RolledOut      int            `json:"rolled_out_episodes"`
	Failed         int            `json:"failed_episodes"`
	FailureReasons map[string]int `json:"failure_reasons,omitempty"`
	HeldOut        int            `json:"held_out_episodes"`
	Dropped        int            `json:"dropped"`
	// Rollouts counts the records in the file; Resumed the episodes found
	// done at the start.
	Rollouts int `json:"rollouts"`
	Resumed  int `json:"resumed_episodes"`
	// InvalidRate is the share of rollouts whose answer needed repair.
	InvalidRate float64 `json:"invalid_output_rate"`
	// MeanListReward is the mean NDCG of the sampled rankings.
	MeanListReward float64 `json:"mean_list_reward"`
	// PromptTokens and CompletionTokens total the rollouts' usage; Cost is
	// what this invocation's requests cost (cache hits are free).
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

// Run runs the job into dir, holding dir's lock (a second job on the same
// dir is refused at once, naming the holder). Run again after a kill with
// the same job and dir, it verifies and resumes the rollouts where they
// stopped and redoes the cheap, deterministic stages (episodes, models,
// exports, report), so the outputs equal an uninterrupted run's. A job
// whose content-deciding settings differ is refused, naming each one. A
// job that fails on its input leaves no folder behind. On cancellation it
// cancels the requests in flight, keeps the complete groups, and returns
// ctx's error with a summary that says so. Episodes that fail after the
// backend's retries do not stop the others (unless opts.FailFast): Run
// returns a *rollout.FailedError at the end, with no exports or report,
// and a rerun samples exactly those.
func Run(ctx context.Context, job Job, dir string, opts Options) (sum *Summary, err error) {
	start := time.Now()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := job.Validate(); err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	_, statErr := os.Stat(dir)
	lock, err := folderlock.Acquire(dir)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	claimed := false
	defer func() {
		if !claimed && errors.Is(statErr, os.ErrNotExist) {
			_ = lock.Release()    // the process's exit releases it anyway
			_ = os.RemoveAll(dir) // best effort: nothing of this job is in it
		}
		if rerr := lock.Release(); rerr != nil && err == nil {
			err = rerr
		}
	}()
	st, err := prepare(ctx, job, log)
	if err != nil {
		return nil, err
	}
	backend, err := openBackend(ctx, job, dir, st, log)
	if err != nil {
		return nil, err
	}
	if err := backend.Probe(ctx); err != nil {
		return nil, err
	}
	if err := claim(dir, job); err != nil {
		return nil, err
	}
	claimed = true
	sum = &Summary{Out: dir, Episodes: len(st.train), HeldOut: len(st.test), Dropped: st.dropped}
	defer func() { sum.finish(err, start, dir, log) }()
	if err := writeEpisodes(ctx, job, dir, st, log); err != nil {
		return sum, err
	}
	stats, runErr := rollouts(ctx, job, dir, st, backend, opts, log)
	sum.fill(stats, backend)
	if runErr != nil {
		return sum, runErr
	}
	if sum.Exports, err = exports(ctx, job, dir, log); err != nil {
		return sum, err
	}
	if !job.Eval.Skip {
		if sum.Report, err = report(ctx, job, dir, st, backend, sum, opts.Shard, log); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

// finish sets the summary's status from the job's error and writes it to
// dir/summary.json.
func (s *Summary) finish(err error, start time.Time, dir string, log *slog.Logger) {
	s.Seconds = time.Since(start).Seconds()
	switch {
	case err == nil:
		s.Status = StatusComplete
	case errors.Is(err, context.Canceled):
		s.Status, s.Error = StatusInterrupted, err.Error()
	default:
		s.Status, s.Error = StatusFailed, err.Error()
	}
	if werr := writeJSON(filepath.Join(dir, "summary.json"), s); werr != nil {
		log.Error("pipeline: summary not written", "err", werr)
	}
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

// prepare builds the episodes from the job's input; it writes nothing.
func prepare(ctx context.Context, job Job, log *slog.Logger) (*state, error) {
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
	for _, w := range ds.Warnings() {
		log.Warn("dataset: " + w)
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
	return st, ctx.Err()
}

// writeEpisodes writes the claimed dir's episode files and, in the sparse
// mode, trains and saves the critic.
func writeEpisodes(ctx context.Context, job Job, dir string, st *state, log *slog.Logger) error {
	if err := dataset.WriteEpisodesFile(filepath.Join(dir, "episodes.jsonl"), st.train); err != nil {
		return err
	}
	if err := dataset.WriteEpisodesFile(filepath.Join(dir, "heldout.jsonl"), st.test); err != nil {
		return err
	}
	if job.Episodes.Sparse > 0 {
		var err error
		if st.critic, err = trainCritic(ctx, job, dir, st.train, log); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// claim records the job in dir/job.json, or refuses a dir whose outputs
// another job wrote: one whose content-deciding settings (see
// contentSettings) differ, naming each with its old and new value. Limits,
// timeouts, the server's address, exports and report settings may change
// between a run and its resume. It runs after the input loaded and the
// backend answered, so a job that fails on either claims nothing.
func claim(dir string, job Job) error {
	path := filepath.Join(dir, "job.json")
	if b, err := os.ReadFile(path); err == nil {
		var have jobFile
		if err := json.Unmarshal(b, &have); err != nil {
			return fmt.Errorf("pipeline: %s: %w: fix or remove it", path, err)
		}
		if have.Fingerprint != fingerprint(job) {
			diff := diffSettings(contentSettings(have.Job), contentSettings(job))
			return fmt.Errorf("pipeline: %s holds the outputs of another job (%s); the settings that decide its content differ: %s. Use another --out, or run with the old values to resume it",
				dir, path, strings.Join(diff, "; "))
		}
	}
	saved := job
	saved.Backend.BaseURL = llm.SafeURL(job.Backend.BaseURL)
	return writeJSON(path, jobFile{Fingerprint: fingerprint(job), Job: saved})
}

// jobFile is dir/job.json: the last job that ran there (the server's
// address without credentials) and the fingerprint of its content-deciding
// settings.
type jobFile struct {
	Fingerprint string `json:"fingerprint"`
	Job         Job    `json:"job"`
}

// contentSettings flattens what decides the content of the episodes and
// rollouts into "section.key" → JSON value: dataset, needs, builder,
// backend kind and model (not the server's address: moving a job to
// another server with the same model is allowed), sampling and rewards,
// the critic and the held-out split. Limits, timeouts, prices, the cache,
// exports and report rankers do not count.
func contentSettings(job Job) map[string]string {
	r := job.Rollout
	r.Episodes = 0 // episodes in flight change no record
	v := struct {
		Dataset  string         `json:"dataset"`
		Needs    []string       `json:"needs"`
		Episodes EpisodesConfig `json:"episodes"`
		Backend  struct {
			Kind              string `json:"kind"`
			Model             string `json:"model"`
			NumCtx            int    `json:"num_ctx"`
			StructuredOutputs string `json:"structured_outputs"`
		} `json:"backend"`
		Rollout RolloutConfig `json:"rollout"`
		Critic  string        `json:"critic"`
		HoldOut float64       `json:"eval.holdout"`
	}{Dataset: job.Dataset, Needs: job.Needs, Episodes: job.Episodes, Rollout: r, Critic: job.Critic, HoldOut: job.Eval.HoldOut}
	v.Backend.Kind, v.Backend.Model, v.Backend.NumCtx, v.Backend.StructuredOutputs = job.Backend.Kind, job.Backend.Model, job.Backend.NumCtx, job.Backend.StructuredOutputs
	b, _ := json.Marshal(v) // plain structs: cannot fail
	var tree map[string]any
	_ = json.Unmarshal(b, &tree) // just marshalled: cannot fail
	out := map[string]string{}
	flatten("", tree, out)
	return out
}

func flatten(prefix string, v any, out map[string]string) {
	if m, ok := v.(map[string]any); ok {
		for k, sub := range m {
			key := k
			if prefix != "" {
				key = prefix + "." + k
			}
			flatten(key, sub, out)
		}
		return
	}
	b, _ := json.Marshal(v) // decoded JSON: cannot fail
	out[prefix] = string(b)
}

// diffSettings lists "key: old → new" for each setting that differs.
func diffSettings(old, cur map[string]string) []string {
	var diff []string
	for _, k := range slices.Sorted(maps.Keys(cur)) {
		if old[k] != cur[k] {
			o := old[k]
			if o == "" {
				o = "(unset)"
			}
			diff = append(diff, fmt.Sprintf("%s: %s → %s", k, o, cur[k]))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(old)) {
		if _, ok := cur[k]; !ok {
			diff = append(diff, fmt.Sprintf("%s: %s → (unset)", k, old[k]))
		}
	}
	return diff
}

// fingerprint hashes the content-deciding settings (see contentSettings).
func fingerprint(job Job) string {
	set := contentSettings(job)
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(set)) {
		fmt.Fprintf(h, "%s=%s\x00", k, set[k])
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
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
	s.RolledOut, s.Rollouts, s.Resumed = st.Episodes, st.Rollouts, st.Resumed
	s.Failed, s.FailureReasons = st.Failed, st.Reasons
	if st.Rollouts > 0 {
		s.InvalidRate = float64(st.Invalid) / float64(st.Rollouts)
		s.MeanListReward = st.SumListReward / float64(st.Rollouts)
	}
	s.PromptTokens, s.CompletionTokens = st.PromptTokens, st.CompletionTokens
	if b != nil && b.Stack != nil {
		s.Cost = b.Stack.Meter.Totals().Cost
	}
}
