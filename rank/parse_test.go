package rank

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// answerCase is one case of testdata/answers.txt.
type answerCase struct {
	Name        string   `json:"name"`
	N           int      `json:"n"`
	IDs         []string `json:"ids"`
	Titles      []string `json:"titles"`
	JSON        bool     `json:"json"`
	Generated   []string `json:"generated"`
	Unknown     []string `json:"unknown"`
	Ambiguous   []string `json:"ambiguous"`
	Duplicates  []string `json:"duplicates"`
	Missing     []string `json:"missing"`
	Truncated   bool     `json:"truncated"`
	FormatOK    bool     `json:"format_ok"`
	Permutation []string `json:"permutation"`
	text        string
	line        int
}

// cands builds the candidate set of a case.
func (c *answerCase) cands() []Candidate {
	ids := c.IDs
	if ids == nil {
		for i := 1; i <= c.N; i++ {
			ids = append(ids, strconv.Itoa(i))
		}
	}
	out := make([]Candidate, len(ids))
	for i, id := range ids {
		out[i].ID = id
		if i < len(c.Titles) {
			out[i].Title = c.Titles[i]
		}
	}
	return out
}

// loadCases reads testdata/answers.txt; a bad header names its line.
func loadCases(t testing.TB, path string) []answerCase {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var cases []answerCase
	var text []string
	flush := func() {
		if len(cases) > 0 {
			cases[len(cases)-1].text = strings.Join(text, "\n")
		}
		text = text[:0]
	}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "=== "):
			flush()
			var c answerCase
			dec := json.NewDecoder(strings.NewReader(l[4:]))
			dec.DisallowUnknownFields()
			require.NoError(t, dec.Decode(&c), "%s:%d: bad case header", path, line)
			c.line = line
			cases = append(cases, c)
		case len(cases) == 0:
			// comments before the first case
		default:
			text = append(text, l)
		}
	}
	require.NoError(t, sc.Err())
	flush()
	return cases
}

func emptyIfNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// wantPermutation applies the prompt-order rule to the expected report:
// generated known ids in order, first mentions only, then the missing ones.
func (c *answerCase) wantPermutation() []string {
	if c.Permutation != nil {
		return c.Permutation
	}
	bad := map[string]bool{}
	for _, u := range append(append([]string{}, c.Unknown...), c.Ambiguous...) {
		bad[u] = true
	}
	seen := map[string]bool{}
	var perm []string
	for _, g := range c.Generated {
		if !bad[g] && !seen[g] {
			seen[g] = true
			perm = append(perm, g)
		}
	}
	return append(perm, c.Missing...)
}

func TestParseAnswers(t *testing.T) {
	for _, c := range loadCases(t, "testdata/answers.txt") {
		t.Run(c.Name, func(t *testing.T) {
			p := Parser{JSON: c.JSON}
			res := p.Parse(c.text, c.cands())
			rep := res.Report()
			where := fmt.Sprintf("answers.txt:%d", c.line)
			assert.Equal(t, emptyIfNil(c.Generated), rep.Generated, "%s: generated", where)
			assert.Equal(t, emptyIfNil(c.Unknown), rep.Unknown, "%s: unknown", where)
			assert.Equal(t, emptyIfNil(c.Ambiguous), rep.Ambiguous, "%s: ambiguous", where)
			assert.Equal(t, emptyIfNil(c.Duplicates), rep.Duplicates, "%s: duplicates", where)
			assert.Equal(t, emptyIfNil(c.Missing), rep.Missing, "%s: missing", where)
			assert.Equal(t, c.Truncated, rep.Truncated, "%s: truncated", where)
			assert.Equal(t, c.FormatOK, rep.FormatOK, "%s: format_ok", where)
			assert.Equal(t, c.wantPermutation(), rep.Permutation, "%s: permutation", where)
			checkSpans(t, res)
		})
	}
}

// checkSpans asserts that each mention's span lies in the text, in order,
// and holds what was read: the id (digits folded) or the written title.
func checkSpans(t *testing.T, res *Result) {
	t.Helper()
	prev := 0
	for _, it := range res.Items {
		require.True(t, it.Start >= prev && it.Start < it.End && it.End <= len(res.Text),
			"span [%d,%d) after %d in %d bytes", it.Start, it.End, prev, len(res.Text))
		prev = it.End
		written := string(normalise(nil, res.Text[it.Start:it.End]))
		written = strings.Map(func(r rune) rune {
			if r == fill {
				return -1
			}
			return r
		}, written)
		if it.ByTitle || it.Status == Unknown {
			continue
		}
		assert.Contains(t, strings.ToLower(written), strings.ToLower(it.ID), "span text %q of id %q", written, it.ID)
	}
}
