package rank

import "bytes"

// maxBracket is the longest bracket content read as an id or title.
const maxBracket = 96

// arrows reads a line of items joined by '>' (or →, ->, =>, ＞). The first
// item of a segment is the last one before an arrow, so prose may precede
// it ("Final ranking: [3] > ..."); later items are the first one after an
// arrow. A part that yields no item ends the segment.
func (s *scanner) arrows(lo, hi int, cont bool) {
	parts := s.splitArrows(lo, hi)
	for k, pt := range parts {
		last := k == len(parts)-1
		if s.inlOn && (k > 0 || cont) {
			sepClean := k > 0 && parts[k-1].clean
			if it, ok := s.head(pt, last); ok {
				it.clean = it.clean && sepClean
				s.addInline(it, kindArrow, true)
				if !last && bytes.IndexByte(s.b[it.end:pt.hi], '[') >= 0 && s.brackets(pt) > 1 {
					s.closeInline()
				}
			} else {
				s.danglingArrow(pt, last)
			}
		}
		if !s.inlOn && !last {
			if it, ok := s.tail(pt); ok {
				s.addInline(it, kindArrow, false)
			}
		}
	}
	if !s.cont {
		s.closeInline()
	}
}

// danglingArrow ends the segment after an arrow followed by nothing usable:
// at the end of the text it was cut; at the end of a line it goes on.
func (s *scanner) danglingArrow(pt span, last bool) {
	a, z := trimDecor(s.b, pt.lo, pt.hi, false)
	switch {
	case last && (a == z || s.b[a] == '[') && s.atEnd(pt.hi):
		s.inl.cut = true
	case last && a == z:
		s.cont = true
		return
	}
	s.closeInline()
}

// splitArrows cuts b[lo:hi] at every arrow into p.parts.
func (s *scanner) splitArrows(lo, hi int) []span {
	p, b := s.p, s.b
	p.parts = p.parts[:0]
	start := lo
	for i := lo; i < hi; i++ {
		if b[i] != '>' {
			continue
		}
		end, clean := i, s.text[i] == '>'
		if i > start && (b[i-1] == '-' || b[i-1] == '=') {
			end, clean = i-1, false
		}
		p.parts = append(p.parts, span{lo: start, hi: end, clean: clean})
		start = i + 1
	}
	p.parts = append(p.parts, span{lo: start, hi: hi})
	return p.parts
}

// head finds the item that opens a part: its first bracketed id, a lone
// bare id, or a title at its start.
func (s *scanner) head(pt span, last bool) (rawItem, bool) {
	for i := pt.lo; i < pt.hi; i++ {
		if s.b[i] == '[' {
			if it, ok, _ := s.bracket(i, pt.hi); ok {
				a, z := trimDecor(s.b, pt.lo, pt.hi, last)
				it.clean = it.clean && a == it.start && (z == it.end || last && s.plainAfter(it.end, pt.hi))
				return it, true
			}
		}
	}
	a, z := trimDecor(s.b, pt.lo, pt.hi, true)
	if a == z {
		return rawItem{}, false
	}
	if it, ok := s.idToken(a, z); ok {
		return it, true
	}
	return s.titleItem(a, z, true)
}

// tail finds the item that ends a part: its last bracketed id, a bare id
// ending it, or a title after its last colon.
func (s *scanner) tail(pt span) (rawItem, bool) {
	for i := pt.hi - 1; i >= pt.lo; i-- {
		if s.b[i] == '[' {
			if it, ok, _ := s.bracket(i, pt.hi); ok {
				_, z := trimDecor(s.b, pt.lo, pt.hi, false)
				it.clean = it.clean && z == it.end
				return it, true
			}
		}
	}
	a, z := trimDecor(s.b, pt.lo, pt.hi, false)
	if a == z {
		return rawItem{}, false
	}
	t := z
	for t > a && isWord(s.b[t-1]) {
		t--
	}
	if t < z && (t == a || !isWord(s.b[t-1])) {
		if it, ok := s.bare(t, z); ok {
			if t > a && s.b[t-1] == '#' {
				it.start--
			}
			return it, true
		}
	}
	if c := bytes.LastIndexByte(s.b[a:z], ':'); c >= 0 {
		a, _ = trimDecor(s.b, a+c+1, z, false)
	}
	return s.titleItem(a, z, false)
}

