package eval

import (
	"context"
	"fmt"
	"strings"

	"github.com/flexrec/flexrec/eval/dataset"
	"github.com/flexrec/flexrec/mf"
	"github.com/flexrec/flexrec/prompt"
)

// Ranker names accepted by NewRankers. A scoring ranker's name followed by
// NeedSuffix gives its need-aware variant (see the package's needAware).
const (
	RankerRandom            = "random"
	RankerPromptOrder       = "prompt-order"
	RankerPopularity        = "popularity"
	RankerRecentPopularity  = "recent-popularity"
	RankerItemKNN           = "item-knn"
	RankerUserKNN           = "user-knn"
	RankerMF                = "mf"
	RankerLLM               = "llm"
	RankerOracle            = "oracle"
	NeedSuffix              = "+need"
	defaultUserKNNNeighbors = 50
)

// Baselines lists the non-LLM baseline rankers, in report order.
var Baselines = []string{RankerRandom, RankerPromptOrder, RankerPopularity, RankerRecentPopularity, RankerItemKNN, RankerUserKNN, RankerMF}

// RankerConfig is what NewRankers needs to build rankers.
type RankerConfig struct {
	// Seed seeds tie-breaks, the random ranker and the prompt shuffle; 0 is
	// a valid seed. Default 1.
	Seed int64
	// Train are the training interactions the collaborative rankers fit
	// on: dataset.Split.Train, never the held-out feedback.
	Train []dataset.Interaction
	// UserNeighbors is user-knn's neighbourhood size k; <= 0 means every
	// user. Default 50.
	UserNeighbors int
	// MF configures the mf ranker's training. Default mf.DefaultBPRConfig():
	// ranking a candidate set that mixes unseen items with rated ones is a
	// ranking task, and on ml-latest-small (interest, seed 1) BPR reaches
	// NDCG@5 0.75 where rating-prediction ALS reaches 0.57.
	MF mf.Config
	// MFModel, when not nil, is the model the mf ranker (and mf+need) uses
	// instead of training one: a model the caller already trained with
	// TrainMF(ctx, Train, MF), such as the built-in policy's, so that a job
	// trains BPR once. Its algorithm must be MF's (else NewRankers returns
	// an error); that it was trained on Train with MF is the caller's
	// promise, not checked. With MFModel set, mf needs no Train. Nil by
	// default: NewRankers trains.
	MFModel *mf.Model
	// Prompt are the prompt options of the llm and prompt-order rankers.
	// Default prompt.DefaultOptions().
	Prompt prompt.Options
	// Needs lists custom needs the episodes may name, besides the built-in
	// ones.
	Needs []prompt.Need
	// LLMs configure the LLM rankers, each named by its report name
	// (LLMConfig.Name, default "llm:" + model); the name "llm" means the
	// only one. Empty makes every LLM ranker name an error.
	LLMs []LLMConfig
}

// DefaultRankerConfig returns the defaults documented on RankerConfig,
// without training data.
func DefaultRankerConfig() RankerConfig {
	return RankerConfig{Seed: 1, UserNeighbors: defaultUserKNNNeighbors, MF: mf.DefaultBPRConfig(), Prompt: prompt.DefaultOptions()}
}

// NewRankers builds the named rankers, in order: random, prompt-order,
// popularity, recent-popularity, item-knn, user-knn, mf, oracle, any
// scoring ranker's name with the suffix "+need", and the LLM rankers of
// cfg.LLMs by their report names ("llm:" + model unless named otherwise;
// "llm" alone for the only one). It trains what needs training (mf) under
// ctx, once even when named twice. An unknown name, two names for one
// ranker (ErrRankerName, wrapped), a ranker that needs training data when
// cfg.Train is empty, or an LLM name cfg.LLMs does not configure is an
// error.
func NewRankers(ctx context.Context, names []string, cfg RankerConfig) ([]Ranker, error) {
	b := &builder{cfg: cfg, needs: newNeedResolver(cfg.Needs)}
	seen := map[string]bool{}
	var out []Ranker
	for _, name := range names {
		name = strings.TrimSpace(name)
		r, err := b.build(ctx, name)
		if err != nil {
			return nil, err
		}
		if seen[r.Name()] {
			return nil, fmt.Errorf("eval: ranker %q named twice: %w", r.Name(), ErrRankerName)
		}
		seen[r.Name()] = true
		out = append(out, r)
	}
	return out, nil
}

