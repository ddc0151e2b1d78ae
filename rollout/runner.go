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
	backend llm.Backend
	info    BackendInfo
	cfg     Config
	critic  rl.Predictor
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
	return &Runner{backend: backend, info: info, cfg: cfg, critic: critic}, nil
}

// RolloutSeed returns the seed of rollout i of an episode: a hash of the
// base seed and the episode id, plus i, kept in [0, 2^31) so every server
// accepts it.
func RolloutSeed(base int64, episodeID string, i int) int64 {
	h := fnv.New64a()
	h.Write([]byte(strconv.FormatInt(base, 10) + "\x00" + episodeID))
	return int64((h.Sum64() + uint64(i)) & 0x7fffffff)
}

// Episode samples the G rollouts of ep concurrently, parses, repairs and
// aligns each, and scores the group. The records come back in rollout
// order. An error of the backend (after its own retries) fails the episode.
func (r *Runner) Episode(ctx context.Context, ep *prompt.Episode) ([]Record, error) {
	need, err := r.cfg.need(ep.Need)
	if err != nil {
		return nil, fmt.Errorf("rollout: episode %q: %w", ep.ID, err)
	}
	gains, variances, err := rl.Fill(nil, nil, ep, need.Gain, r.critic)
	if err != nil {
		return nil, fmt.Errorf("rollout: episode %q: %w", ep.ID, err)
	}
	recs := make([]Record, r.cfg.Samples)
	g, gctx := errgroup.WithContext(ctx)
	for i := range recs {
		g.Go(func() error { return r.sample(gctx, ep, &need, i, &recs[i]) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := r.score(recs, gains, variances); err != nil {
		return nil, fmt.Errorf("rollout: episode %q: %w", ep.ID, err)
	}
	return recs, nil
}

// sample draws rollout i of ep into rec: render, sample, parse, repair,
// align. Rewards come later, for the whole group.
func (r *Runner) sample(ctx context.Context, ep *prompt.Episode, need *prompt.Need, i int, rec *Record) error {
	seed := RolloutSeed(r.cfg.Seed, ep.ID, i)
	opts := r.cfg.Prompt
	opts.Shuffle = true
	rendered, err := prompt.Render(ep, need, opts, seed)
	if err != nil {
		return err
	}
	resp, err := r.backend.Sample(ctx, r.request(ep, rendered, seed))
	if err != nil {
		return fmt.Errorf("rollout: episode %q rollout %d: %w", ep.ID, i, err)
	}
	if len(resp.Samples) == 0 {
		return fmt.Errorf("rollout: episode %q rollout %d: backend returned no sample", ep.ID, i)
	}
	smp := &resp.Samples[0]
	cands := make([]rank.Candidate, len(rendered.Order))
	for k := range cands {
		cands[k] = rank.Candidate{ID: strconv.Itoa(k + 1), Title: rendered.Titles[k]}
	}
	res := rank.ParseSample(smp, cands)
	if err := rank.Repair(res, r.cfg.Repair, r.repairScores(ep, rendered)); err != nil {
		return fmt.Errorf("rollout: episode %q rollout %d: %w", ep.ID, i, err)
	}
	*rec = Record{
		Schema: SchemaVersion, EpisodeID: ep.ID, UserID: ep.UserID, Need: ep.Need,
		Rollout: i, Group: r.cfg.Samples, Seed: seed, Messages: rendered.Messages, Order: rendered.Order,
		Completion: smp.Text, FinishReason: smp.FinishReason, Parse: res.Report(), Usage: smp.Usage,
		Backend: BackendInfo{Name: r.info.Name, Model: resp.Model, Fingerprint: resp.Fingerprint},
	}
	if rec.Backend.Model == "" {
		rec.Backend.Model = r.cfg.Model
	}
	fillPlacement(rec, ep, rendered, res, smp.Tokens)
	return nil
}

func (r *Runner) request(ep *prompt.Episode, rendered *prompt.Rendered, seed int64) *llm.Request {
	msgs := make([]llm.Message, len(rendered.Messages))
	for k, m := range rendered.Messages {
		msgs[k] = llm.Message{Role: m.Role, Content: m.Content}
	}
	temp := r.cfg.Temperature
	req := &llm.Request{
		Model: r.cfg.Model, Messages: msgs, N: 1, Temperature: &temp, TopP: r.cfg.TopP,
		Seed: &seed, MaxTokens: r.cfg.MaxTokens, Logprobs: true, TopLogprobs: r.cfg.TopLogprobs,
		AllowMissingLogprobs: r.cfg.AllowMissingLogprobs,
		Subject:              &llm.Subject{Episode: ep, Order: rendered.Order},
	}
	if r.cfg.Schema {
		req.JSONSchema = rendered.JSONSchema()
	}
	return req
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