// plainAfter reports whether b[i:hi] holds only decoration and punctuation.
func (s *scanner) plainAfter(i, hi int) bool {
	a, z := trimDecor(s.b, i, hi, true)
	return a >= z
}

// brackets counts the bracketed items of a part.
func (s *scanner) brackets(pt span) int {
	n := 0
	for i := pt.lo; i < pt.hi; i++ {
		if s.b[i] == '[' {
			if _, ok, _ := s.bracket(i, pt.hi); ok {
				n++
			}
		}
	}
	return n
}

// commas reads items separated by ',' or ';' (or only spaces, between
// bracketed ids): "3, 1, 2", "[3], [1]", "[3][1][2]".
func (s *scanner) commas(lo, hi int, cont bool) {
	b := s.b
	sep, lastBr := cont, false
	for i := lo; i < hi; {
		c := b[i]
		switch {
		case isSpace(c) || c == fill:
			i++
			continue
		case c == ',' || c == ';':
			sep, lastBr = true, false
			i++
			continue
		case c == '[':
			it, ok, cut := s.bracket(i, hi)
			if ok {
				s.addInline(it, kindComma, sep || lastBr)
				sep, lastBr, i = false, true, it.end
				continue
			}
			if cut && s.inlOn && sep {
				s.inl.cut = true
			}
		case isWord(c) || c == '#' && i+1 < hi && isDigit(b[i+1]):
			e := max(tokenEnd(b, i+1, hi), i+1)
			if s.p.numeric && !isDigit(c) && c != '#' {
				i = e - 1 // a word: numeric ids start with a digit
			} else if it, ok := s.idToken(i, e); ok {
				s.addInline(it, kindComma, sep)
				sep, lastBr, i = false, false, e
				continue
			} else {
				i = e - 1
			}
		}
		s.closeInline()
		sep, lastBr = false, false
		i++
	}
	if s.inlOn && sep {
		if s.atEnd(hi) {
			s.inl.cut = true
		} else {
			s.cont = true
			return
		}
	}
	s.closeInline()
}

// entry reads a line as one entry of a line list: a bracketed id at its
// start, a bare id alone or before a delimiter, or a title (a prefix match
// after a list marker, the whole line without one). An unmatched title after
// a marker is an unknown entry.
func (s *scanner) entry(lo, hi int, marked bool) bool {
	b := s.b
	a, z := trimDecor(b, lo, hi, false)
	if a >= z {
		return false
	}
	if b[a] == '[' {
		it, ok, _ := s.bracket(a, z)
		if ok {
			it.clean = it.clean && !marked && lo == it.start && hi == it.end // a one-item contract line
			s.addEntry(it, marked)
		}
		return ok
	}
	ia := idStart(b, a, z)
	e := tokenEnd(b, ia, z)
	delim := e > ia && s.delimited(e, z)
	if delim && s.p.lookup(b, ia, e) >= 0 {
		it, _ := s.idToken(a, e)
		s.addEntry(it, marked)
		return true
	}
	ta, tz := trimDecor(b, a, z, true)
	if it, ok := s.titleItem(ta, tz, marked); ok {
		s.addEntry(it, marked)
		return true
	}
	if delim && allDigits(b, ia, e) && (marked || s.plainAfter(e, z)) {
		it, _ := s.idToken(a, e)
		s.addEntry(it, marked)
		return true
	}
	if marked && tz > ta && tz-ta <= 200 {
		s.addEntry(rawItem{start: ta, end: tz, idLo: ta, idHi: tz, cand: noMatch, title: true}, marked)
		return true
	}
	return false
}

