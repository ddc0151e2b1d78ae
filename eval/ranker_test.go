package eval

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/eval/dataset"
	"github.com/flexrec/flexrec/llm"
	"github.com/flexrec/flexrec/mf"
	"github.com/flexrec/flexrec/prompt"
)

// rankOrFail ranks and checks that the result is a permutation.
func rankOrFail(t *testing.T, r Ranker, ep *prompt.Episode) []int {
	t.Helper()
	got, err := r.Rank(context.Background(), ep)
	require.NoError(t, err, "%s.Rank(%s)", r.Name(), ep.ID)
	require.True(t, isPermutation(got, len(ep.Candidates), make([]bool, len(ep.Candidates))), "%s.Rank(%s) = %v, not a permutation", r.Name(), ep.ID, got)
	return got
}

// assertSortedBy checks that values along the ranking never increase.
func assertSortedBy(t *testing.T, name string, ranking []int, value func(i int) float64) {
	t.Helper()
	for p := 1; p < len(ranking); p++ {
		assert.GreaterOrEqual(t, value(ranking[p-1]), value(ranking[p]), "%s: position %d (candidate %d) below position %d (candidate %d)", name, p-1, ranking[p-1], p, ranking[p])
	}
}

func TestRandomRanker(t *testing.T) {
	ep := syntheticEpisode(30, 1)
	a, b, c := rankOrFail(t, NewRandom(1), ep), rankOrFail(t, NewRandom(1), ep), rankOrFail(t, NewRandom(2), ep)
	assert.Equal(t, a, b, "same seed and episode give the same ranking")
	assert.NotEqual(t, a, c, "seeds 1 and 2 give the same ranking")
	other := *ep
	other.ID = "interest/other"
	assert.NotEqual(t, a, rankOrFail(t, NewRandom(1), &other), "two episode ids give the same ranking")
}

func TestAttributeRankers(t *testing.T) {
	ep := syntheticEpisode(30, 2)
	tests := []struct {
		ranker Ranker
		value  func(i int) float64
	}{
		{NewPopularity(1), func(i int) float64 { return ep.Candidates[i].Popularity }},
		{NewRecentPopularity(1), func(i int) float64 { return ep.Candidates[i].RecentPopularity }},
		{NewOracle(1), func(i int) float64 { return ep.Labels.Gains[i] }},
	}
	for _, tt := range tests {
		t.Run(tt.ranker.Name(), func(t *testing.T) {
			assertSortedBy(t, tt.ranker.Name(), rankOrFail(t, tt.ranker, ep), tt.value)
		})
	}
}

// TestTiesAreShuffled checks that equal scores do not fall back to the
// builder's candidate order, which could put the positives first.
func TestTiesAreShuffled(t *testing.T) {
	ep := syntheticEpisode(20, 3)
	for i := range ep.Candidates {
		ep.Candidates[i].Popularity = 7
	}
	identity := make([]int, 20)
	for i := range identity {
		identity[i] = i
	}
	got := rankOrFail(t, NewPopularity(1), ep)
	assert.NotEqual(t, identity, got, "all-tied popularity kept the candidate order")
	assert.Equal(t, rankOrFail(t, NewRandom(1), ep), got, "all-tied scores should fall back to the seeded random order")
}

func TestOracleWithoutLabels(t *testing.T) {
	ep := syntheticEpisode(5, 4)
	ep.Labels = nil
	_, err := NewOracle(1).Rank(context.Background(), ep)
	assert.ErrorContains(t, err, "no labels")
}

