package eval

import (
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/flexrec/flexrec/prompt"
)

// Ranker orders the candidate set of an episode. Implementations read the
// episode's history and candidates but never its Labels (Oracle aside), are
// deterministic for a given episode, and are safe for concurrent use.
type Ranker interface {
	// Name is the ranker's name in reports, e.g. "popularity".
	Name() string
	// Rank returns a permutation of the candidate indices 0..N-1, best
	// first, or an error (a backend failure, a cancelled ctx).
	Rank(ctx context.Context, ep *prompt.Episode) ([]int, error)
}

// Trace is what one ranking cost and how much of it had to be repaired.
// The zero value means a free, valid ranking.
type Trace struct {
	// Invalid is true when the output broke the output contract: out of
	// format, cut short, or naming unknown, ambiguous, repeated or too few
	// ids (rank.Result.Valid false).
	Invalid bool `json:"invalid"`
	// Repaired is true when repair had to place at least one candidate the
	// output did not name (Repaired implies Invalid).
	Repaired bool `json:"repaired"`
	// RepairedItems is how many candidates repair placed.
	RepairedItems int `json:"repaired_items"`
	// Latency is the backend's wall time for the request.
	Latency time.Duration `json:"latency_ns"`
	// PromptTokens and CompletionTokens count the request's tokens.
	PromptTokens int `json:"prompt_tokens"`
	// CompletionTokens counts the generated tokens.
	CompletionTokens int `json:"completion_tokens"`
}

// TracingRanker is a Ranker that also reports what each ranking cost;
// Evaluate aggregates the traces into LLM statistics.
type TracingRanker interface {
	Ranker
	// RankTrace is Rank with its trace.
	RankTrace(ctx context.Context, ep *prompt.Episode) ([]int, Trace, error)
}

// episodeSeed mixes a seed with an episode id, so a seeded ranker gives
// each episode its own stream whatever the order episodes are ranked in.
func episodeSeed(seed int64, id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id)) // hash.Hash.Write never returns an error
	return h.Sum64() ^ (uint64(seed) * 0x9e3779b97f4a7c15)
}

// shuffled returns a seeded random permutation of 0..n-1 for the episode.
func shuffled(seed int64, ep *prompt.Episode) []int {
	rng := rand.New(rand.NewPCG(episodeSeed(seed, ep.ID), 0x72616e6b))
	return rng.Perm(len(ep.Candidates))
}

// scoreFunc writes one score per candidate into dst (len(ep.Candidates)
// entries); higher is better.
type scoreFunc func(ctx context.Context, ep *prompt.Episode, dst []float64) error

// scorer is a Ranker that sorts candidates by a score, descending, with
// ties (and NaN, which counts as -Inf) broken by a seeded random order per
// episode, so that no ranker can profit from the builder's candidate order.
type scorer struct {
	name  string
	seed  int64
	score scoreFunc
	// about says what the scores are, for the report's notes; "" when the
	// name says it.
	about string
}

// Name implements Ranker.
func (s *scorer) Name() string { return s.name }

// Rank implements Ranker.
func (s *scorer) Rank(ctx context.Context, ep *prompt.Episode) ([]int, error) {
	scores := make([]float64, len(ep.Candidates))
	if err := s.score(ctx, ep, scores); err != nil {
		return nil, fmt.Errorf("eval: ranker %s: episode %q: %w", s.name, ep.ID, err)
	}
	return orderByScore(scores, shuffled(s.seed, ep)), nil
}

// orderByScore stably sorts order (a permutation of the candidate indices,
// the tie-break order) by scores, descending, and returns it.
func orderByScore(scores []float64, order []int) []int {
	key := func(i int) float64 {
		if math.IsNaN(scores[i]) {
			return math.Inf(-1)
		}
		return scores[i]
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(key(b), key(a)) })
	return order
}

