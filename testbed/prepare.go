package testbed

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strconv"

	"github.com/flexrec/flexrec/eval/dataset"
	"github.com/flexrec/flexrec/mf"
	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rl"
	"github.com/flexrec/flexrec/rl/critic"
)

// Prepare builds the problem of cfg from ds:
//
//  1. For each need, the episodes of dataset.Build under cfg.Build (dense),
//     and with the sparse mode the observed masks of the same episodes
//     built with Sparse = cfg.Sparse: one mask, as in the pipeline, for
//     the candidates (Labels.Observed) and the history
//     (Labels.HistoryObserved).
//  2. A seeded split of users: a cfg.HeldOut share of them (by a hash of
//     Build.Seed and the user id) has every episode held out.
//  3. The feature models, trained on the dense split's training
//     interactions (each user's interactions before the cut, the same for
//     every need): cfg.Affinity (BPR) and cfg.Rating (ALS). With the sparse
//     mode, a second pair trained on the observed interactions only gives
//     the sparse mode's features, so that neither the policy nor the
//     critic sees feedback the mask hides.
//  4. With the sparse mode, one critic per kind the estimators name,
//     trained (critic.TrainHurdle with cfg.Hurdle, else critic.Train) on
//     critic.TrainingPairs of the training episodes with their observed
//     masks plus the held-out episodes' observed histories (their
//     candidates' labels are dropped first).
//
// log receives one line per phase; nil discards them. Errors come from the
// steps above, naming the need or the model, or are ctx.Err().
func Prepare(ctx context.Context, ds *dataset.Dataset, cfg Config, log *slog.Logger) (*Problem, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := Data{Dataset: ds.Name, Needs: cfg.Needs}
	var train, sparseTrain []dataset.Interaction
	for _, need := range cfg.Needs {
		eps, tr, str, err := buildNeed(ctx, ds, cfg, need)
		if err != nil {
			return nil, err
		}
		train, sparseTrain = tr, str
		before := len(d.Train)
		for _, ep := range eps {
			if heldOutUser(cfg.Build.Seed, ep.UserID, cfg.HeldOut) {
				d.HeldOut = append(d.HeldOut, ep)
			} else {
				d.Train = append(d.Train, ep)
			}
		}
		log.Info("episodes built", "need", need.ID, "episodes", len(eps), "train", len(d.Train)-before)
	}
	var err error
	if d.Affinity, d.Rating, err = featureModels(ctx, train, cfg); err != nil {
		return nil, err
	}
	log.Info("feature models trained", "interactions", len(train))
	if slices.Contains(cfg.Modes, ModeSparse) {
		if d.SparseAffinity, d.SparseRating, err = featureModels(ctx, sparseTrain, cfg); err != nil {
			return nil, err
		}
		log.Info("sparse feature models trained", "interactions", len(sparseTrain))
		if d.Critics, d.Sparsity, err = trainCritics(ctx, d, cfg); err != nil {
			return nil, err
		}
		log.Info("critics trained", "kinds", len(d.Critics), "history_observed", d.Sparsity.HistoryShare(),
			"candidates_observed", d.Sparsity.CandidateShare())
	}
	return NewProblem(d)
}

// buildNeed returns need's episodes (with the sparse mode's observed
// masks of candidates and history when cfg asks for it), the dense
// training interactions and, with the sparse mode, the observed ones.
func buildNeed(ctx context.Context, ds *dataset.Dataset, cfg Config, need prompt.Need) ([]prompt.Episode, []dataset.Interaction, []dataset.Interaction, error) {
	bc := cfg.Build
	bc.Need, bc.Sparse = need, 0
	dense, err := dataset.Build(ctx, ds, bc)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("testbed: build %s: %w", need.ID, err)
	}
	if !slices.Contains(cfg.Modes, ModeSparse) {
		return dense.Episodes, dense.Train, nil, nil
	}
	bc.Sparse = cfg.Sparse
	sparse, err := dataset.Build(ctx, ds, bc)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("testbed: build %s (sparse): %w", need.ID, err)
	}
	masks := map[string]*prompt.Labels{}
	for _, ep := range sparse.Episodes {
		masks[ep.ID] = ep.Labels
	}
	for k := range dense.Episodes {
		ep := &dense.Episodes[k]
		m, ok := masks[ep.ID]
		if !ok || len(m.Observed) != len(ep.Candidates) || len(m.HistoryObserved) != len(ep.History) {
			return nil, nil, nil, fmt.Errorf("testbed: build %s: episode %q differs between the dense and sparse builds", need.ID, ep.ID)
		}
		l := *ep.Labels
		l.Observed, l.HistoryObserved = m.Observed, m.HistoryObserved
		ep.Labels = &l
	}
	return dense.Episodes, dense.Train, sparse.Train, nil
}

