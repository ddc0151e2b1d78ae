package rank

import (
	"bytes"
	"slices"
)

// span is a byte range; clean marks an ASCII '>' separator after a part.
type span struct {
	lo, hi int
	clean  bool
}

// rawItem is one mention found while scanning, before a segment is chosen.
type rawItem struct {
	start, end int  // span in the text, delimiters included
	idLo, idHi int  // the id or title as written
	cand       int  // candidate index, noMatch or ambiguous
	title      bool // recognised (or attempted) as a title
	idish      bool // written as an id: bracketed, quoted token, number
	clean      bool // exactly `[id]` in ASCII
}

type segKind uint8

const (
	kindArrow segKind = iota // [3] > [1] > [2]
	kindComma                // 3, 1, 2 or [3] [1] [2]
	kindLines                // one item per line
	kindJSON                 // ["3", "1"], [3, 1], [{"id": 3}]
)

// segment is a run of mentions that may be the ranking: items[lo:hi].
type segment struct {
	kind       segKind
	lo, hi     int
	start, end int  // byte extent
	strong     bool // arrows, JSON or a marked list: ranking-shaped
	idish      bool // some item is written as an id
	cut        bool // the text ends inside it
	clean      bool // arrows only: every item and separator as in the contract
	known      int  // distinct candidates named, set by choose
}

// scanner finds the segments of one text.
type scanner struct {
	p         *Parser
	text      string
	b         []byte
	cands     []Candidate
	eot       int // end of the text without trailing space
	thinkOpen bool
	inl, list segment
	inlOn     bool
	listOn    bool
	cont      bool // the inline segment continues on the next line
	budget    int  // bytes JSON reading may still examine
}

// run normalises the text and fills p.items and p.segs. The answer is
// searched after the last </think>; if nothing is found there, in the whole
// text. An unclosed <think> means the answer was never written.
func (s *scanner) run() {
	p := s.p
	p.norm = normalise(p.norm, s.text)
	s.b = p.norm
	s.eot = len(s.b)
	for s.eot > 0 && isSpace(s.b[s.eot-1]) {
		s.eot--
	}
	lo := s.thinkEnd()
	s.scan(lo)
	if lo > 0 && lo < len(s.b) && !s.anyKnown() {
		s.scan(0)
	}
}

// thinkEnd returns where the answer starts: after the last </think>, 0 when
// there is none, or the end when a <think> is never closed. It also blanks
// XML-like tags (<answer>, </ranking>) into spaces, so their angle brackets
// are not read as separators; offsets are kept.
func (s *scanner) thinkEnd() int {
	b, start, open := s.b, 0, false
	for i := 0; i < len(b); i++ {
		k := bytes.IndexByte(b[i:], '<')
		if k < 0 {
			break
		}
		i += k
		end := tagEnd(b, i)
		if end < 0 {
			continue
		}
		switch name := b[i+1 : end]; {
		case bytes.HasPrefix(name, []byte("think")):
			open = true
		case bytes.HasPrefix(name, []byte("/think")):
			start, open = end+1, false
		}
		for ; i <= end; i++ {
			b[i] = ' '
		}
		i--
	}
	if open {
		s.thinkOpen = true
		return len(b)
	}
	return start
}

// tagEnd returns the index of the '>' closing a tag of letters opened at
// b[i], or -1.
func tagEnd(b []byte, i int) int {
	j := i + 1
	if j < len(b) && b[j] == '/' {
		j++
	}
	k := j
	for k < len(b) && k-j < 24 && (b[k] >= 'a' && b[k] <= 'z' || b[k] >= 'A' && b[k] <= 'Z' || b[k] == '_' || b[k] == '-') {
		k++
	}
	if k > j && k < len(b) && b[k] == '>' {
		return k
	}
	return -1
}

func (s *scanner) anyKnown() bool {
	for _, seg := range s.p.segs {
		for _, it := range s.p.items[seg.lo:seg.hi] {
			if it.cand >= 0 {
				return true
			}
		}
	}
	return false
}

// scan finds the segments of b[lo:]: JSON arrays first, then line by line
// around them; the segments end up in text order.
func (s *scanner) scan(lo int) {
	p := s.p
	p.items, p.segs, p.masks = p.items[:0], p.segs[:0], p.masks[:0]
	s.inlOn, s.listOn, s.cont = false, false, false
	// JSON arrays are tried at every '[' but within a budget of bytes
	// examined, so that nested unclosed brackets cannot make a parse
	// quadratic in the text length.
	s.budget = 8*(len(s.b)-lo) + 4096
	for i := lo; i < len(s.b) && s.budget > 0; i++ {
		if s.b[i] == '[' {
			if end, ok := s.array(i); ok {
				p.masks = append(p.masks, span{lo: i, hi: end})
				i = end - 1
			}
		}
	}
	s.lines(lo)
	s.closeInline()
	s.closeList()
	slices.SortStableFunc(p.segs, func(a, b segment) int { return a.start - b.start })
}

// lines feeds each line, minus the JSON arrays, to line.
func (s *scanner) lines(lo int) {
	masks, cur := s.p.masks, lo
	for cur < len(s.b) {
		nl := bytes.IndexByte(s.b[cur:], '\n')
		le := len(s.b)
		if nl >= 0 {
			le = cur + nl
		}
		atStart := cur == lo || s.b[cur-1] == '\n'
		if len(masks) > 0 && masks[0].lo < le {
			if masks[0].lo > cur {
				s.line(cur, masks[0].lo, atStart)
			}
			s.closeInline()
			s.closeList()
			cur, masks = masks[0].hi, masks[1:]
			continue
		}
		s.line(cur, le, atStart)
		cur = le + 1
	}
}

