package rank

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/llm"
)

func TestParseSpans(t *testing.T) {
	tests := []struct {
		name   string
		text   string
		titles []string
		want   [][2]int
	}{
		{"contract brackets included", "[3] > [1] > [12]", nil, [][2]int{{0, 3}, {6, 9}, {12, 16}}},
		{"prefix text not included", "Final: [2] > [1]", nil, [][2]int{{7, 10}, {13, 16}}},
		// ［ and ］ and ＞ are 3 bytes each, full-width digits too.
		{"full-width", "［３］＞［１］", nil, [][2]int{{0, 9}, {12, 21}}},
		{"lenticular", "【3】【1】", nil, [][2]int{{0, 7}, {7, 14}}},
		{"bare ids", "3, 1, 12", nil, [][2]int{{0, 1}, {3, 4}, {6, 8}}},
		{"json strings keep quotes", `["3", "1"]`, nil, [][2]int{{1, 4}, {6, 9}}},
		{"json object value", `[{"id": "3"}, {"id": 1}]`, nil, [][2]int{{8, 11}, {21, 22}}},
		{"titles in a list", "1. Heat - tense\n2. Up", []string{"Up", "", "Heat"}, [][2]int{{3, 7}, {19, 21}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cands := numbered(12)
			for i, ti := range tc.titles {
				cands[i].Title = ti
			}
			res := Parse(tc.text, cands)
			got := res.Report().Spans
			assert.Equal(t, tc.want, got, "Parse(%q) spans", tc.text)
		})
	}
}

func TestRepair(t *testing.T) {
	cands := numbered(5)
	text := "[4] > [2] > [9]" // 1, 3, 5 missing; 9 unknown
	tests := []struct {
		name    string
		policy  Policy
		scores  []float64
		want    []string
		wantErr error
	}{
		{"prompt order", PromptOrder, nil, []string{"4", "2", "1", "3", "5"}, nil},
		{"score descending", ByScore, []float64{0.1, 9, 0.7, 5, 0.3}, []string{"4", "2", "3", "5", "1"}, nil},
		{"score ties keep candidate order", ByScore, []float64{1, 0, 1, 0, 1}, []string{"4", "2", "1", "3", "5"}, nil},
		{"NaN scores go last", ByScore, []float64{math.NaN(), 0, -1, 0, 2}, []string{"4", "2", "5", "3", "1"}, nil},
		{"reject", Reject, nil, []string{"4", "2", "1", "3", "5"}, ErrRejected},
		{"score length", ByScore, []float64{1}, []string{"4", "2", "1", "3", "5"}, ErrScores},
		{"unknown policy", Policy("best"), nil, []string{"4", "2", "1", "3", "5"}, ErrUnknownPolicy},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := Parse(text, cands)
			require.Equal(t, 2, res.NGenerated)
			err := Repair(res, tc.policy, tc.scores)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr, "Repair(%s)", tc.policy)
			} else {
				require.NoError(t, err, "Repair(%s)", tc.policy)
				assert.Equal(t, tc.policy, res.Policy)
			}
			assert.Equal(t, tc.want, res.IDs(), "Repair(%s) order", tc.policy)
			assert.Equal(t, 2, res.NGenerated, "generated prefix length")
		})
	}
}

func TestRepairRejectError(t *testing.T) {
	res := Parse("[2] > [2] > [7]", numbered(3))
	err := Repair(res, Reject, nil)
	var re *RejectError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, RejectError{Missing: 2, Unknown: 1, Duplicates: 1}, *re)
	assert.Contains(t, err.Error(), "rank: answer rejected")

	res = Parse("[2] > [3] > [1]", numbered(3))
	require.NoError(t, Repair(res, Reject, nil), "a complete answer passes Reject")
	assert.Equal(t, Reject, res.Policy)
}

func TestParsePolicy(t *testing.T) {
	for _, name := range []string{"prompt-order", "score", "reject"} {
		p, err := ParsePolicy(name)
		require.NoError(t, err)
		assert.Equal(t, Policy(name), p)
	}
	_, err := ParsePolicy("random")
	assert.ErrorIs(t, err, ErrUnknownPolicy)
}

func TestParseSample(t *testing.T) {
	cands := numbered(3)
	s := &llm.Sample{Text: "[2] > [1] > [3]", FinishReason: "length"}
	res := ParseSample(s, cands)
	assert.True(t, res.Truncated, "finish reason length marks the answer cut")
	assert.False(t, res.FormatOK, "a cut answer is not format ok")
	assert.Equal(t, 3, res.NGenerated)
	s.FinishReason = "stop"
	res = ParseSample(s, cands)
	assert.False(t, res.Truncated)
	assert.True(t, res.Valid())
}

// toks builds tokens from texts with logprob -1, -2, -3, ...
func toks(texts ...string) []llm.Token {
	out := make([]llm.Token, len(texts))
	for i, s := range texts {
		out[i] = llm.Token{Text: s, Logprob: -float64(i + 1)}
	}
	return out
}