// heldOutUser reports whether user falls in the held-out share frac under
// seed: a hash of both, read as a number in [0, 1). FNV-1a barely mixes
// its last bytes into its high bits, so the splitmix64 finaliser mixes it
// before the top 53 bits are read.
func heldOutUser(seed int64, user string, frac float64) bool {
	h := fnv.New64a()
	h.Write([]byte(strconv.FormatInt(seed, 10) + "\x00testbed\x00" + user)) // hash writes cannot fail
	x := h.Sum64()
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11)/(1<<53) < frac
}

// featureModels trains the affinity (BPR) and rating (ALS) models on the
// training interactions.
func featureModels(ctx context.Context, train []dataset.Interaction, cfg Config) (Scorer, Scorer, error) {
	ratings := dataset.Ratings(train)
	aff, err := mf.Train(ctx, ratings, cfg.Affinity)
	if err != nil {
		return nil, nil, fmt.Errorf("testbed: affinity model: %w", err)
	}
	rat, err := mf.Train(ctx, ratings, cfg.Rating)
	if err != nil {
		return nil, nil, fmt.Errorf("testbed: rating model: %w", err)
	}
	return aff.Score, rat.Score, nil
}

// trainCritics trains one critic per kind the estimators name, on what
// the training episodes observe and the held-out episodes' observed
// histories, and counts what the masks observe.
func trainCritics(ctx context.Context, d Data, cfg Config) (map[string]rl.Predictor, Sparsity, error) {
	eps := make([]*prompt.Episode, 0, len(d.Train)+len(d.HeldOut))
	for k := range d.Train {
		eps = append(eps, &d.Train[k])
	}
	for k := range d.HeldOut {
		ep := d.HeldOut[k]
		// Observed histories only: the held-out candidates' feedback
		// never trains, and neither does a hidden history item's.
		ep.Labels = &prompt.Labels{HistoryObserved: ep.Labels.HistoryObserved}
		eps = append(eps, &ep)
	}
	sp := countObserved(eps)
	rules := critic.Rules{}
	for _, n := range cfg.Needs {
		rules[n.ID] = n.Gain
	}
	obs, err := critic.TrainingPairs(eps, rules)
	if err != nil {
		return nil, sp, fmt.Errorf("testbed: critic pairs: %w", err)
	}
	out := map[string]rl.Predictor{}
	for _, est := range cfg.Estimators {
		if est.Critic == "" || out[est.Critic] != nil {
			continue
		}
		cc := cfg.Critic
		cc.Kind = est.Critic
		var c critic.Critic
		if cfg.Hurdle {
			c, err = critic.TrainHurdle(ctx, obs, cc)
		} else {
			c, err = critic.Train(ctx, obs.Ratings, cc)
		}
		if err != nil {
			return nil, sp, fmt.Errorf("testbed: %s critic: %w", est.Critic, err)
		}
		out[est.Critic] = c
	}
	return out, sp, nil
}

// countObserved counts the observed candidates (of episodes with
// candidate labels) and history items of eps.
func countObserved(eps []*prompt.Episode) Sparsity {
	var sp Sparsity
	for _, ep := range eps {
		for i := range ep.History {
			sp.History++
			if ep.HistoryIsObserved(i) {
				sp.HistoryObserved++
			}
		}
		if ep.Labels == nil || ep.Labels.Gains == nil {
			continue
		}
		for i := range ep.Candidates {
			sp.Candidates++
			if ep.Labels.IsObserved(i) {
				sp.CandidatesObserved++
			}
		}
	}
	return sp
}
