package dataset

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/prompt"
)

const day = 86400

func need(t *testing.T, id string) prompt.Need {
	t.Helper()
	n, err := prompt.LookupNeed(id)
	require.NoError(t, err)
	return n
}

func build(t *testing.T, ds *Dataset, cfg BuildConfig) *Split {
	t.Helper()
	sp, err := Build(context.Background(), ds, cfg)
	require.NoError(t, err, "Build(%s, need %s)", ds.Name, cfg.Need.ID)
	return sp
}

func episodeByID(t *testing.T, sp *Split, id string) prompt.Episode {
	t.Helper()
	for _, ep := range sp.Episodes {
		if ep.ID == id {
			return ep
		}
	}
	require.FailNow(t, "no episode "+id)
	return prompt.Episode{}
}

// byItem maps a candidate's item id to f of its index.
func byItem[T any](ep prompt.Episode, f func(i int) T) map[string]T {
	m := map[string]T{}
	for i, c := range ep.Candidates {
		m[c.ItemID] = f(i)
	}
	return m
}

// counts drops the slices so Splits compare by their counts.
func counts(sp *Split) Split {
	c := *sp
	c.Episodes, c.Train, c.Rule = nil, nil, prompt.Need{}
	return c
}

// tinyConfig takes every held-out item of user u1 of generic-tiny into the
// candidate set: 4 held out (d1, c2, h1, n1), and d2, the one item u1 never
// met, as the unseen negative.
func tinyConfig(t *testing.T, needID string) BuildConfig {
	cfg := DefaultBuildConfig()
	cfg.Need = need(t, needID)
	cfg.HoldOut, cfg.MinHistory, cfg.NumCandidates, cfg.MaxPositives = 4, 3, 5, 5
	cfg.Negatives.HeldOut = 1
	return cfg
}

// TestBuildGainsByHand checks every gain of u1's episode on generic-tiny
// against values worked out from the fixture: u1 rated a1 5, a2 4, c1 2
// (days 100–102; genres Action, Comedy) and, held out, d1 5, c2 4.5, h1 3,
// n1 4 (days 110–113), so the cut is day 110. Before it, d1 was rated on
// days 90 and 95, c2 on day 50, h1 on day 100, d2 on day 60.
func TestBuildGainsByHand(t *testing.T) {
	ds := load(t, fixture("generic-tiny"))
	for _, tc := range []struct {
		need      string
		threshold float64
		gains     map[string]float64
		relevant  []string
	}{
		{"interest", 3.5, map[string]float64{"d1": 5, "c2": 4.5, "h1": 3, "n1": 4, "d2": 0}, []string{"d1", "c2", "n1"}},
		// c2 (Comedy, Action) overlaps the history; h1's 3 is not above 3.5.
		{"explore", 3.5, map[string]float64{"d1": 5, "c2": 0, "h1": 3, "n1": 4, "d2": 0}, []string{"d1", "n1"}},
		// d1: 2 ratings in days 80–110, log(1+2). c2 and n1 are liked but
		// nobody rated them in the window; h1 is below the like level 4.
		{"trend", 0, map[string]float64{"d1": math.Log(3), "c2": 0, "h1": 0, "n1": 0, "d2": 0}, []string{"d1"}},
	} {
		t.Run(tc.need, func(t *testing.T) {
			sp := build(t, ds, tinyConfig(t, tc.need))
			// u2 holds out only h1 (rated 2): nothing relevant, dropped. u3
			// has one interaction: skipped. Train: 12 - 4 (u1) - 1 (u2).
			want := Split{Need: tc.need, Users: 3, Skipped: 1, Dropped: 1, Relevant: len(tc.relevant), Threshold: tc.threshold, TrainTotal: 7}
			assert.Equal(t, want, counts(sp))
			assert.Len(t, sp.Train, 7)
			ep := episodeByID(t, sp, tc.need+"/uu1")
			require.NoError(t, ep.Validate())
			gains := byItem(ep, func(i int) float64 { return ep.Labels.Gains[i] })
			require.Len(t, gains, len(tc.gains))
			for id, g := range tc.gains {
				assert.InDelta(t, g, gains[id], 1e-12, "gain of %s", id)
			}
			rel := byItem(ep, func(i int) bool { return ep.Labels.Relevant[i] })
			for id := range tc.gains {
				assert.Equal(t, slices.Contains(tc.relevant, id), rel[id], "relevance of %s", id)
			}
			assert.Nil(t, ep.Labels.Observed, "dense mode")
		})
	}
}