// delimited reports whether a token ending at e ends the line or is followed
// by a delimiter such as ':', '.', ')', " -" or " (".
func (s *scanner) delimited(e, hi int) bool {
	if s.plainAfter(e, hi) {
		return true
	}
	switch s.b[e] {
	case ':', '.', ')', ',', '|':
		return true
	}
	i := skipSpace(s.b, e, hi)
	return i > e && i < hi && (s.b[i] == '-' || s.b[i] == '(' || s.b[i] == '|' || s.b[i] == ':')
}

// bracket reads `[...]` at i. It reports cut when the bracket is still open
// at the end of the text.
func (s *scanner) bracket(i, hi int) (rawItem, bool, bool) {
	b := s.b
	j := i + 1
	for j < hi && j-i <= maxBracket && b[j] != ']' && b[j] != '[' && b[j] != '\n' {
		j++
	}
	if j >= hi || b[j] != ']' {
		return rawItem{}, false, j >= hi && s.atEnd(hi)
	}
	a, z := trimDecor(b, i+1, j, false)
	for a < z && b[a] == '#' {
		a++
	}
	if a >= z {
		return rawItem{}, false, false
	}
	it := rawItem{start: i, end: skipFill(b, j+1, len(b)), idLo: a, idHi: z, cand: s.p.lookup(b, a, z), idish: true}
	if it.cand < 0 {
		if pa := idPrefix(b, a, z); pa > a {
			if c := s.p.lookup(b, pa, z); c >= 0 {
				it.cand, it.idLo = c, pa
			}
		}
	}
	if it.cand < 0 && !allDigits(b, a, z) {
		c, _ := s.p.matchTitle(s.text, a, z, s.cands, false)
		switch {
		case c != noMatch:
			it.cand, it.title, it.idish = c, true, false
		case bytes.IndexByte(b[a:z], ' ') >= 0:
			return rawItem{}, false, false
		}
	}
	it.clean = it.cand != ambiguous && !it.title && a == i+1 && z == j &&
		s.text[i] == '[' && s.text[j] == ']' && !hasFill(b[i:j+1])
	return it, true, false
}

// idPrefix skips "item", "id" or "no" with a following ' ', ':', '#', '_',
// '-' or '.' at b[a:z], returning where the id starts.
func idPrefix(b []byte, a, z int) int {
	for _, w := range [...]string{"item", "id", "no", "candidate"} {
		if z-a > len(w)+1 && bytes.EqualFold(b[a:a+len(w)], []byte(w)) {
			i := a + len(w)
			for i < z && bytes.IndexByte([]byte(" :#_-."), b[i]) >= 0 {
				i++
			}
			if i > a+len(w) || isDigit(b[i]) {
				return i
			}
		}
	}
	return a
}

// idStart skips a '#' or a word such as "Item" or "ID:" before an id.
func idStart(b []byte, a, z int) int {
	if a < z && b[a] == '#' {
		return a + 1
	}
	return idPrefix(b, a, z)
}

// idToken reads b[a:z] as a bare id, allowing "#3" or "Item 3"; the span
// includes the prefix.
func (s *scanner) idToken(a, z int) (rawItem, bool) {
	it, ok := s.bare(idStart(s.b, a, z), z)
	it.start = a
	return it, ok
}

// bare reads b[a:z] as a bare id: a candidate id, or digits (an unknown id).
func (s *scanner) bare(a, z int) (rawItem, bool) {
	c := s.p.lookup(s.b, a, z)
	if c < 0 && !allDigits(s.b, a, z) {
		return rawItem{}, false
	}
	return rawItem{start: a, end: z, idLo: a, idHi: z, cand: c, idish: true}, true
}

// titleItem matches a title at text[a:z]; prefix lets other words follow it.
func (s *scanner) titleItem(a, z int, prefix bool) (rawItem, bool) {
	if a >= z {
		return rawItem{}, false
	}
	c, end := s.p.matchTitle(s.text, a, z, s.cands, prefix)
	if c == noMatch {
		return rawItem{}, false
	}
	if c == ambiguous {
		end = z
	}
	return rawItem{start: a, end: end, idLo: a, idHi: end, cand: c, title: true}, true
}