// TestPromptOrderMatchesRender: the prompt-order ranker, which no longer
// renders, ranks exactly in the order the rendered prompt shows, for many
// seeds, episode sizes and both shuffle settings.
func TestPromptOrderMatchesRender(t *testing.T) {
	need, err := prompt.LookupNeed("interest")
	require.NoError(t, err)
	for _, shuffle := range []bool{true, false} {
		for _, n := range []int{1, 2, 7, 30, 100} {
			for seed := int64(0); seed < 60; seed++ {
				ep := syntheticEpisode(n, uint64(seed)+5)
				ep.ID = fmt.Sprintf("ep-%d-%d", n, seed)
				opts := prompt.DefaultOptions()
				opts.Shuffle = shuffle
				got := rankOrFail(t, NewPromptOrder(seed, opts, nil), ep)
				r, err := prompt.Render(ep, &need, opts, promptSeed(seed, ep))
				require.NoError(t, err, "Render %s", ep.ID)
				require.Equal(t, r.Order, got, "prompt-order ranking of %s (seed %d, shuffle %v) differs from the rendered order", ep.ID, seed, shuffle)
			}
		}
	}
	ep := syntheticEpisode(30, 5)
	ep.Need = "no-such-need"
	_, err = NewPromptOrder(9, prompt.DefaultOptions(), nil).Rank(context.Background(), ep)
	assert.ErrorContains(t, err, "unknown need")
	ep = syntheticEpisode(3, 5)
	ep.Candidates[1].ItemID = ep.Candidates[0].ItemID
	_, err = NewPromptOrder(9, prompt.DefaultOptions(), nil).Rank(context.Background(), ep)
	assert.ErrorContains(t, err, "duplicate candidate", "Rank of an invalid episode")
}

// knnData is a small interaction log: users u1..u4 over items a..e.
var knnData = map[string][]string{
	"u1": {"a", "b", "c"},
	"u2": {"a", "b"},
	"u3": {"b", "d"},
	"u4": {"c", "d", "e"},
}

func knnTrain() []dataset.Interaction {
	var train []dataset.Interaction
	for _, u := range []string{"u1", "u2", "u3", "u4"} {
		for _, i := range knnData[u] {
			train = append(train, dataset.Interaction{User: u, Item: i, Value: 4})
		}
	}
	return append(train, dataset.Interaction{User: "u1", Item: "a", Value: 5}) // a repeat counts once
}

// users returns the users who met item i in knnData.
func users(i string) []string {
	var out []string
	for u, items := range knnData {
		if slices.Contains(items, i) {
			out = append(out, u)
		}
	}
	return out
}

func intersect(a, b []string) float64 {
	n := 0
	for _, x := range a {
		if slices.Contains(b, x) {
			n++
		}
	}
	return float64(n)
}

func knnEpisode(user string, history []string) *prompt.Episode {
	ep := &prompt.Episode{ID: "e/" + user, UserID: user, Need: "interest"}
	for _, h := range history {
		ep.History = append(ep.History, prompt.HistoryItem{ItemID: h})
	}
	for _, c := range []string{"a", "b", "c", "d", "e", "zz"} {
		ep.Candidates = append(ep.Candidates, prompt.Candidate{ItemID: c})
	}
	return ep
}

// TestItemKNNAgainstBruteForce compares the scores with the formula
// evaluated item pair by item pair.
func TestItemKNNAgainstBruteForce(t *testing.T) {
	r := NewItemKNN(knnTrain(), 1).(*scorer)
	for _, tt := range []struct {
		name    string
		ep      *prompt.Episode
		profile []string
	}{
		{"known user uses training items", knnEpisode("u2", []string{"e"}), knnData["u2"]},
		{"unknown user uses history", knnEpisode("new", []string{"d", "zz", "d"}), []string{"d"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := make([]float64, len(tt.ep.Candidates))
			require.NoError(t, r.score(context.Background(), tt.ep, got))
			for c, cand := range tt.ep.Candidates {
				want := 0.0
				for _, j := range tt.profile {
					ui, uj := users(cand.ItemID), users(j)
					if len(ui) > 0 {
						want += intersect(ui, uj) / math.Sqrt(float64(len(ui)*len(uj)))
					}
				}
				assert.InDelta(t, want, got[c], 1e-12, "item-knn score of %s for %s", cand.ItemID, tt.ep.UserID)
			}
		})
	}
}