// line reads one line: an inline list, else an entry of a line list.
func (s *scanner) line(ls, le int, atStart bool) {
	lo, hi := ls, le
	for lo < hi && (isSpace(s.b[lo]) || s.b[lo] == fill) {
		lo++
	}
	for hi > lo && isSpace(s.b[hi-1]) {
		hi--
	}
	if lo == hi {
		return
	}
	if s.cont {
		s.cont = false
		s.inl.clean = false
		if s.inl.kind == kindArrow {
			s.arrows(lo, hi, true)
		} else {
			s.commas(lo, hi, true)
		}
		return
	}
	ms, marked := lo, false
	if atStart {
		ms, marked = s.marker(lo, hi)
	}
	nseg := len(s.p.segs)
	if bytes.IndexByte(s.b[ms:hi], '>') >= 0 {
		s.arrows(ms, hi, false)
	} else {
		s.commas(ms, hi, false)
	}
	if len(s.p.segs) > nseg || s.cont {
		return
	}
	if !s.entry(ms, hi, marked) && !(atStart && ls < lo) {
		s.closeList()
	}
}

// marker skips a list marker ("1.", "2)", "(3)", "#4:", "-", "*", "+",
// possibly in bold) and reports whether there was one.
func (s *scanner) marker(lo, hi int) (int, bool) {
	b := s.b
	if k := skipFill(b, lo+1, hi); (b[lo] == '-' || b[lo] == '*' || b[lo] == '+') && k < hi && isSpace(b[k]) {
		return skipSpace(b, k, hi), true
	}
	i := lo
	for i < hi && (b[i] == '*' || b[i] == '_') {
		i++
	}
	hash := i < hi && b[i] == '#'
	if i < hi && (hash || b[i] == '(') {
		i++
	}
	j := i
	for j < hi && (isDigit(b[j]) || b[j] == fill) {
		j++
	}
	if j == i || j-i > 9 || j == hi {
		return lo, false
	}
	if b[j] != '.' && b[j] != ')' && b[j] != ':' {
		return lo, false // "#3" or "3" alone is an id, not a marker
	}
	j = skipFill(b, j+1, hi)
	for j < hi && (b[j] == '*' || b[j] == '_') {
		j++
	}
	if j < hi && !isSpace(b[j]) {
		return lo, false
	}
	return skipSpace(b, j, hi), true
}

func skipSpace(b []byte, i, hi int) int {
	for i < hi && isSpace(b[i]) {
		i++
	}
	return i
}

// addInline appends an item to the inline segment when joined to it, or
// starts a new inline segment with it.
func (s *scanner) addInline(it rawItem, kind segKind, joined bool) {
	if !s.inlOn || !joined || s.inl.kind != kind {
		s.closeInline()
		s.inlOn = true
		s.inl = segment{kind: kind, lo: len(s.p.items), start: it.start, strong: kind == kindArrow, clean: true}
	}
	s.p.items = append(s.p.items, it)
	s.inl.hi, s.inl.end = len(s.p.items), it.end
	s.inl.idish = s.inl.idish || it.idish
	s.inl.clean = s.inl.clean && it.clean
}

// closeInline keeps the inline segment when it holds two items or more, or
// one and the text ends inside it.
func (s *scanner) closeInline() {
	if !s.inlOn {
		return
	}
	s.inlOn, s.cont = false, false
	if n := s.inl.hi - s.inl.lo; n < 2 && !(n == 1 && s.inl.cut) {
		s.p.items = s.p.items[:s.inl.lo]
		return
	}
	s.closeList()
	s.p.segs = append(s.p.segs, s.inl)
}

func (s *scanner) closeList() {
	if s.listOn {
		s.listOn = false
		s.p.segs = append(s.p.segs, s.list)
	}
}

// addEntry appends one line's item to the open line list or starts one.
func (s *scanner) addEntry(it rawItem, marked bool) {
	if !s.listOn {
		s.listOn = true
		s.list = segment{kind: kindLines, lo: len(s.p.items), start: it.start, strong: marked, clean: it.clean}
	} else {
		s.list.clean = false
	}
	s.p.items = append(s.p.items, it)
	s.list.hi, s.list.end = len(s.p.items), it.end
	s.list.idish = s.list.idish || it.idish
}

// atEnd reports whether only space follows i in the text.
func (s *scanner) atEnd(i int) bool { return i >= s.eot }

// endsCut reports whether the text ends on a separator or an open bracket.
func (s *scanner) endsCut() bool {
	return s.eot > 0 && bytes.IndexByte([]byte(">,["), s.b[s.eot-1]) >= 0
}

// formatOK checks the chosen segment against the output contract.
func (s *scanner) formatOK(seg *segment) bool {
	if s.p.JSON {
		return seg.kind == kindJSON && !seg.cut && s.onlyJSON()
	}
	if seg.kind != kindArrow && seg.kind != kindLines || !seg.clean || seg.cut ||
		bytes.IndexByte(s.b[seg.start:seg.end], '\n') >= 0 {
		return false
	}
	for _, c := range s.b[seg.end:] {
		if !isSpace(c) && c != '.' && c != '*' && c != '`' {
			return false
		}
	}
	return true
}

// onlyJSON reports whether the text, code fences aside, is one JSON value.
func (s *scanner) onlyJSON() bool {
	t := bytes.TrimSpace(s.b)
	if bytes.HasPrefix(t, []byte("```")) {
		if i := bytes.IndexByte(t, '\n'); i >= 0 {
			t = t[i:]
		}
		t = bytes.TrimSpace(bytes.TrimSuffix(t, []byte("```")))
	}
	return len(t) > 1 && (t[0] == '[' || t[0] == '{') && (t[len(t)-1] == ']' || t[len(t)-1] == '}')
}
