package export

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/flexrec/flexrec/rank"
	"github.com/flexrec/flexrec/rollout"
)

// pair is one preference pair of a group, as indices into the group.
type pair struct {
	chosen, rejected int
	margin           float64 // list reward of chosen minus rejected, > Config.Margin
}

// selectPairs picks a group's preference pairs from its list rewards.
// Rollouts are ranked by reward, best first, ties by rollout index (lower
// first). BestWorst pairs the first with the last; AllPairs pairs every
// (i, j) with i ranked before j. Either way a pair is kept only when the
// reward difference exceeds margin, so equal rewards never pair.
func selectPairs(heads []head, p Pairing, margin float64) []pair {
	idx := make([]int, len(heads))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if c := cmp.Compare(heads[b].listReward, heads[a].listReward); c != 0 {
			return c
		}
		return cmp.Compare(heads[a].rollout, heads[b].rollout)
	})
	var out []pair
	add := func(c, r int) {
		if d := heads[c].listReward - heads[r].listReward; d > margin {
			out = append(out, pair{chosen: c, rejected: r, margin: d})
		}
	}
	if p == BestWorst {
		if len(idx) > 1 {
			add(idx[0], idx[len(idx)-1])
		}
		return out
	}
	for a := range idx {
		for _, b := range idx[a+1:] {
			add(idx[a], b)
		}
	}
	return out
}

// shortIDs returns, for the candidate order to (a prompt's shuffle), the
// short id (1-based) under which each candidate appears.
func shortIDs(to []int) []int {
	pos := make([]int, len(to))
	for k, c := range to {
		pos[c] = k + 1
	}
	return pos
}

// rankingLine writes a ranking (candidate indices) in the output contract,
// "[a] > [b] > ...", under the prompt whose candidate order is to.
func rankingLine(ranking, to []int) string {
	ids := shortIDs(to)
	var b strings.Builder
	b.Grow(len(ranking) * 7)
	for p, c := range ranking {
		if p > 0 {
			b.WriteString(" > ")
		}
		b.WriteByte('[')
		b.WriteString(strconv.Itoa(ids[c]))
		b.WriteByte(']')
	}
	return b.String()
}

// pairTexts returns the chosen and rejected completions of a pair, both
// written for the chosen rollout's prompt; ok is false when the rejected
// text cannot be re-expressed faithfully (mode Full only).
func pairTexts(chosen, rejected *rollout.Record, mode Completions) (c, r string, ok bool) {
	if mode == Ranking {
		return rankingLine(chosen.Ranking, chosen.Order), rankingLine(rejected.Ranking, chosen.Order), true
	}
	r, ok = rewriteIDs(rejected, chosen.Order)
	return chosen.Completion, r, ok
}

// rewriteIDs rewrites rec's completion for the prompt whose candidate
// order is to: every bracketed id "[k]" (1 <= k <= N) anywhere in the text,
// reasoning included, and every id of the parsed final ranking written in
// another form (JSON "k", a bare k) becomes the id the same candidate has
// under to. Titles need no rewrite. References of other forms in the
// reasoning ("the 3rd one") are left as written.
//
// The result is checked: parsed against to's ids it must name the same
// candidates, in the same order, as rec's own parse did. ok is false when
// it does not (for example when the model named items by title, which the
// check cannot see), and the pair is then skipped.
func rewriteIDs(rec *rollout.Record, to []int) (string, bool) {
	n := len(rec.Order)
	if len(to) != n {
		return "", false
	}
	ids := shortIDs(to)
	remap := func(k int) int { return ids[rec.Order[k-1]] }
	text := rec.Completion
	edits := bracketEdits(text, n)
	edits = append(edits, spanEdits(text, &rec.Parse, n, edits)...)
	slices.SortFunc(edits, func(a, b edit) int { return cmp.Compare(a.start, b.start) })
	var b strings.Builder
	b.Grow(len(text) + len(edits))
	last := 0
	for _, e := range edits {
		b.WriteString(text[last:e.start])
		b.WriteString(strconv.Itoa(remap(e.id)))
		last = e.end
	}
	b.WriteString(text[last:])
	out := b.String()
	return out, sameGenerated(out, rec, to)
}

// edit replaces text[start:end], the digits of short id id.
type edit struct{ start, end, id int }

// bracketEdits finds every "[k]" with 1 <= k <= n.
func bracketEdits(text string, n int) []edit {
	var out []edit
	for i := 0; i < len(text); i++ {
		if text[i] != '[' {
			continue
		}
		j := i + 1
		for j < len(text) && j-i <= 6 && text[j] >= '0' && text[j] <= '9' {
			j++
		}
		if j == i+1 || j >= len(text) || text[j] != ']' {
			continue
		}
		if k, err := strconv.Atoi(text[i+1 : j]); err == nil && k >= 1 && k <= n {
			out = append(out, edit{i + 1, j, k})
		}
		i = j
	}
	return out
}

// spanEdits finds the ids of the parsed final ranking written without
// brackets: the first run of ASCII digits equal to the id within its span.
// Spans already covered by a bracket edit are left to it.
func spanEdits(text string, rep *rank.Report, n int, taken []edit) []edit {
	var out []edit
	for i, id := range rep.Generated {
		if i >= len(rep.Spans) {
			break
		}
		k, err := strconv.Atoi(id)
		s, e := rep.Spans[i][0], rep.Spans[i][1]
		if err != nil || k < 1 || k > n || s < 0 || e > len(text) || s >= e || overlaps(taken, s, e) {
			continue
		}
		if at := digitRun(text[s:e], id); at >= 0 {
			out = append(out, edit{s + at, s + at + len(id), k})
		}
	}
	return out
}

func overlaps(edits []edit, s, e int) bool {
	for _, x := range edits {
		if x.start < e && s < x.end {
			return true
		}
	}
	return false
}

// digitRun returns the offset of the first maximal run of ASCII digits in
// s that equals id, or -1.
func digitRun(s, id string) int {
	for i := 0; i < len(s); {
		if s[i] < '0' || s[i] > '9' {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if s[i:j] == id {
			return i
		}
		i = j
	}
	return -1
}

// sameGenerated reports whether text, parsed against the short ids of the
// prompt with candidate order to, generates the candidates rec generated,
// in the same order.
func sameGenerated(text string, rec *rollout.Record, to []int) bool {
	cands := make([]rank.Candidate, len(to))
	for k := range cands {
		cands[k] = rank.Candidate{ID: strconv.Itoa(k + 1)}
	}
	res := rank.Parse(text, cands)
	g := rec.Parse.NGenerated
	if res.NGenerated != g {
		return false
	}
	for p := range g {
		if to[res.Order[p]] != rec.Ranking[p] {
			return false
		}
	}
	return true
}