// llm builds the LLM ranker of cfg.LLMs with the given report name, or the
// only one for "llm".
func (b *builder) llm(name string) (Ranker, error) {
	llms := b.cfg.LLMs
	if name == RankerLLM {
		if len(llms) == 0 {
			return nil, fmt.Errorf("eval: ranker llm needs a backend and a model")
		}
		if len(llms) != 1 {
			return nil, fmt.Errorf("eval: ranker llm: %d LLM rankers configured, want one (name them llm:MODEL): %w", len(llms), ErrRankerName)
		}
		return NewLLM(llms[0], b.cfg.Prompt, b.cfg.Needs, b.cfg.Seed)
	}
	for i := range llms {
		if llms[i].name() == name {
			return NewLLM(llms[i], b.cfg.Prompt, b.cfg.Needs, b.cfg.Seed)
		}
	}
	return nil, fmt.Errorf("eval: ranker %q: no LLM ranker of that name is configured (give it a backend and a model): %w", name, ErrRankerName)
}

// builder builds rankers, sharing the training index and the MF model.
type builder struct {
	cfg   RankerConfig
	needs needResolver
	index *interactions
	mf    *scorer
}

// build returns the named ranker.
func (b *builder) build(ctx context.Context, name string) (Ranker, error) {
	if base, ok := strings.CutSuffix(name, NeedSuffix); ok {
		r, err := b.build(ctx, base)
		if err != nil {
			return nil, err
		}
		s, ok := r.(*scorer)
		if !ok || base == RankerOracle || base == RankerRandom {
			return nil, fmt.Errorf("eval: ranker %q: %s has no need-aware variant: %w", name, base, ErrRankerName)
		}
		return needAware(s, b.needs), nil
	}
	switch name {
	case RankerRandom:
		return NewRandom(b.cfg.Seed), nil
	case RankerPromptOrder:
		return NewPromptOrder(b.cfg.Seed, b.cfg.Prompt, b.cfg.Needs), nil
	case RankerPopularity:
		return NewPopularity(b.cfg.Seed), nil
	case RankerRecentPopularity:
		return NewRecentPopularity(b.cfg.Seed), nil
	case RankerOracle:
		return NewOracle(b.cfg.Seed), nil
	case RankerItemKNN, RankerUserKNN:
		return b.knn(name)
	case RankerMF:
		return b.matrixFactorisation(ctx)
	}
	if name == RankerLLM || strings.HasPrefix(name, LLMPrefix) || b.isLLMName(name) {
		return b.llm(name)
	}
	return nil, fmt.Errorf("eval: unknown ranker %q (known: %s, %s, %sMODEL, %s, and NAME%s): %w", name,
		strings.Join(Baselines, ", "), RankerLLM, LLMPrefix, RankerOracle, NeedSuffix, ErrRankerName)
}

// isLLMName reports whether an LLM ranker of cfg.LLMs has this name.
func (b *builder) isLLMName(name string) bool {
	for i := range b.cfg.LLMs {
		if b.cfg.LLMs[i].name() == name {
			return true
		}
	}
	return false
}

// knn builds item-knn or user-knn on the shared training index.
func (b *builder) knn(name string) (Ranker, error) {
	if len(b.cfg.Train) == 0 {
		return nil, fmt.Errorf("eval: ranker %s needs training interactions", name)
	}
	if b.index == nil {
		b.index = newInteractions(b.cfg.Train)
	}
	if name == RankerItemKNN {
		return newItemKNN(b.index, b.cfg.Seed), nil
	}
	return newUserKNN(b.index, b.cfg.UserNeighbors, b.cfg.Seed), nil
}

// matrixFactorisation trains the mf ranker once, or wraps cfg.MFModel.
func (b *builder) matrixFactorisation(ctx context.Context) (Ranker, error) {
	if b.mf == nil && b.cfg.MFModel != nil {
		if got, want := b.cfg.MFModel.Algo(), b.cfg.MF.Algo; got != want && !(want == "" && got == mf.AlgoALS) {
			return nil, fmt.Errorf("eval: ranker mf: the given model is %s, the config says %q", got, want)
		}
		b.mf = newMFRanker(b.cfg.MFModel, b.cfg.Seed)
	}
	if b.mf == nil {
		r, err := NewMF(ctx, b.cfg.Train, b.cfg.MF, b.cfg.Seed)
		if err != nil {
			return nil, err
		}
		b.mf = r.(*scorer)
	}
	return b.mf, nil
}

// TrainFromHistories returns the interactions of the episodes' histories,
// each user's history once: the training data to use when only episodes
// are at hand (histories lie before the cut, so they hold no held-out
// feedback).
func TrainFromHistories(episodes []prompt.Episode) []dataset.Interaction {
	seen := map[string]bool{}
	var out []dataset.Interaction
	for e := range episodes {
		ep := &episodes[e]
		for _, h := range ep.History {
			key := ep.UserID + "\x00" + h.ItemID
			if !seen[key] {
				seen[key] = true
				out = append(out, dataset.Interaction{User: ep.UserID, Item: h.ItemID, Time: h.Time, Value: h.Engagement})
			}
		}
	}
	return out
}