// NewRandom returns the ranker "random": a seeded uniform permutation per
// episode (the same seed and episode id give the same ranking).
func NewRandom(seed int64) Ranker {
	return &scorer{name: "random", seed: seed, score: func(context.Context, *prompt.Episode, []float64) error { return nil }}
}

// NewPopularity returns the ranker "popularity": candidates by
// Candidate.Popularity (interactions before the cut), descending.
func NewPopularity(seed int64) Ranker {
	return &scorer{name: "popularity", seed: seed, score: func(_ context.Context, ep *prompt.Episode, dst []float64) error {
		for i, c := range ep.Candidates {
			dst[i] = c.Popularity
		}
		return nil
	}}
}

// NewRecentPopularity returns the ranker "recent-popularity": candidates by
// Candidate.RecentPopularity (interactions in the trend window before the
// cut), descending.
func NewRecentPopularity(seed int64) Ranker {
	return &scorer{name: "recent-popularity", seed: seed, score: func(_ context.Context, ep *prompt.Episode, dst []float64) error {
		for i, c := range ep.Candidates {
			dst[i] = c.RecentPopularity
		}
		return nil
	}}
}

// NewOracle returns the ranker "oracle": candidates by their true gains
// under the episode's need (Labels.Gains), descending. It reads the labels,
// so it is an upper bound for reports, never a baseline. It fails on an
// episode without labels.
func NewOracle(seed int64) Ranker {
	return &scorer{name: "oracle", seed: seed, score: func(_ context.Context, ep *prompt.Episode, dst []float64) error {
		if ep.Labels == nil || len(ep.Labels.Gains) != len(dst) {
			return fmt.Errorf("no labels aligned with the candidates")
		}
		copy(dst, ep.Labels.Gains)
		return nil
	}}
}

// needResolver finds the Need of an episode by id: the custom needs given,
// then the built-in ones.
type needResolver map[string]*prompt.Need

// newNeedResolver indexes the custom needs by id.
func newNeedResolver(needs []prompt.Need) needResolver {
	r := make(needResolver, len(needs))
	for i := range needs {
		r[needs[i].ID] = &needs[i]
	}
	return r
}

// need returns the episode's need.
func (r needResolver) need(id string) (*prompt.Need, error) {
	if n, ok := r[id]; ok {
		return n, nil
	}
	n, err := prompt.LookupNeed(id)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	return &n, nil
}

// promptSeed is the rendering seed of an episode, shared by the LLM ranker
// and the prompt-order ranker so that the latter ranks in exactly the order
// the model was shown.
func promptSeed(seed int64, ep *prompt.Episode) int64 {
	return int64(episodeSeed(seed, ep.ID) >> 1)
}

// promptOrder is the ranker "prompt-order": candidates in the order the
// prompt lists them (prompt.Render's seeded shuffle with the LLM ranker's
// seed and options, taken from prompt.DisplayOrder without rendering the
// prompt), the ranking of a model that copies its input.
type promptOrder struct {
	seed  int64
	opts  prompt.Options
	needs needResolver
}

// NewPromptOrder returns the ranker "prompt-order". Needs lists custom
// needs besides the built-in ones; opts must be the LLM ranker's prompt
// options for the two to show the same order.
func NewPromptOrder(seed int64, opts prompt.Options, needs []prompt.Need) Ranker {
	return &promptOrder{seed: seed, opts: opts, needs: newNeedResolver(needs)}
}

// Name implements Ranker.
func (p *promptOrder) Name() string { return "prompt-order" }

// Rank implements Ranker.
func (p *promptOrder) Rank(_ context.Context, ep *prompt.Episode) ([]int, error) {
	if _, err := p.needs.need(ep.Need); err != nil { // unknown to the LLM ranker too
		return nil, err
	}
	order, err := prompt.DisplayOrder(ep, p.opts, promptSeed(p.seed, ep))
	if err != nil {
		return nil, fmt.Errorf("eval: ranker prompt-order: episode %q: %w", ep.ID, err)
	}
	return order, nil
}
