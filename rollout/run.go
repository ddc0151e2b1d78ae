package rollout

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/flexrec/flexrec/internal/folderlock"
	"github.com/flexrec/flexrec/prompt"
)

// RunOptions controls Run.
type RunOptions struct {
	// Path is the rollouts JSONL file. It is appended to and resumed.
	Path string
	// Concurrency is the number of rollouts (requests) in flight across
	// episodes, >= 1. Default 8. It is the one bound on requests: a slow
	// episode holds only its own requests, never the others'.
	Concurrency int
	// Window caps the episodes started but not yet written (the reorder
	// buffer that keeps the file in episode order). 0 means
	// 4·⌈Concurrency/G⌉ + 4.
	Window int
	// Fingerprint identifies the configuration that writes Path (seeds,
	// backend, model, sampling, rewards); a resume under another
	// fingerprint is refused rather than mixing two runs. It is stored in
	// Path + ".meta.json" and in every record, which a resume verifies.
	Fingerprint string
	// FailuresPath receives a JSON line per episode that failed after the
	// backend's retries (see Failure). Default: Path without ".jsonl", plus
	// ".failures.jsonl". Written at the end of a run that had failures,
	// removed after one that had none.
	FailuresPath string
	// FailFast ends the run at the first failed episode, cancelling the
	// others, instead of going on and listing failures.
	FailFast bool
	// TruncateAtDamage cuts a damaged file at its first damaged line (the
	// log says how many complete groups that drops) instead of refusing it.
	TruncateAtDamage bool
	// Logger receives notes on resume and failures; nil discards them.
	Logger *slog.Logger
	// Progress, when set, is called after each episode is written or
	// fails, from one goroutine.
	Progress func(Stats)
}

// Stats summarises a run. Counts include resumed episodes.
type Stats struct {
	// Total is the number of episodes of the run; Episodes those written so
	// far, Resumed of them found complete in the file at the start.
	Total, Episodes, Resumed int
	// Failed counts the episodes that failed in this invocation after the
	// backend's retries; Reasons counts them by reason.
	Failed  int            `json:",omitempty"`
	Reasons map[string]int `json:",omitempty"`
	// Rollouts is the number of records written.
	Rollouts int
	// Invalid counts rollouts whose answer needed repair or broke the format.
	Invalid int
	// PromptTokens and CompletionTokens add up the backends' usage.
	PromptTokens, CompletionTokens int
	// SumListReward adds up list rewards, for a mean.
	SumListReward float64
}

func (s *Stats) add(recs []Record) {
	s.Episodes++
	for i := range recs {
		s.Rollouts++
		if !recs[i].Parse.Valid {
			s.Invalid++
		}
		s.PromptTokens += recs[i].Usage.PromptTokens
		s.CompletionTokens += recs[i].Usage.CompletionTokens
		s.SumListReward += recs[i].ListReward
	}
}

