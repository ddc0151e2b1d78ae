package rollout

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/flexrec/flexrec/prompt"
)

// RunOptions controls Run.
type RunOptions struct {
	// Path is the rollouts JSONL file. It is appended to and resumed.
	Path string
	// Concurrency is the number of episodes in flight, >= 1. Default 4.
	Concurrency int
	// Fingerprint identifies the configuration that writes Path (seeds,
	// backend, model, sampling, rewards); a resume under another
	// fingerprint is refused rather than mixing two runs. Stored in
	// Path + ".meta.json".
	Fingerprint string
	// Progress, when set, is called after each episode is written, from
	// one goroutine.
	Progress func(Stats)
}

// Stats summarises a run. Counts include resumed episodes.
type Stats struct {
	// Total is the number of episodes of the run; Episodes those written so
	// far, Resumed of them found complete in the file at the start.
	Total, Episodes, Resumed int
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

// Run writes the rollouts of eps to opts.Path in episode order, G records
// per episode, appended and synced per episode. Run again with the same
// episodes and fingerprint after a kill, it keeps the complete groups
// already in the file, cuts any partial tail, and goes on where it stopped,
// so the file ends up byte-identical to an uninterrupted run's. When ctx is
// cancelled it dispatches no new episode, lets those in flight finish,
// writes them, and returns ctx's error.
func Run(ctx context.Context, r *Runner, eps []prompt.Episode, opts RunOptions) (Stats, error) {
	st := Stats{Total: len(eps)}
	if opts.Concurrency < 1 {
		opts.Concurrency = 4
	}
	if err := checkMeta(opts.Path, opts.Fingerprint); err != nil {
		return st, err
	}
	done, err := resume(opts.Path, eps, r.cfg.Samples, &st)
	if err != nil {
		return st, err
	}
	f, err := os.OpenFile(opts.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return st, fmt.Errorf("rollout: open %s: %w", opts.Path, err)
	}
	defer f.Close()
	werr := runFrom(ctx, r, eps, done, opts, f, &st)
	if err := f.Close(); err != nil && werr == nil {
		werr = fmt.Errorf("rollout: close %s: %w", opts.Path, err)
	}
	if werr == nil && ctx.Err() != nil {
		werr = ctx.Err()
	}
	return st, werr
}

// runFrom samples episodes done.. with a pool of workers and writes them in
// order. In-flight episodes run under a context that ctx's cancellation
// does not reach, so an interrupt finishes them instead of losing them.
func runFrom(ctx context.Context, r *Runner, eps []prompt.Episode, done int, opts RunOptions, w io.Writer, st *Stats) error {
	g, gctx := errgroup.WithContext(context.WithoutCancel(ctx))
	next := make(chan int)
	stopped := make(chan struct{})
	var sent atomic.Int64 // episodes [0, sent) were dispatched
	sent.Store(int64(done))
	results := make([]chan []Record, len(eps))
	for i := done; i < len(eps); i++ {
		results[i] = make(chan []Record, 1)
	}
	// window bounds how far workers run ahead of the writer, so memory
	// stays flat and an interrupt leaves little in flight.
	window := make(chan struct{}, 2*opts.Concurrency)
	g.Go(func() error { // dispatcher: stops at an interrupt
		defer close(stopped)
		defer close(next)
		for i := done; i < len(eps); i++ {
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
				return nil
			case <-gctx.Done():
				return nil
			}
			select {
			case next <- i:
				sent.Store(int64(i + 1))
			case <-ctx.Done():
				return nil
			case <-gctx.Done():
				return nil
			}
		}
		return nil
	})
	for range opts.Concurrency {
		g.Go(func() error {
			for i := range next {
				recs, err := r.Episode(gctx, &eps[i])
				if err != nil {
					return err
				}
				results[i] <- recs
			}
			return nil
		})
	}
	g.Go(func() error {
		for i := done; i < len(eps); i++ {
			recs, ok := awaitEpisode(gctx, results[i], stopped, func() bool { return int64(i) < sent.Load() })
			if !ok {
				return nil
			}
			if err := writeGroup(w, recs, opts, st); err != nil {
				return err
			}
			<-window
		}
		return nil
	})
	return g.Wait()
}

// awaitEpisode waits for an episode's records; false when the run stopped
// before the episode was dispatched, or failed.
func awaitEpisode(ctx context.Context, res chan []Record, stopped chan struct{}, dispatched func() bool) ([]Record, bool) {
	select {
	case recs := <-res:
		return recs, true
	case <-ctx.Done():
		return nil, false
	case <-stopped:
		if !dispatched() {
			return nil, false
		}
	}
	select {
	case recs := <-res:
		return recs, true
	case <-ctx.Done():
		return nil, false
	}
}

// writeGroup appends one episode's records in one write and syncs.
func writeGroup(w io.Writer, recs []Record, opts RunOptions, st *Stats) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for k := range recs {
		if err := enc.Encode(&recs[k]); err != nil {
			return fmt.Errorf("rollout: encode %s: %w", recs[k].EpisodeID, err)
		}
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("rollout: write %s: %w", opts.Path, err)
	}
	if f, ok := w.(interface{ Sync() error }); ok {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("rollout: sync %s: %w", opts.Path, err)
		}
	}
	st.add(recs)
	if opts.Progress != nil {
		opts.Progress(*st)
	}
	return nil
}
