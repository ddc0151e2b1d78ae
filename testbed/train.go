package testbed

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/flexrec/flexrec/rl"
)

// Point is one point of a learning curve.
type Point struct {
	// Iter is the number of updates done (0: the initial policy).
	Iter int `json:"iter"`
	// Rollouts is the number of rollouts sampled so far.
	Rollouts int `json:"rollouts"`
	// Reward is the mean list reward of the last update's rollouts under
	// the gains the estimator trains on (NaN-free; 0 at Iter 0).
	Reward float64 `json:"reward"`
	// TrueReward is the mean list reward of the same rollouts under the
	// dense truth (0 at Iter 0).
	TrueReward float64 `json:"true_reward"`
	// Scores holds, per need and measure, the greedy policy's mean on the
	// held-out episodes.
	Scores [][]float64 `json:"scores"`
}

// RunResult is one training run: one mode, estimator and seed.
type RunResult struct {
	// Mode is ModeDense or ModeSparse.
	Mode string `json:"mode"`
	// Estimator is the estimator's name.
	Estimator string `json:"estimator"`
	// Seed is the run's seed.
	Seed int64 `json:"seed"`
	// Policy is the policy class (PolicyLinear, PolicyAutoregressive).
	Policy string `json:"policy"`
	// Cutoff is the training rewards' NDCG cutoff (0: the whole list).
	Cutoff int `json:"cutoff"`
	// Normalize is the item reward normalisation the run used (rl.PerPosition
	// or rl.Pooled; "" for a sequence-level estimator, which has none).
	Normalize string `json:"normalize"`
	// Curve is the learning curve, from Iter 0 to the last update.
	Curve []Point `json:"curve"`
	// Weights are the final policy weights (see FeatureName).
	Weights []float64 `json:"weights"`
}

// Final returns the last point of the curve: the trained policy's scores.
func (r *RunResult) Final() Point { return r.Curve[len(r.Curve)-1] }

// rollout is one sampled ranking with what the update needs.
type rollout struct {
	ep    *episode
	perm  []int
	old   []float64 // ℓ_p under the sampling policy
	adv   []float64 // the advantage crediting ℓ_p
	shown []int     // the prompt order (autoregressive policy)
}

// trainer holds one run's state and buffers.
type trainer struct {
	p        *Problem
	mode     string
	est      Estimator
	tc       TrainConfig
	measures []Measure
	w, grad  []float64
	opt      *adam
	ref      []float64 // the initial policy's weights
	pol      policy
	group    *rl.Group
	truth    rl.Scorer
	batchRNG *rand.Rand
	rng      *rand.Rand
	order    []int
	next     int
	rolls    []rollout
	grs      []rl.Rollout
}

// Train trains the initial policy of class tc.Policy (tc.Init, or tc.AR
// for the autoregressive policy) on p's training episodes with estimator
// est in mode, and returns its learning curve, measured with measures on
// the held-out episodes every tc.EvalEvery updates and after the last. In
// the sparse mode the policy's features come from the feature models
// trained on the observed feedback only.
//
// Each update draws tc.Batch episodes (a seeded shuffle, reshuffled each
// pass), samples tc.Group rankings per episode from the current policy,
// turns them into advantages with rl.Group under est's rl.Config and the
// gains est reads in mode, then takes tc.Epochs Adam steps on the clipped
// surrogate with the KL term (see lossGrad). The seed drives two
// independent streams, one for the batches and one for the samples, so
// every estimator with the same seed sees the same batches and draws its
// first rollouts identically. The same inputs give the same result.
//
// Errors: an invalid tc or est, est not running in mode, a critic est
// needs missing from p, a group rl rejects, and ctx.Err() (checked every
// update).
func Train(ctx context.Context, p *Problem, mode string, est Estimator, seed int64, tc TrainConfig, measures []Measure) (*RunResult, error) {
	t, err := newTrainer(p, mode, est, seed, tc, measures)
	if err != nil {
		return nil, err
	}
	res := &RunResult{Mode: mode, Estimator: est.Name, Seed: seed, Policy: t.policyName(), Cutoff: tc.Cutoff}
	if est.Level == rl.LevelItem {
		res.Normalize = t.group.Config().Normalize
	}
	res.Curve = append(res.Curve, Point{Scores: t.evaluate()})
	for it := 1; it <= tc.Iters; it++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		reward, truth, err := t.collect()
		if err != nil {
			return nil, fmt.Errorf("testbed: %s %s seed %d update %d: %w", mode, est.Name, seed, it, err)
		}
		for range tc.Epochs {
			t.step()
		}
		if it%tc.EvalEvery == 0 || it == tc.Iters {
			res.Curve = append(res.Curve, Point{Iter: it, Rollouts: it * tc.Batch * tc.Group,
				Reward: reward, TrueReward: truth, Scores: t.evaluate()})
		}
	}
	res.Weights = slices.Clone(t.w)
	return res, nil
}