func TestAlign(t *testing.T) {
	type rng struct{ First, Last int }
	tests := []struct {
		name   string
		tokens []llm.Token
		want   []rng
		sums   []float64
	}{
		{"one token per piece", toks("[12]", " > ", "[3]"), []rng{{0, 1}, {2, 3}}, []float64{-1, -3}},
		{"id split over tokens", toks("[", "1", "2", "]", " >", " [", "3", "]"), []rng{{0, 4}, {5, 8}}, []float64{-10, -21}},
		{"token spans id and separator", toks("[12", "] > [", "3]"), []rng{{0, 2}, {1, 3}}, []float64{-3, -5}},
		{"empty token inside a span", toks("[1", "", "2]", " > [3]"), []rng{{0, 3}, {3, 4}}, []float64{-6, -4}},
		{"empty token between items", toks("[12]", "", " > ", "[3]"), []rng{{0, 1}, {3, 4}}, []float64{-1, -4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := Parse("[12] > [3]", numbered(12))
			require.Len(t, res.Items, 2)
			al, err := Align(res, tc.tokens)
			require.NoError(t, err)
			require.Len(t, al, len(tc.want))
			for i, w := range tc.want {
				assert.Equal(t, i, al[i].Item)
				assert.Equal(t, w, rng{al[i].First, al[i].Last}, "item %d range", i)
				assert.InDelta(t, tc.sums[i], al[i].Logprob, 1e-12, "item %d logprob", i)
			}
		})
	}
}

func TestAlignBytes(t *testing.T) {
	// "［" is EF BC BB: the server split it over two tokens whose Text is a
	// replacement character; Bytes define them.
	text := "［3］>［1］"
	res := Parse(text, numbered(3))
	require.Len(t, res.Items, 2)
	tokens := []llm.Token{
		{Text: "\ufffd", Bytes: []byte{0xEF, 0xBC}, Logprob: -1},
		{Text: "\ufffd", Bytes: []byte{0xBB, '3'}, Logprob: -2},
		{Text: "］>", Logprob: -3},
		{Text: "［1］", Logprob: -4},
	}
	al, err := Align(res, tokens)
	require.NoError(t, err)
	assert.Equal(t, ItemTokens{Item: 0, First: 0, Last: 3, Logprob: -6}, al[0])
	assert.Equal(t, ItemTokens{Item: 1, First: 3, Last: 4, Logprob: -4}, al[1])
}

func TestAlignErrors(t *testing.T) {
	res := Parse("[2] > [1]", numbered(2))
	tests := []struct {
		name       string
		tokens     []llm.Token
		token, off int
	}{
		{"different text", toks("[2]", " < ", "[1]"), 1, 4},
		{"tokens end early", toks("[2] > "), 1, 6},
		{"tokens run past the text", toks("[2] > [1]", "\n"), 1, 9},
		{"replacement character without bytes", toks("[2] > [1", "\ufffd"), 1, 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			al, err := Align(res, tc.tokens)
			var ae *AlignError
			require.True(t, errors.As(err, &ae), "Align error %v, want *AlignError", err)
			assert.Nil(t, al)
			assert.Equal(t, tc.token, ae.Token, "token")
			assert.Equal(t, tc.off, ae.Offset, "offset")
			assert.Contains(t, err.Error(), "rank: tokens do not reproduce the text")
		})
	}
}

func TestParserReuseMatchesParse(t *testing.T) {
	var p Parser
	var res Result
	for _, c := range loadCases(t, "testdata/answers.txt") {
		p.JSON = c.JSON
		p.ParseInto(&res, c.text, c.cands())
		fresh := (&Parser{JSON: c.JSON}).Parse(c.text, c.cands())
		assert.Equal(t, fresh.Report(), res.Report(), "case %q: reused Parser differs from a fresh one", c.Name)
	}
}

func TestStatusString(t *testing.T) {
	for s, want := range map[Status]string{OK: "ok", Duplicate: "duplicate", Unknown: "unknown", Ambiguous: "ambiguous", Status(9): "invalid"} {
		assert.Equal(t, want, s.String())
	}
	b, err := json.Marshal(Item{ID: "3", Cand: 2, Start: 0, End: 3, Status: Duplicate})
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":"3","cand":2,"start":0,"end":3,"status":"duplicate"}`, string(b))
}

func TestParseNoCandidates(t *testing.T) {
	res := Parse("[1] > [2]", nil)
	assert.Empty(t, res.Order)
	assert.Equal(t, []string{"1", "2"}, res.Unknown)
	require.NoError(t, Repair(res, PromptOrder, nil))
}

func TestDuplicateCandidateIDs(t *testing.T) {
	cands := []Candidate{{ID: "a"}, {ID: "b"}, {ID: "a"}}
	res := Parse("[a] > [b]", cands)
	assert.Equal(t, []int{0, 1, 2}, res.Order, "the first candidate with an id gets its mentions")
	assert.Equal(t, []string{"a"}, res.Missing, "the shadowed duplicate is missing")
}