// TestBuildEpisodeContent checks history, cut and popularity of u1's
// episode on generic-tiny by hand (see TestBuildGainsByHand).
func TestBuildEpisodeContent(t *testing.T) {
	ds := load(t, fixture("generic-tiny"))
	ep := episodeByID(t, build(t, ds, tinyConfig(t, "interest")), "interest/uu1")
	assert.Equal(t, int64(110*day), ep.CutTime)
	assert.Equal(t, []prompt.HistoryItem{
		{ItemID: "a1", Text: "Action One", Time: 100 * day, Engagement: 5, Categories: []string{"Action"}},
		{ItemID: "a2", Text: "Action Two", Time: 101 * day, Engagement: 4, Categories: []string{"Action"}},
		{ItemID: "c1", Text: "Comedy One", Time: 102 * day, Engagement: 2, Categories: []string{"Comedy"}},
	}, ep.History)
	pop := byItem(ep, func(i int) float64 { return ep.Candidates[i].Popularity })
	assert.Equal(t, map[string]float64{"d1": 2, "c2": 1, "h1": 1, "n1": 0, "d2": 1}, pop, "interactions before day 110")
	recent := byItem(ep, func(i int) float64 { return ep.Candidates[i].RecentPopularity })
	assert.Equal(t, map[string]float64{"d1": 2, "c2": 0, "h1": 1, "n1": 0, "d2": 0}, recent, "interactions in days 80–110")
	text := byItem(ep, func(i int) string { return ep.Candidates[i].Text })
	assert.Equal(t, "Drama Two", text["d2"])
}

func TestBuildThresholds(t *testing.T) {
	ds := load(t, fixture("generic-tiny"))
	relevantOf := func(cfg BuildConfig) []string {
		ep := episodeByID(t, build(t, ds, cfg), cfg.Need.ID+"/uu1")
		var out []string
		for i, c := range ep.Candidates {
			if ep.Labels.Relevant[i] {
				out = append(out, c.ItemID)
			}
		}
		slices.Sort(out)
		return out
	}
	cfg := tinyConfig(t, "interest")
	th := 4.6
	cfg.Threshold = &th
	assert.Equal(t, []string{"d1"}, relevantOf(cfg), "only 5 > 4.6")
	// Like at 2: interest threshold 3.5×2/4 = 1.75, so h1 (3) is relevant;
	// trend's like level 4×2/4 = 2, so h1 (3, one rating on day 100) too.
	cfg = tinyConfig(t, "interest")
	cfg.LikeAt = 2
	assert.Equal(t, []string{"c2", "d1", "h1", "n1"}, relevantOf(cfg))
	cfg.Need = need(t, "trend")
	assert.Equal(t, []string{"d1", "h1"}, relevantOf(cfg))
}

func TestBuildTemporal(t *testing.T) {
	ds := load(t, fixture("generic-tiny"))
	cfg := tinyConfig(t, "interest")
	cfg.Split, cfg.CutTime = SplitTemporal, 105*day
	sp := build(t, ds, cfg)
	// Before day 105: u1 3, u2 4, u3 1 interactions; u2 and u3 have nothing
	// after it.
	assert.Equal(t, Split{Need: "interest", Users: 3, Skipped: 2, Relevant: 3, CutTime: 105 * day, Threshold: 3.5, TrainTotal: 8}, counts(sp))
	for _, in := range sp.Train {
		assert.Less(t, in.Time, int64(105*day))
	}
	ep := episodeByID(t, sp, "interest/uu1")
	assert.Equal(t, int64(105*day), ep.CutTime)
	assert.Len(t, ep.History, 3)

	// Quantile 0.8 of the 12 sorted times (days 50 60 90 95 100 100 101 102
	// 110 ...): index floor(0.8×11) = 8, day 110.
	cfg.CutTime = 0
	assert.Equal(t, int64(110*day), build(t, ds, cfg).CutTime)
}

func TestBuildUnsupported(t *testing.T) {
	gcdr, esci, tiny := load(t, fixture("kuairec-gcdr")), load(t, fixture("esci")), load(t, fixture("generic-tiny"))
	for _, tc := range []struct {
		name  string
		ds    *Dataset
		need  string
		split string
	}{
		{"trend without times", gcdr, "trend", SplitLeaveLastOut},
		{"temporal without times", gcdr, "interest", SplitTemporal},
		{"search without judgements", tiny, "search", SplitLeaveLastOut},
		{"interest without interactions", esci, "interest", SplitLeaveLastOut},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultBuildConfig()
			cfg.Need, cfg.Split = need(t, tc.need), tc.split
			_, err := Build(context.Background(), tc.ds, cfg)
			assert.ErrorIs(t, err, ErrUnsupported)
		})
	}
}

// TestBuildGCDR: positives only, value 1, like level 1: interest threshold
// 3.5/4 = 0.875, so every held-out item is relevant and file order is time.
func TestBuildGCDR(t *testing.T) {
	ds := load(t, fixture("kuairec-gcdr"))
	cfg := DefaultBuildConfig()
	cfg.HoldOut, cfg.MinHistory = 3, 3
	sp := build(t, ds, cfg)
	require.Len(t, sp.Episodes, 3)
	ep := sp.Episodes[0]
	assert.Equal(t, "interest/u14", ep.ID)
	assert.Zero(t, ep.CutTime)
	// User 14: 9,10,1,7,11,5 then held out 2,6,8.
	var hist []string
	for _, h := range ep.History {
		hist = append(hist, h.ItemID)
	}
	assert.Equal(t, []string{"9", "10", "1", "7", "11", "5"}, hist)
	rel := byItem(ep, func(i int) bool { return ep.Labels.Relevant[i] })
	for _, id := range []string{"2", "6", "8"} {
		assert.True(t, rel[id], "held-out %s relevant", id)
	}
	// Items 0, 3, 4 are the only ones user 14 never met (and 3 has no
	// interaction at all, so it is never drawn).
	assert.Len(t, ep.Candidates, 5)
	assert.Equal(t, 3, sp.Short, "every user of the 12-item fixture falls short of 30")
}

