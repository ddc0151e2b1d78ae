package rank

import "bytes"

// array reads a JSON array of ids at b[i]: strings ("3", "[3]", a title),
// numbers or bare tokens, or objects with an id key (id, item, item_id) or a
// title key (title, name). A single unquoted element is a bracketed id, not
// an array. An array still open at the end of the text is kept as cut. It
// returns the end of the array and whether it was one.
func (s *scanner) array(i int) (int, bool) {
	p, b := s.p, s.b
	if k := tokenEnd(b, i+1, len(b)); k < len(b) && b[k] == ']' {
		return 0, false // [12]: a bracketed id
	}
	seg := segment{kind: kindJSON, lo: len(p.items), start: i, strong: true}
	quoted, commas := false, 0
	j, far := i+1, i+1
	defer func() { s.budget -= max(j, far) - i }()
	for {
		j = skipSpace(b, j, len(b))
		if j >= len(b) {
			return s.jsonCut(&seg, quoted || commas > 0)
		}
		if b[j] == ']' && commas == 0 && len(p.items) == seg.lo {
			break // []
		}
		it, next, ok := s.element(j)
		far = max(far, next)
		if !ok {
			if next >= len(b) { // cut inside an element
				return s.jsonCut(&seg, quoted || commas > 0)
			}
			p.items = p.items[:seg.lo]
			return 0, false
		}
		quoted = quoted || b[j] == '"' || b[j] == '{'
		p.items = append(p.items, it)
		seg.idish = seg.idish || it.idish
		j = skipSpace(b, next, len(b))
		if j >= len(b) {
			return s.jsonCut(&seg, quoted || commas > 0)
		}
		if b[j] == ',' {
			commas++
			j++
			continue
		}
		if b[j] != ']' {
			p.items = p.items[:seg.lo]
			return 0, false
		}
		break
	}
	n := len(p.items) - seg.lo
	if n == 0 || n == 1 && !quoted {
		p.items = p.items[:seg.lo]
		return 0, false
	}
	seg.hi, seg.end = len(p.items), j+1
	p.segs = append(p.segs, seg)
	return j + 1, true
}

// jsonCut keeps an array cut by the end of the text when it is clearly an
// array (a quoted element or a comma seen).
func (s *scanner) jsonCut(seg *segment, sure bool) (int, bool) {
	p := s.p
	if !sure || len(p.items) == seg.lo {
		p.items = p.items[:seg.lo]
		return 0, false
	}
	seg.hi, seg.end, seg.cut = len(p.items), len(s.b), true
	p.segs = append(p.segs, *seg)
	return len(s.b), true
}

// element reads one array element at b[j]; next is where it ends (the end of
// the text when it was cut).
func (s *scanner) element(j int) (it rawItem, next int, ok bool) {
	b := s.b
	switch {
	case b[j] == '"':
		e, ok := s.jsonString(j)
		if !ok {
			return it, e, false
		}
		return s.jsonValue(j, e), e, true
	case b[j] == '{':
		return s.object(j)
	case isWord(b[j]):
		e := tokenEnd(b, j, len(b))
		if e == j {
			return it, j, false
		}
		return s.jsonValue(j, e), e, true
	}
	return it, j, false
}

// jsonString returns the end of the string starting at b[j] (after its
// closing quote). It fails at a raw newline, and at the end of the text
// with e = len(b).
func (s *scanner) jsonString(j int) (int, bool) {
	b := s.b
	for k := j + 1; k < len(b); k++ {
		switch b[k] {
		case '\\':
			k++
		case '"':
			return k + 1, true
		case '\n':
			return k, false
		}
	}
	return len(b), false
}

// jsonValue resolves the string or token at b[a:e] as an id, else as a
// title; an unmatched value is an unknown id.
func (s *scanner) jsonValue(a, e int) rawItem {
	b := s.b
	ca, cz := a, e
	if b[a] == '"' {
		ca, cz = trimDecor(b, a+1, e-1, false)
	}
	if cz-ca >= 2 && b[ca] == '[' && b[cz-1] == ']' {
		ca, cz = trimDecor(b, ca+1, cz-1, false)
	}
	it := rawItem{start: a, end: e, idLo: ca, idHi: cz, cand: s.p.lookup(b, ca, cz)}
	it.idish = ca < cz && tokenEnd(b, ca, cz) == cz
	if it.cand < 0 && ca < cz && !allDigits(b, ca, cz) {
		if c, _ := s.p.matchTitle(s.text, ca, cz, s.cands, false); c != noMatch {
			it.cand, it.title, it.idish = c, true, false
		}
	}
	return it
}

// object reads {...} at b[j] and returns the item named by its id key, else
// by its title key. Nested values are skipped.
func (s *scanner) object(j int) (it rawItem, next int, ok bool) {
	b := s.b
	var id, title span
	k := j + 1
	for {
		k = skipSpace(b, k, len(b))
		if k >= len(b) {
			return it, k, false
		}
		if b[k] == '}' {
			break
		}
		if b[k] != '"' {
			return it, k, false
		}
		ke, ok := s.jsonString(k)
		if !ok {
			return it, ke, false
		}
		key := b[k+1 : ke-1]
		k = skipSpace(b, ke, len(b))
		if k >= len(b) || b[k] != ':' {
			return it, k, false
		}
		va := skipSpace(b, k+1, len(b))
		ve, ok := s.skipValue(va)
		if !ok {
			return it, ve, false
		}
		switch {
		case id.hi == 0 && isIDKey(key):
			id = span{lo: va, hi: ve}
		case title.hi == 0 && (bytes.Equal(key, []byte("title")) || bytes.Equal(key, []byte("name"))):
			title = span{lo: va, hi: ve}
		}
		k = skipSpace(b, ve, len(b))
		if k < len(b) && b[k] == ',' {
			k++
		}
	}
	switch {
	case id.hi > id.lo:
		it = s.jsonValue(id.lo, id.hi)
	case title.hi > title.lo:
		it = s.jsonValue(title.lo, title.hi)
		it.idish = false
	default:
		return it, k + 1, false
	}
	return it, k + 1, true
}

func isIDKey(k []byte) bool {
	switch string(k) {
	case "id", "ID", "Id", "item", "item_id", "itemId", "itemID", "item_index":
		return true
	}
	return false
}

// skipValue returns the end of the JSON value at b[i]: a string, a nested
// object or array (strings inside respected), or a scalar.
func (s *scanner) skipValue(i int) (int, bool) {
	b := s.b
	if i >= len(b) {
		return i, false
	}
	switch b[i] {
	case '"':
		return s.jsonString(i)
	case '{', '[':
		depth := 0
		for k := i; k < len(b); k++ {
			switch b[k] {
			case '"':
				e, ok := s.jsonString(k)
				if !ok {
					return e, false
				}
				k = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return k + 1, true
				}
			}
		}
		return len(b), false
	}
	k := i
	for k < len(b) && b[k] != ',' && b[k] != '}' && b[k] != ']' && !isSpace(b[k]) {
		k++
	}
	return k, k > i
}