// TestUserKNNAgainstBruteForce compares the scores with the formula
// evaluated user pair by user pair, with and without a neighbourhood cut.
func TestUserKNNAgainstBruteForce(t *testing.T) {
	for _, k := range []int{0, 1, 2} {
		r := NewUserKNN(knnTrain(), k, 1).(*scorer)
		ep := knnEpisode("u1", nil)
		got := make([]float64, len(ep.Candidates))
		require.NoError(t, r.score(context.Background(), ep, got))
		// similarities of u1 (a b c): u2 2/sqrt(6), u3 1/sqrt(6), u4 1/3.
		sims := map[string]float64{"u2": 2 / math.Sqrt(6), "u3": 1 / math.Sqrt(6), "u4": 1.0 / 3}
		keep := map[int][]string{0: {"u2", "u3", "u4"}, 1: {"u2"}, 2: {"u2", "u3"}}[k]
		for c, cand := range ep.Candidates {
			want := 0.0
			for _, v := range keep {
				if slices.Contains(knnData[v], cand.ItemID) {
					want += sims[v]
				}
			}
			assert.InDelta(t, want, got[c], 1e-12, "user-knn (k=%d) score of %s", k, cand.ItemID)
		}
	}
}

// TestMFRanksTasteFirst trains on two taste groups: users of group A rate
// the A items high and the B items low, and the other way round. For an A
// user the held-out A item must come before every B item.
func TestMFRanksTasteFirst(t *testing.T) {
	var train []dataset.Interaction
	for u := range 20 {
		group, other := "A", "B"
		if u >= 10 {
			group, other = "B", "A"
		}
		for i := range 8 {
			if u == 0 && i == 0 {
				continue // held out
			}
			train = append(train,
				dataset.Interaction{User: fmt.Sprintf("u%d", u), Item: fmt.Sprintf("%s%d", group, i), Value: 5},
				dataset.Interaction{User: fmt.Sprintf("u%d", u), Item: fmt.Sprintf("%s%d", other, (i+u)%8), Value: 1})
		}
	}
	ep := &prompt.Episode{ID: "interest/u0", UserID: "u0", Need: "interest"}
	for _, id := range []string{"B1", "B2", "A0", "B3", "B4"} {
		ep.Candidates = append(ep.Candidates, prompt.Candidate{ItemID: id})
	}
	r, err := NewMF(context.Background(), train, mf.DefaultConfig(), 1)
	require.NoError(t, err)
	got := rankOrFail(t, r, ep)
	assert.Equal(t, 2, got[0], "mf ranking %v should put the held-out A item (candidate 2) first", got)
	_, err = NewMF(context.Background(), nil, mf.DefaultConfig(), 1)
	assert.ErrorIs(t, err, mf.ErrNoData)
}

func TestNeedAware(t *testing.T) {
	ep := syntheticEpisode(30, 6)
	novel := Novelty(ep)
	require.Contains(t, novel, true)
	require.Contains(t, novel, false)
	base := NewPopularity(1).(*scorer)
	t.Run("explore puts novel items first, each group by the base score", func(t *testing.T) {
		ep.Need = "explore"
		got := rankOrFail(t, needAware(base, nil), ep)
		assertSortedBy(t, "novelty", got, func(i int) float64 { return b2f(novel[i]) })
		for p := 1; p < len(got); p++ {
			if novel[got[p-1]] == novel[got[p]] {
				assert.GreaterOrEqual(t, ep.Candidates[got[p-1]].Popularity, ep.Candidates[got[p]].Popularity, "order within a group at %d", p)
			}
		}
	})
	t.Run("trend weighs percentile by recent popularity", func(t *testing.T) {
		ep.Need = "trend"
		s := make([]float64, 4)
		small := &prompt.Episode{ID: "t", Need: "trend", Candidates: []prompt.Candidate{
			{ItemID: "a", Popularity: 10, RecentPopularity: 0},
			{ItemID: "b", Popularity: 5, RecentPopularity: 3},
			{ItemID: "c", Popularity: 1, RecentPopularity: 20},
			{ItemID: "d", Popularity: 5, RecentPopularity: 1},
		}}
		require.NoError(t, needAware(base, nil).score(context.Background(), small, s))
		// percentiles: a 4/4, b and d 2/4 (one below), c 1/4.
		want := []float64{0, 0.5 * math.Log(4), 0.25 * math.Log(21), 0.5 * math.Log(2)}
		for i := range want {
			assert.InDelta(t, want[i], s[i], 1e-12, "trend score of %s", small.Candidates[i].ItemID)
		}
	})
	t.Run("interest keeps the base scores", func(t *testing.T) {
		ep.Need = "interest"
		assert.Equal(t, rankOrFail(t, base, ep), rankOrFail(t, needAware(base, nil), ep))
	})
}

