package rank

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/llm"
)

// fuzzSeeds are truncated, duplicated, hallucinated and mixed-format answers.
var fuzzSeeds = []string{
	"[3] > [1] > [2]",
	"[3] > [1] > [",
	"[3] > [3] > [9] > [1",
	"<think>[1] > [2]</think>\n3, 1, 2",
	"<think>unclosed [1]",
	"1. [2] Title\n2. Heat\n- [1]\n[\"3\", {\"id\": 4}, [5]]",
	"［３］＞【1】→ 2 -> [0] => [44]",
	"```json\n{\"ranking\": [\"2\", \"1\"\n```",
	"\\[2\\] > \\[1\\]\n**[3]**",
	"Final: The Matrix > Alien > [2] Heat, [1], 4;",
	"[{\"item_id\": \"[2]\", \"tags\": [\"a\", {\"b\": \"]\"}]}, {\"title\": \"Up\"}",
}

func fuzzCands(n uint8, ids bool) []Candidate {
	c := numbered(int(n % 48))
	if ids {
		for i := range c {
			c[i].ID = "id" + strconv.Itoa(i*7)
		}
	}
	if len(c) > 2 {
		c[0].Title, c[1].Title, c[2].Title = "Heat", "The Matrix", "Heat"
	}
	return c
}

// FuzzParse checks that any text parses without panicking into a report
// whose permutation survives every repair policy, and that the spans align
// with any tokenisation of the text.
func FuzzParse(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add(s, uint8(3+i), i%2 == 0, i%3 == 0)
	}
	for _, c := range loadCases(f, "testdata/answers.txt") {
		f.Add(c.text, uint8(len(c.cands())), c.IDs != nil, c.JSON)
	}
	f.Fuzz(func(t *testing.T, text string, n uint8, ids, json bool) {
		cands := fuzzCands(n, ids)
		p := Parser{JSON: json}
		res := p.Parse(text, cands)
		checkInvariants(t, res)
		scores := make([]float64, len(cands))
		for i := range scores {
			scores[i] = float64((i * 7) % 5)
		}
		for _, pol := range []Policy{ByScore, PromptOrder} {
			require.NoError(t, Repair(res, pol, scores))
			checkInvariants(t, res)
		}
		_ = Repair(res, Reject, nil) // the error is the point, any answer may get one
		al, err := Align(res, tokenize(text))
		require.NoError(t, err)
		checkCover(t, res, al, tokenize(text))
	})
}

// checkCover asserts that each range's tokens cover the item's span and
// that its first and last tokens overlap it.
func checkCover(t *testing.T, res *Result, al []ItemTokens, tokens []llm.Token) {
	t.Helper()
	starts := make([]int, len(tokens)+1)
	for k := range tokens {
		starts[k+1] = starts[k] + tokenLen(&tokens[k])
	}
	require.Len(t, al, len(res.Items))
	for i, a := range al {
		it := res.Items[i]
		require.True(t, a.First < a.Last, "item %d [%d,%d) has no tokens", i, it.Start, it.End)
		require.LessOrEqual(t, starts[a.First], it.Start, "item %d first token starts after the span", i)
		require.GreaterOrEqual(t, starts[a.Last], it.End, "item %d last token ends before the span", i)
		require.Greater(t, starts[a.First+1], it.Start, "item %d first token does not overlap", i)
		require.Less(t, starts[a.Last-1], it.End, "item %d last token does not overlap", i)
	}
}

// FuzzAlign splits an answer into tokens at arbitrary byte positions (mid
// rune included, with Bytes set, and empty tokens), checks the ranges, then
// corrupts one byte and expects an *AlignError.
func FuzzAlign(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add(s, uint64(i))
	}
	f.Fuzz(func(t *testing.T, text string, seed uint64) {
		res := Parse(text, fuzzCands(uint8(seed), false))
		rng := rand.New(rand.NewPCG(seed, 1))
		var tokens []llm.Token
		for pos := 0; pos < len(text); {
			end := min(len(text), pos+rng.IntN(6))
			tok := llm.Token{Text: text[pos:end], Logprob: -1}
			if rng.IntN(3) == 0 {
				tok = llm.Token{Text: "\ufffd", Bytes: []byte(text[pos:end]), Logprob: -1}
			}
			tokens = append(tokens, tok)
			pos = end
		}
		al, err := Align(res, tokens)
		require.NoError(t, err)
		checkCover(t, res, al, tokens)
		for _, a := range al {
			require.InDelta(t, -float64(a.Last-a.First), a.Logprob, 1e-9)
		}
		if len(tokens) == 0 {
			return
		}
		k := rng.IntN(len(tokens))
		switch b := tokens[k].Bytes; {
		case len(b) > 0:
			b = append([]byte(nil), b...)
			b[0] ^= 0x20
			tokens[k].Bytes = b
		case b != nil: // empty Bytes define an empty token whatever its Text
			tokens[k].Bytes = []byte("x")
		default:
			tokens[k].Text += "x"
		}
		_, err = Align(res, tokens)
		var ae *AlignError
		require.ErrorAs(t, err, &ae, "a corrupted token must not align")
	})
}
