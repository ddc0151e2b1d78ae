package export

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/flexrec/flexrec/rank"
	"github.com/flexrec/flexrec/rollout"
)

func heads(rewards ...float64) []head {
	hs := make([]head, len(rewards))
	for i, r := range rewards {
		hs[i] = head{rollout: i, listReward: r}
	}
	return hs
}

func TestSelectPairs(t *testing.T) {
	cases := []struct {
		name    string
		rewards []float64
		pairing Pairing
		margin  float64
		want    []pair
	}{
		{"best-worst", []float64{0.5, 0.9, 0.1, 0.7}, BestWorst, 0, []pair{{1, 2, 0.8}}},
		{"best-worst ties: lowest rollout best, highest worst", []float64{0.9, 0.2, 0.9, 0.2}, BestWorst, 0, []pair{{0, 3, 0.7}}},
		{"best-worst within margin", []float64{0.5, 0.6}, BestWorst, 0.1, nil},
		{"all equal: no pair", []float64{0.4, 0.4, 0.4}, BestWorst, 0, nil},
		{"single rollout", []float64{0.4}, AllPairs, 0, nil},
		{"all pairs, ties never pair", []float64{0.3, 0.5, 0.3}, AllPairs, 0, []pair{{1, 0, 0.2}, {1, 2, 0.2}}},
		{"all pairs above margin, best rejected first", []float64{0.1, 0.4, 0.8}, AllPairs, 0.35, []pair{{2, 1, 0.4}, {2, 0, 0.7}}},
		{"all pairs, every order", []float64{0.2, 0.8, 0.5}, AllPairs, 0, []pair{{1, 2, 0.3}, {1, 0, 0.6}, {2, 0, 0.3}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := selectPairs(heads(tc.rewards...), tc.pairing, tc.margin)
			assert.Len(t, got, len(tc.want), "selectPairs(%v)", tc.rewards)
			for i := range min(len(got), len(tc.want)) {
				assert.Equal(t, tc.want[i].chosen, got[i].chosen, "pair %d chosen", i)
				assert.Equal(t, tc.want[i].rejected, got[i].rejected, "pair %d rejected", i)
				assert.InDelta(t, tc.want[i].margin, got[i].margin, 1e-15, "pair %d margin", i)
			}
		})
	}
}

// shortCands are the short ids "1".."n" of the output contract.
func shortCands(n int) []rank.Candidate {
	c := make([]rank.Candidate, n)
	for k := range c {
		c[k] = rank.Candidate{ID: string(rune('1' + k))}
	}
	return c
}

// parsedRecord is a rollout over candidate order `order` whose completion
// is text, parsed against the short ids as the rollout loop parses it.
func parsedRecord(text string, order []int) *rollout.Record {
	res := rank.Parse(text, shortCands(len(order)))
	r := &rollout.Record{Order: order, Completion: text, Parse: res.Report(), Ranking: make([]int, len(order))}
	for p, k := range res.Order {
		r.Ranking[p] = order[k]
	}
	return r
}

// In these cases the rejected prompt showed candidates 2, 0, 1 as [1], [2],
// [3]; the chosen prompt shows 0, 1, 2. So [1]->[3], [2]->[1], [3]->[2].
func TestRewriteIDs(t *testing.T) {
	from, to := []int{2, 0, 1}, []int{0, 1, 2}
	cases := []struct {
		name, text, want string
		ok               bool
	}{
		{"contract line", "[1] > [3] > [2]", "[3] > [2] > [1]", true},
		{"reasoning rewritten too", "I like [1] most, then [3].\n[1] > [3] > [2]", "I like [3] most, then [2].\n[3] > [2] > [1]", true},
		{"out-of-range ids kept", "[7] aside\n[2] > [1] > [3]", "[7] aside\n[1] > [3] > [2]", true},
		{"json array", `["1", "3", "2"]`, `["3", "2", "1"]`, true},
		{"partial ranking", "[3] > [1]", "[2] > [3]", true},
		{"think block", "<think>[2] is good</think>\n[2] > [1] > [3]", "<think>[1] is good</think>\n[1] > [3] > [2]", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := rewriteIDs(parsedRecord(tc.text, from), to)
			assert.Equal(t, tc.ok, ok, "rewriteIDs(%q) ok", tc.text)
			assert.Equal(t, tc.want, got, "rewriteIDs(%q)", tc.text)
		})
	}
}

// TestRewriteIDsRefusesUnverifiable: a ranking written with titles parses
// (with the titles) for its own prompt, but the check cannot see titles, so
// the pair is refused rather than exported with a wrong text.
func TestRewriteIDsRefusesUnverifiable(t *testing.T) {
	cands := []rank.Candidate{{ID: "1", Title: "Alien"}, {ID: "2", Title: "Babe"}, {ID: "3", Title: "Casino"}}
	text := "Alien > Casino > Babe"
	res := rank.Parse(text, cands)
	order := []int{2, 0, 1}
	r := &rollout.Record{Order: order, Completion: text, Parse: res.Report(), Ranking: make([]int, 3)}
	for p, k := range res.Order {
		r.Ranking[p] = order[k]
	}
	if res.NGenerated == 0 {
		t.Skip("rank does not match titles in this form")
	}
	_, ok := rewriteIDs(r, []int{0, 1, 2})
	assert.False(t, ok)
}

func TestRankingLine(t *testing.T) {
	// Candidates 0, 1, 2 shown as [2], [3], [1] (order 2, 0, 1).
	assert.Equal(t, "[3] > [1] > [2]", rankingLine([]int{1, 2, 0}, []int{2, 0, 1}))
	assert.Equal(t, "[1]", rankingLine([]int{0}, []int{0}))
}

func TestPairTextsRankingMode(t *testing.T) {
	chosen := parsedRecord("thinking...\n[2] > [1] > [3]", []int{0, 1, 2})
	rejected := parsedRecord("[3]", []int{2, 0, 1}) // names candidate 1; repair appends 2, 0
	c, r, ok := pairTexts(chosen, rejected, Ranking)
	assert.True(t, ok)
	assert.Equal(t, "[2] > [1] > [3]", c)
	// rejected ranking: candidates 1, 2, 0 -> chosen ids [2], [3], [1].
	assert.Equal(t, "[2] > [3] > [1]", r)
}