// Run writes the rollouts of eps to opts.Path, G records per episode, in
// episode order, appended and synced per episode, under an exclusive lock
// of the file (a second process is refused at once, naming the holder).
//
// Run again after a kill or an interrupt with the same episodes and
// fingerprint, it verifies every record it keeps (checksum, fingerprint,
// episode, place in its group), cuts a torn tail, refuses a damaged or
// foreign file naming its line (see DamageError, ForeignError), and samples
// only the episodes missing, so the file ends up byte-identical to an
// uninterrupted run's.
//
// An episode whose rollout still fails after the backend's retries does not
// stop the others: it goes to opts.FailuresPath, the run goes on, and Run
// returns a *FailedError at the end; a rerun samples exactly the missing
// episodes. With opts.FailFast the first failure ends the run instead.
// When ctx is cancelled Run cancels the requests in flight at once, writes
// the groups that were complete, and returns ctx's error.
func Run(ctx context.Context, r *Runner, eps []prompt.Episode, opts RunOptions) (_ Stats, err error) {
	st := Stats{Total: len(eps)}
	opts.defaults(r.cfg.Samples)
	lock, err := folderlock.AcquireFile(opts.Path)
	if err != nil {
		return st, fmt.Errorf("rollout: %w", err)
	}
	defer func() {
		if rerr := lock.Release(); rerr != nil && err == nil {
			err = rerr
		}
	}()
	if err := checkMeta(opts.Path, opts.Fingerprint); err != nil {
		return st, err
	}
	lay, err := resume(opts.Path, eps, r.cfg.Samples, opts.Fingerprint, opts.TruncateAtDamage, &st, opts.Logger)
	if err != nil {
		return st, err
	}
	f, err := os.OpenFile(opts.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return st, fmt.Errorf("rollout: open %s: %w", opts.Path, err)
	}
	defer f.Close()
	w := &groupWriter{f: f, path: opts.Path, fingerprint: opts.Fingerprint, lay: lay, st: &st, progress: opts.Progress}
	pool := &pool{r: r, eps: eps, opts: opts, w: w}
	werr := pool.run(ctx, pending(lay.done))
	if err := f.Close(); err != nil && werr == nil {
		werr = fmt.Errorf("rollout: close %s: %w", opts.Path, err)
	}
	if werr == nil && ctx.Err() != nil {
		werr = ctx.Err()
	}
	if ferr := writeFailures(opts.FailuresPath, pool.failures); ferr != nil && werr == nil {
		werr = ferr
	}
	if werr == nil && len(pool.failures) > 0 {
		werr = newFailedError(&st, opts.FailuresPath)
	}
	if werr == nil && !lay.ordered() {
		werr = compact(opts.Path, lay)
	}
	return st, werr
}

func (o *RunOptions) defaults(g int) {
	if o.Concurrency < 1 {
		o.Concurrency = 8
	}
	if o.Window < 1 {
		o.Window = 4*((o.Concurrency+g-1)/g) + 4
	}
	if o.FailuresPath == "" {
		o.FailuresPath = strings.TrimSuffix(o.Path, ".jsonl") + ".failures.jsonl"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// pending lists the indices of the episodes not done, in order.
func pending(done []bool) []int {
	var out []int
	for i, d := range done {
		if !d {
			out = append(out, i)
		}
	}
	return out
}

// pool samples rollouts, not episodes: Concurrency workers take single
// rollouts of any started episode, so a slow or retrying request delays
// nothing but its own group. The last rollout of a group to finish scores
// the group. The writer (Run's goroutine) puts groups in episode order.
type pool struct {
	r    *Runner
	eps  []prompt.Episode
	opts RunOptions
	w    *groupWriter
	// failures are this invocation's failed episodes, in episode order.
	failures []Failure
}

// task is one rollout to sample.
type task struct {
	ep *epRun
	i  int
}

// epRun is one episode in flight.
type epRun struct {
	idx    int
	grp    *group
	ctx    context.Context
	cancel context.CancelFunc
	// mu guards left (rollouts not yet returned) and err (the first
	// failure).
	mu   sync.Mutex
	left int
	err  error
}

// result is a finished episode: its scored group or why it failed.
type result struct {
	idx  int
	recs []Record
	err  error
}

func (p *pool) run(ctx context.Context, todo []int) error {
	if len(todo) == 0 {
		return nil
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	tasks := make(chan task)
	results := make(chan result, p.opts.Window) // never blocks: at most Window episodes are out
	slots := make(chan struct{}, p.opts.Window)
	var started atomic.Int64
	dispatched := make(chan error, 1)
	go func() { dispatched <- p.dispatch(runCtx, todo, tasks, results, slots, &started) }()
	var wg sync.WaitGroup
	for range p.opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range tasks {
				p.sample(t, results)
			}
		}()
	}
	err := p.collect(runCtx, cancel, todo, results, slots, dispatched, &started)
	cancel()
	wg.Wait()
	return err
}

// dispatch starts the episodes of todo in order, each when a window slot
// frees, and hands out their rollouts; it stops when ctx ends.
func (p *pool) dispatch(ctx context.Context, todo []int, tasks chan<- task, results chan<- result, slots chan struct{}, started *atomic.Int64) error {
	defer close(tasks)
	for _, idx := range todo {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		grp, err := p.r.group(&p.eps[idx])
		if err != nil {
			<-slots
			return err // a need or gains that cannot be resolved fails every episode alike
		}
		ectx, ecancel := context.WithCancel(ctx)
		ep := &epRun{idx: idx, grp: grp, ctx: ectx, cancel: ecancel, left: len(grp.recs)}
		started.Add(1)
		for i := range grp.recs {
			select {
			case tasks <- task{ep: ep, i: i}:
			case <-ctx.Done():
				if ep.settle(len(grp.recs)-i, ctx.Err()) {
					p.report(ep, results)
				}
				return nil
			}
		}
	}
	return nil
}

// settle records that n rollouts of e returned (or will never start), err
// being the failure of one of them, if any; the first failure cancels the
// group's other requests. It reports whether these were the last.
func (e *epRun) settle(n int, err error) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil && e.err == nil {
		e.err = err
		e.cancel()
	}
	e.left -= n
	return e.left == 0
}