// TestBuildSearch: q1 has E, E, S, C, C, I; q3 only C and I, so it is
// dropped. ESCI gains E=1, S=0.1, C=0.01, I=0; relevant above 0.05.
func TestBuildSearch(t *testing.T) {
	ds := load(t, fixture("esci"))
	cfg := DefaultBuildConfig()
	cfg.Need = need(t, "search")
	sp := build(t, ds, cfg)
	assert.Equal(t, Split{Need: "search", Users: 3, Dropped: 1, Short: 2, Relevant: 5, Threshold: 0.05}, counts(sp))
	ep := episodeByID(t, sp, "search/qq1")
	assert.Equal(t, "wireless earbuds", ep.Query)
	assert.Empty(t, ep.History)
	gains := byItem(ep, func(i int) float64 { return ep.Labels.Gains[i] })
	assert.Len(t, gains, 12, "3 positives, 3 judged negatives, then all 6 unjudged products")
	for id, g := range map[string]float64{"B01": 1, "B05": 1, "B02": 0.1, "B04": 0.01, "B03": 0.01, "B06": 0, "B12": 0} {
		assert.InDelta(t, g, gains[id], 1e-12, "gain of %s", id)
	}
}

// TestBuildKuaiRec: watch ratios on the like-at-2 scale, threshold 1.75.
func TestBuildKuaiRec(t *testing.T) {
	ds := load(t, fixture("kuairec"))
	cfg := DefaultBuildConfig()
	cfg.HoldOut, cfg.NumCandidates, cfg.MaxPositives = 4, 8, 4
	sp := build(t, ds, cfg)
	assert.Equal(t, 1.75, sp.Threshold)
	ratio := map[[2]string]float64{}
	for _, in := range ds.Interactions {
		ratio[[2]string{in.User, in.Item}] = in.Value
	}
	require.NotEmpty(t, sp.Episodes)
	for _, ep := range sp.Episodes {
		for i, c := range ep.Candidates {
			if ep.Labels.Gains[i] > 0 {
				assert.Equal(t, ratio[[2]string{ep.UserID, c.ItemID}], ep.Labels.Gains[i])
			}
			assert.Equal(t, ep.Labels.Gains[i] > 1.75, ep.Labels.Relevant[i])
		}
	}
}

func TestBuildCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Build(ctx, load(t, fixture("generic-tiny")), tinyConfig(t, "interest"))
	assert.True(t, errors.Is(err, context.Canceled), "Build on a cancelled context: %v", err)
}

func TestBuildConfigValidate(t *testing.T) {
	neg := -1.0
	for _, tc := range []struct {
		name  string
		edit  func(*BuildConfig)
		field string
	}{
		{"default", func(*BuildConfig) {}, ""},
		{"split", func(c *BuildConfig) { c.Split = "random" }, "split"},
		{"hold out", func(c *BuildConfig) { c.HoldOut = 0 }, "hold_out"},
		{"quantile", func(c *BuildConfig) { c.Split, c.CutQuantile = SplitTemporal, 1 }, "cut_quantile"},
		{"history", func(c *BuildConfig) { c.HistoryLen = 0 }, "history_len"},
		{"candidates", func(c *BuildConfig) { c.NumCandidates = 1 }, "num_candidates"},
		{"positives", func(c *BuildConfig) { c.MaxPositives = 31 }, "max_positives"},
		{"mix", func(c *BuildConfig) { c.Negatives.HeldOut = 1.5 }, "negatives.held_out"},
		{"sparse", func(c *BuildConfig) { c.Sparse = 2 }, "sparse"},
		{"threshold", func(c *BuildConfig) { c.Threshold = &neg }, "threshold"},
		{"need", func(c *BuildConfig) { c.Need = prompt.Need{} }, "field id"},
		{"limit", func(c *BuildConfig) { c.Limit = -1 }, "limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultBuildConfig()
			tc.edit(&cfg)
			err := cfg.Validate()
			if tc.field == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.field)
		})
	}
}

// TestSplitRuleOnDatasetScale checks that the split carries the need as its
// labels applied it: KuaiRec likes at a watch ratio of 2, so trend's
// RelevanceMin of 4 stars becomes 2.
func TestSplitRuleOnDatasetScale(t *testing.T) {
	ds, err := Load(context.Background(), "../../testdata/datasets/kuairec")
	require.NoError(t, err)
	cfg := DefaultBuildConfig()
	cfg.Need, err = prompt.LookupNeed("trend")
	require.NoError(t, err)
	sp, err := Build(context.Background(), ds, cfg)
	require.NoError(t, err)
	assert.InDelta(t, 2.0, sp.Rule.Gain.RelevanceMin, 1e-12)
	assert.Equal(t, sp.Threshold, sp.Rule.Threshold)
	assert.Equal(t, "trend", sp.Rule.ID)
}