func newTrainer(p *Problem, mode string, est Estimator, seed int64, tc TrainConfig, measures []Measure) (*trainer, error) {
	if err := tc.Validate(); err != nil {
		return nil, err
	}
	if err := est.Validate(); err != nil {
		return nil, err
	}
	if mode != ModeDense && mode != ModeSparse || !est.RunsIn(mode) {
		return nil, fmt.Errorf("testbed: estimator %q does not run in mode %q", est.Name, mode)
	}
	if _, _, ok := p.train[0].gains(mode, est); !ok {
		return nil, fmt.Errorf("testbed: estimator %q needs a %s critic the problem lacks", est.Name, est.Critic)
	}
	group, err := rl.NewGroup(est.rlConfig(tc.RL, tc.Cutoff))
	if err != nil {
		return nil, fmt.Errorf("testbed: estimator %q: %w", est.Name, err)
	}
	w := p.PolicyWeights(tc)
	t := &trainer{p: p, mode: mode, est: est, tc: tc, measures: measures, group: group,
		w: w, ref: slices.Clone(w), grad: make([]float64, len(w)), opt: newAdam(tc.LR, len(w)),
		pol:      newPolicy(tc.Policy, p.dim),
		batchRNG: rand.New(rand.NewPCG(uint64(seed), 0x62617463)), // "batc"
		rng:      rand.New(rand.NewPCG(uint64(seed), 0x73616d70)), // "samp"
		rolls:    make([]rollout, tc.Batch*tc.Group)}
	t.order = t.batchRNG.Perm(len(p.train))
	return t, nil
}

// policyName returns the run's policy class, PolicyLinear for "".
func (t *trainer) policyName() string {
	if t.tc.Policy == "" {
		return PolicyLinear
	}
	return t.tc.Policy
}

// evaluate scores the current weights on the held-out episodes.
func (t *trainer) evaluate() [][]float64 {
	return t.p.EvaluatePolicy(t.policyName(), t.mode, t.w, t.measures)
}

// nextEpisode returns the next training episode of the seeded shuffle.
func (t *trainer) nextEpisode() *episode {
	if t.next == len(t.order) {
		t.batchRNG.Shuffle(len(t.order), func(i, j int) { t.order[i], t.order[j] = t.order[j], t.order[i] })
		t.next = 0
	}
	t.next++
	return t.p.train[t.order[t.next-1]]
}

// collect samples the batch's rollouts and their advantages; it returns
// the mean training and true list rewards.
func (t *trainer) collect() (float64, float64, error) {
	var reward, truth float64
	g := t.tc.Group
	for b := range t.tc.Batch {
		e := t.nextEpisode()
		t.pol.episode(e, e.features(t.mode), t.w, t.ref)
		rs := t.rolls[b*g : (b+1)*g]
		t.grs = t.grs[:0]
		for i := range rs {
			r := &rs[i]
			r.ep = e
			t.pol.sample(r, t.rng)
			t.grs = append(t.grs, rl.Rollout{Permutation: r.perm})
		}
		gains, vars, _ := e.gains(t.mode, t.est)
		if err := t.group.Compute(gains, vars, t.grs); err != nil {
			return 0, 0, fmt.Errorf("episode %q: %w", e.id, err)
		}
		if err := t.truth.Reset(e.truth, t.tc.Cutoff); err != nil {
			return 0, 0, fmt.Errorf("episode %q: %w", e.id, err)
		}
		for i := range rs {
			rs[i].adv = append(rs[i].adv[:0], t.group.ItemAdvantages(i)...)
			reward += t.group.Rewards()[i]
			tr, err := t.truth.ListReward(rs[i].perm)
			if err != nil {
				return 0, 0, fmt.Errorf("episode %q: %w", e.id, err)
			}
			truth += tr
		}
	}
	n := float64(len(t.rolls))
	return reward / n, truth / n, nil
}

// step takes one Adam step on the batch's loss and returns the loss.
func (t *trainer) step() float64 {
	clear(t.grad)
	positions := 0
	for i := range t.rolls {
		positions += len(t.rolls[i].perm) - 1
	}
	o := objective{clip: t.tc.Clip, kl: t.tc.KL, ent: t.tc.Entropy, invT: 1 / float64(max(positions, 1))}
	var loss float64
	var last *episode
	for i := range t.rolls {
		r := &t.rolls[i]
		if r.ep != last { // the rollouts of one episode are adjacent
			t.pol.episode(r.ep, r.ep.features(t.mode), t.w, t.ref)
			last = r.ep
		}
		o.adv, o.old = r.adv, r.old
		loss += t.pol.lossGrad(t.grad, r, &o)
	}
	t.opt.step(t.w, t.grad)
	return loss
}