// sample draws one rollout; the group's last scores and reports it.
func (p *pool) sample(t task, results chan<- result) {
	ep := t.ep
	err := ep.ctx.Err()
	if err == nil {
		err = p.r.sample(ep.ctx, &p.eps[ep.idx], &ep.grp.need, t.i, &ep.grp.recs[t.i])
	}
	if ep.settle(1, err) {
		p.report(ep, results)
	}
}

// report scores a settled group, or passes on its failure, to the writer.
func (p *pool) report(ep *epRun, results chan<- result) {
	ep.cancel()
	res := result{idx: ep.idx, err: ep.err}
	if res.err == nil {
		if res.err = p.r.finish(&p.eps[ep.idx], ep.grp); res.err == nil {
			res.recs = ep.grp.recs
		}
	}
	results <- res
}

// collect receives finished episodes and writes them in todo's order; after
// an interrupt or a failure it writes the complete groups that were waiting
// for an earlier episode too, so no finished work is lost (a later run puts
// the file back in order, see compact).
func (p *pool) collect(runCtx context.Context, cancel context.CancelFunc, todo []int, results <-chan result,
	slots chan struct{}, dispatched <-chan error, started *atomic.Int64) error {
	waiting := map[int]result{}
	next, received, dispatchDone := 0, 0, false
	var first error
	fail := func(err error) {
		if err != nil && first == nil {
			first = err
			cancel()
		}
	}
	for !dispatchDone || int64(received) < started.Load() {
		select {
		case res := <-results:
			received++
			waiting[res.idx] = res
			for next < len(todo) {
				res, ok := waiting[todo[next]]
				if !ok {
					break
				}
				delete(waiting, todo[next])
				next++
				<-slots
				fail(p.settleResult(runCtx, res))
			}
		case err := <-dispatched:
			dispatchDone = true
			fail(err)
		}
	}
	for _, idx := range slices.Sorted(maps.Keys(waiting)) {
		fail(p.settleResult(runCtx, waiting[idx]))
	}
	return first
}

// settleResult writes a finished group, or records a failed episode. A
// group that failed because the run was stopping is dropped, not counted.
func (p *pool) settleResult(runCtx context.Context, res result) error {
	if res.err == nil {
		return p.w.write(res.idx, res.recs)
	}
	if runCtx.Err() != nil {
		return nil
	}
	ep := &p.eps[res.idx]
	f := Failure{EpisodeID: ep.ID, Index: res.idx, Reason: reason(res.err), Error: res.err.Error()}
	p.failures = append(p.failures, f)
	p.w.st.Failed++
	if p.w.st.Reasons == nil {
		p.w.st.Reasons = map[string]int{}
	}
	p.w.st.Reasons[f.Reason]++
	p.opts.Logger.Warn("rollout: episode failed after retries; the run goes on and a rerun retries it",
		"episode", ep.ID, "reason", f.Reason, "err", res.err)
	if p.w.progress != nil {
		p.w.progress(*p.w.st)
	}
	if p.opts.FailFast {
		return res.err
	}
	return nil
}
