package rank

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// checkInvariants asserts what must hold for any input: Order is a
// permutation of the candidates whose generated prefix is the first
// mentions of known items, the report lists agree with the items, and spans
// are ordered and inside the text.
func checkInvariants(t testing.TB, res *Result) {
	t.Helper()
	n := len(res.Cands)
	require.Len(t, res.Order, n, "Order length")
	seen := make([]bool, n)
	for _, c := range res.Order {
		require.True(t, c >= 0 && c < n && !seen[c], "Order %v is not a permutation of %d", res.Order, n)
		seen[c] = true
	}
	var gen []int
	var unknown, ambiguous, dups []string
	prev := 0
	for _, it := range res.Items {
		require.True(t, it.Start >= prev && it.Start < it.End && it.End <= len(res.Text),
			"span [%d,%d) after %d in %d bytes", it.Start, it.End, prev, len(res.Text))
		prev = it.End
		switch it.Status {
		case OK:
			gen = append(gen, it.Cand)
		case Unknown:
			unknown = append(unknown, it.ID)
		case Ambiguous:
			ambiguous = append(ambiguous, it.ID)
		case Duplicate:
			dups = append(dups, it.ID)
		}
	}
	require.Equal(t, len(gen), res.NGenerated, "NGenerated")
	assert.True(t, slices.Equal(gen, res.Order[:res.NGenerated]), "generated prefix %v, want %v", res.Order[:res.NGenerated], gen)
	assert.True(t, slices.Equal(unknown, res.Unknown), "unknown list %v, want %v", res.Unknown, unknown)
	assert.True(t, slices.Equal(ambiguous, res.Ambiguous), "ambiguous list %v, want %v", res.Ambiguous, ambiguous)
	assert.True(t, slices.Equal(dups, res.Duplicates), "duplicates list %v, want %v", res.Duplicates, dups)
	assert.Equal(t, n-res.NGenerated, len(res.Missing), "missing count")
	assert.False(t, res.FormatOK && res.Truncated, "a cut answer is never format ok")
}

// written is one item a simulated model writes: a candidate or a made-up id.
type written struct {
	id, title string
	cand      int // -1 for a made-up id
}

// render writes items in one of the formats models use. It returns the text
// and whether the format is the contract.
func render(format int, items []written) (string, bool) {
	var b strings.Builder
	switch format {
	case 0, 6, 7, 8: // contract line, full-width, think block, code fence
		if format == 7 {
			b.WriteString("<think>first guess [1] > [2]</think>\n")
		}
		if format == 8 {
			b.WriteString("```\n")
		}
		for i, it := range items {
			if i > 0 {
				b.WriteString(" > ")
			}
			b.WriteString("[" + it.id + "]")
		}
		if format == 8 {
			b.WriteString("\n```")
		}
		if format == 6 {
			return toFullWidth(b.String()), false
		}
		return b.String(), true
	case 1:
		for i, it := range items {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("[" + it.id + "]")
		}
	case 2:
		for i, it := range items {
			fmt.Fprintf(&b, "%d. [%s] %s\n", i+1, it.id, it.title)
		}
	case 3:
		b.WriteString(`{"ranking": [`)
		for i, it := range items {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Quote(it.id))
		}
		b.WriteString("]}")
	case 4:
		b.WriteString("[\n")
		for i, it := range items {
			if i > 0 {
				b.WriteString(",\n")
			}
			fmt.Fprintf(&b, `  {"item_id": %q, "why": "fits [%d]"}`, it.id, i)
		}
		b.WriteString("\n]")
	case 5:
		for _, it := range items {
			b.WriteString("- " + it.title + "\n")
		}
	}
	return b.String(), false
}

// toFullWidth maps ASCII brackets, digits, letters and '>' to their
// full-width forms.
func toFullWidth(s string) string {
	return strings.Map(func(r rune) rune {
		if r > ' ' && r < 0x7F {
			return r + 0xFEE0
		}
		return r
	}, s)
}