func TestNoveltyAndOverlaps(t *testing.T) {
	ep := &prompt.Episode{
		History: []prompt.HistoryItem{{Categories: []string{"Drama", "War"}}, {Categories: []string{"Comedy"}}},
		Candidates: []prompt.Candidate{
			{ItemID: "a", Categories: []string{"Drama", "Comedy"}},
			{ItemID: "b", Categories: []string{"Horror"}},
			{ItemID: "c"},
			{ItemID: "d", Categories: []string{"War", "War", "Horror"}},
		},
	}
	assert.Equal(t, []int{2, 0, 0, 1}, Overlaps(ep))
	assert.Equal(t, []bool{false, true, true, false}, Novelty(ep))
}

func TestNewRankers(t *testing.T) {
	cfg := DefaultRankerConfig()
	cfg.Train = knnTrain()
	rs, err := NewRankers(context.Background(), []string{"random", "popularity", "item-knn", "user-knn", "mf", "mf+need", "prompt-order", "recent-popularity", "oracle"}, cfg)
	require.NoError(t, err)
	var names []string
	for _, r := range rs {
		names = append(names, r.Name())
	}
	assert.Equal(t, []string{"random", "popularity", "item-knn", "user-knn", "mf", "mf+need", "prompt-order", "recent-popularity", "oracle"}, names)
	for _, tt := range []struct {
		names []string
		err   string
	}{
		{[]string{"nope"}, `unknown ranker "nope"`},
		{[]string{"random", "random"}, "named twice"},
		{[]string{"llm"}, "needs a backend"},
		{[]string{"random+need"}, "no need-aware variant"},
		{[]string{"prompt-order+need"}, "no need-aware variant"},
	} {
		_, err := NewRankers(context.Background(), tt.names, cfg)
		assert.ErrorContains(t, err, tt.err, "NewRankers(%v)", tt.names)
		assert.Equal(t, tt.err != "needs a backend", errors.Is(err, ErrRankerName), "NewRankers(%v): ErrRankerName iff the name is at fault", tt.names)
	}
	_, err = NewRankers(context.Background(), []string{"item-knn"}, DefaultRankerConfig())
	assert.ErrorContains(t, err, "needs training interactions")
}

func TestTrainFromHistories(t *testing.T) {
	a, b := syntheticEpisode(3, 1), syntheticEpisode(3, 1)
	b.Need = "explore"
	got := TrainFromHistories([]prompt.Episode{*a, *b})
	assert.Len(t, got, 10, "two episodes of one user with the same 10-item history")
	assert.Equal(t, dataset.Interaction{User: "1", Item: "h0", Value: 4}, got[0])
}

