package rollout

import (
	"context"
	"fmt"
	"hash/fnv"
	"strconv"

	"golang.org/x/sync/errgroup"

	"github.com/flexrec/flexrec/llm"
	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rank"
	"github.com/flexrec/flexrec/rl"
)

// Runner samples and scores the rollouts of episodes. It is safe for
// concurrent use: every call to Episode has its own buffers.
type Runner struct {
	info    BackendInfo
	cfg     Config
	critic  rl.Predictor
	sampler *Sampler
}

// NewRunner returns a Runner over backend. critic fills in the gains of
// unobserved candidates in the sparse mode (and orders the score repair);
// nil means every gain must be observed.
func NewRunner(backend llm.Backend, info BackendInfo, cfg Config, critic rl.Predictor) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Repair == rank.ByScore && critic == nil {
		return nil, fmt.Errorf("rollout: repair policy score needs a critic")
	}
	r := &Runner{info: info, cfg: cfg, critic: critic}
	opts := cfg.Prompt
	opts.Shuffle = true // each rollout gets its own candidate order
	r.sampler = &Sampler{Backend: backend, Request: r.request(), Prompt: opts, Schema: cfg.Schema,
		Repair: cfg.Repair, RepairScores: r.repairScores}
	return r, nil
}

// Seed returns the seed of rollout i of an episode: a hash of the
// base seed and the episode id, plus i, kept in [0, 2^31) so every server
// accepts it.
func Seed(base int64, episodeID string, i int) int64 {
	h := fnv.New64a()
	h.Write([]byte(strconv.FormatInt(base, 10) + "\x00" + episodeID))
	return int64((h.Sum64() + uint64(i)) & 0x7fffffff)
}

// Episode samples the G rollouts of ep concurrently, parses, repairs and
// aligns each, and scores the group. The records come back in rollout
// order. An error of the backend (after its own retries) fails the episode.
func (r *Runner) Episode(ctx context.Context, ep *prompt.Episode) ([]Record, error) {
	grp, err := r.group(ep)
	if err != nil {
		return nil, err
	}
	g, gctx := errgroup.WithContext(ctx)
	for i := range grp.recs {
		g.Go(func() error { return r.sample(gctx, ep, &grp.need, i, &grp.recs[i]) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := r.finish(ep, grp); err != nil {
		return nil, err
	}
	return grp.recs, nil
}

// group is one episode's rollouts while they are sampled: the need and
// gains they will be scored with, and a record slot per rollout.
type group struct {
	need             prompt.Need
	gains, variances []float64
	recs             []Record
}

// group resolves ep's need and gains (observed, or the critic's), the part
// of an episode that fails for good rather than transiently.
func (r *Runner) group(ep *prompt.Episode) (*group, error) {
	need, err := r.cfg.need(ep.Need)
	if err != nil {
		return nil, fmt.Errorf("rollout: episode %q: %w", ep.ID, err)
	}
	gains, variances, err := rl.Fill(nil, nil, ep, need.Gain, r.critic)
	if err != nil {
		return nil, fmt.Errorf("rollout: episode %q: %w", ep.ID, err)
	}
	return &group{need: need, gains: gains, variances: variances, recs: make([]Record, r.cfg.Samples)}, nil
}

// finish scores a group whose every rollout was sampled.
func (r *Runner) finish(ep *prompt.Episode, grp *group) error {
	if err := r.score(grp.recs, grp.gains, grp.variances); err != nil {
		return fmt.Errorf("rollout: episode %q: %w", ep.ID, err)
	}
	return nil
}

// sample draws rollout i of ep into rec through the Runner's Sampler.
// Rewards come later, for the whole group.
func (r *Runner) sample(ctx context.Context, ep *prompt.Episode, need *prompt.Need, i int, rec *Record) error {
	got, _, err := r.sampler.Sample(ctx, ep, need, Seed(r.cfg.Seed, ep.ID, i))
	if err != nil {
		return fmt.Errorf("rollout: episode %q rollout %d: %w", ep.ID, i, err)
	}
	*rec = *got
	rec.Rollout, rec.Group, rec.Backend.Name = i, r.cfg.Samples, r.info.Name
	if rec.Backend.Model == "" {
		rec.Backend.Model = r.cfg.Model
	}
	return nil
}

// request is the template of every rollout's request (see Draw).
func (r *Runner) request() llm.Request {
	temp := r.cfg.Temperature
	return llm.Request{
		Model: r.cfg.Model, Temperature: &temp, TopP: r.cfg.TopP, MaxTokens: r.cfg.MaxTokens,
		Logprobs: true, TopLogprobs: r.cfg.TopLogprobs, AllowMissingLogprobs: r.cfg.AllowMissingLogprobs,
	}
}

// repairScores orders the score repair by the critic's predicted
// engagement (shown order); nil for the prompt-order repair. Labels never
// order a repair, so a repaired tail earns no reward it did not choose.
func (r *Runner) repairScores(ep *prompt.Episode, rendered *prompt.Rendered) []float64 {
	if r.cfg.Repair != rank.ByScore {
		return nil
	}
	scores := make([]float64, len(rendered.Order))
	for k, idx := range rendered.Order {
		scores[k], _ = r.critic.Predict(ep.UserID, ep.Candidates[idx].ItemID)
	}
	return scores
}