// simulate picks what a model writes: a shuffled subset of cands, maybe
// with repeats and made-up ids.
func simulate(rng *rand.Rand, cands []Candidate) []written {
	perm := rng.Perm(len(cands))
	keep := len(cands)
	if rng.IntN(3) == 0 {
		keep = 1 + rng.IntN(len(cands))
	}
	var out []written
	for _, c := range perm[:keep] {
		out = append(out, written{id: cands[c].ID, title: cands[c].Title, cand: c})
		switch rng.IntN(12) {
		case 0:
			d := out[rng.IntN(len(out))]
			out = append(out, d)
		case 1:
			id := strconv.Itoa(len(cands) + 1 + rng.IntN(50))
			if _, err := strconv.Atoi(cands[0].ID); err != nil {
				id = "zz" + id
			}
			out = append(out, written{id: id, title: "Unheard of film " + id, cand: -1})
		}
	}
	return out
}

// stringIDs returns n candidates with distinct product-like ids.
func stringIDs(rng *rand.Rand, n int) []Candidate {
	c := numbered(n)
	for i := range c {
		c[i].ID = fmt.Sprintf("B%02d%c%c", i, 'A'+rng.IntN(26), 'A'+rng.IntN(26))
	}
	return c
}

func TestPropertySimulatedAnswers(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for trial := range 3000 {
		n := 1 + rng.IntN(40)
		cands := numbered(n)
		if rng.IntN(3) == 0 {
			cands = stringIDs(rng, n)
		}
		items := simulate(rng, cands)
		format := rng.IntN(9)
		text, contract := render(format, items)
		contract = contract || format == 1 && len(items) == 1 // "[5]" is both
		cut := format == 0 && rng.IntN(4) == 0
		if cut {
			text += " > ["
		}
		if rng.IntN(2) == 0 && format != 7 && len(items) > 1 {
			text = reasoning(40+rng.IntN(200), rng, n) + "\n\n" + text
		}
		res := Parse(text, cands)
		checkInvariants(t, res)

		var wantGen, wantUnknown, wantDups []string
		seen := map[int]bool{}
		for _, it := range items {
			id := it.id
			if format == 5 && it.cand >= 0 {
				id = cands[it.cand].ID
			} else if format == 5 {
				id = it.title
			}
			wantGen = append(wantGen, id)
			switch {
			case it.cand < 0:
				wantUnknown = append(wantUnknown, id)
			case seen[it.cand]:
				wantDups = append(wantDups, id)
			}
			if it.cand >= 0 {
				seen[it.cand] = true
			}
		}
		var wantMissing []string
		for i, c := range cands {
			if !seen[i] {
				wantMissing = append(wantMissing, c.ID)
			}
		}
		rep := res.Report()
		where := fmt.Sprintf("trial %d format %d text %q", trial, format, text)
		require.Equal(t, wantGen, rep.Generated, where)
		require.Equal(t, emptyIfNil(wantUnknown), rep.Unknown, where)
		require.Equal(t, emptyIfNil(wantDups), rep.Duplicates, where)
		require.Equal(t, emptyIfNil(wantMissing), rep.Missing, where)
		require.Equal(t, cut, rep.Truncated, where)
		require.Equal(t, contract && !cut, rep.FormatOK, where)
	}
}

// TestPropertyRepairPolicies checks that every policy keeps the generated
// prefix and yields a permutation, and that ByScore's tail is sorted.
func TestPropertyRepairPolicies(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for range 500 {
		n := 1 + rng.IntN(30)
		cands := numbered(n)
		text, _ := render(0, simulate(rng, cands))
		res := Parse(text, cands)
		prefix := slices.Clone(res.Order[:res.NGenerated])
		scores := make([]float64, n)
		for i := range scores {
			scores[i] = float64(rng.IntN(5))
		}
		require.NoError(t, Repair(res, ByScore, scores))
		checkInvariants(t, res)
		assert.Equal(t, prefix, res.Order[:res.NGenerated])
		tail := res.Order[res.NGenerated:]
		for i := 1; i < len(tail); i++ {
			a, b := tail[i-1], tail[i]
			assert.True(t, scores[a] > scores[b] || scores[a] == scores[b] && a < b,
				"tail %v not by descending score %v", tail, scores)
		}
		require.NoError(t, Repair(res, PromptOrder, nil))
		assert.True(t, slices.IsSorted(res.Order[res.NGenerated:]), "prompt-order tail sorted")
		err := Repair(res, Reject, nil)
		assert.Equal(t, len(res.Missing)+len(res.Unknown)+len(res.Duplicates) > 0, err != nil, "Reject error iff repairs")
	}
}