// TestNewRankersLLMs builds LLM rankers by their report names.
func TestNewRankersLLMs(t *testing.T) {
	var req *llm.Request
	cfg := DefaultRankerConfig()
	cfg.LLMs = []LLMConfig{{Backend: cannedBackend("[1]", &req), Model: "gpt-4o-mini", BackendKind: "openai"}}
	rs, err := NewRankers(context.Background(), []string{"llm"}, cfg)
	require.NoError(t, err, "NewRankers(llm) with one LLM")
	assert.Equal(t, "llm:gpt-4o-mini", rs[0].Name(), "the llm row is named by its model")

	cfg.LLMs = append(cfg.LLMs, LLMConfig{Backend: cannedBackend("[2]", &req), Model: "qwen", Name: "policy"})
	rs, err = NewRankers(context.Background(), []string{"policy", "llm:gpt-4o-mini"}, cfg)
	require.NoError(t, err, "NewRankers by report names")
	assert.Equal(t, []string{"policy", "llm:gpt-4o-mini"}, []string{rs[0].Name(), rs[1].Name()})
	for _, tt := range []struct {
		names []string
		err   string
	}{
		{[]string{"llm"}, "2 LLM rankers configured"},
		{[]string{"llm:nope"}, "no LLM ranker of that name"},
		{[]string{"policy", "policy"}, "named twice"},
	} {
		_, err := NewRankers(context.Background(), tt.names, cfg)
		assert.ErrorContains(t, err, tt.err, "NewRankers(%v)", tt.names)
		assert.ErrorIs(t, err, ErrRankerName, "NewRankers(%v)", tt.names)
	}
}

// orderRanker ranks every episode in candidate order, or reversed.
type orderRanker struct {
	name     string
	reversed bool
}

func (f orderRanker) Name() string { return f.name }

func (f orderRanker) Rank(_ context.Context, ep *prompt.Episode) ([]int, error) {
	out := make([]int, len(ep.Candidates))
	for i := range out {
		out[i] = i
		if f.reversed {
			out[i] = len(out) - 1 - i
		}
	}
	return out, nil
}

// TestEvaluateIdentical groups rankers whose rankings coincide and says why.
func TestEvaluateIdentical(t *testing.T) {
	eps := []prompt.Episode{*syntheticEpisode(6, 1), *syntheticEpisode(6, 2)}
	rankers := []Ranker{orderRanker{name: "a"}, orderRanker{name: "b", reversed: true}, orderRanker{name: "c"}, orderRanker{name: "d", reversed: true}, orderRanker{name: "e"}}
	rep, err := Evaluate(context.Background(), rankers, eps, DefaultConfig())
	require.NoError(t, err)
	require.Len(t, rep.Identical, 2, "Evaluate: groups {a, c, e} and {b, d}")
	assert.Equal(t, []string{"a", "c", "e"}, rep.Identical[0].Rankers)
	assert.Equal(t, []string{"b", "d"}, rep.Identical[1].Rankers)
	assert.Equal(t, 2, rep.Identical[0].Episodes)
	assert.Equal(t, "a, c and e: identical rankings on all 2 episodes: they rank by the same order of the candidates (the same scores, or scores in the same order).",
		rep.Identical[0].Note())

	rep, err = Evaluate(context.Background(), []Ranker{NewRandom(1), NewPopularity(1)}, eps, DefaultConfig())
	require.NoError(t, err)
	assert.Empty(t, rep.Identical, "Evaluate: random and popularity differ")
}

func TestIdenticalNote(t *testing.T) {
	id := Identical{Rankers: []string{"mf", "llm:builtin-pl"}, Episodes: 103, Same: 84, FirstDiff: 16, Why: "both rank by BPR scores"}
	assert.Equal(t, "mf and llm:builtin-pl: the same numbers at the printed precision; identical rankings on 84 of 103 episodes, the others first differ at position 16: both rank by BPR scores.", id.Note())
	assert.Equal(t, 16, firstDifference([]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 15}), "firstDifference")
	assert.Zero(t, firstDifference([]int{2, 1}, []int{2, 1}), "firstDifference of equal rankings")
}
