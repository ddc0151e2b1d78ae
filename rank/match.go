package rank

import (
	"bytes"
	"encoding/binary"
	"strings"
	"unicode"
	"unicode/utf8"
)

// fill marks the trailing bytes of a multi-byte rune that normalise folded to
// one ASCII byte, so normalised offsets equal text offsets.
const fill = 0x01

// normalise copies text into dst, replacing each foldable non-ASCII rune
// (full-width forms, CJK brackets, arrows, smart quotes, odd spaces) by its
// ASCII twin followed by fill bytes. Other bytes are kept.
func normalise(dst []byte, text string) []byte {
	b := append(dst[:0], text...)
	for i := 0; ; i++ {
		k := bytes.IndexByte(b[i:], '\\')
		if k < 0 {
			break
		}
		if i += k; i+1 < len(b) && (b[i+1] == '[' || b[i+1] == ']') {
			b[i] = ' ' // markdown-escaped bracket
		}
	}
	for i := 0; i < len(b); {
		if i+8 <= len(b) && binary.LittleEndian.Uint64(b[i:])&0x8080808080808080 == 0 {
			i += 8
			continue
		}
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, w := utf8.DecodeRune(b[i:])
		if a := foldRune(r); a != 0 {
			b[i] = a
			for k := 1; k < w; k++ {
				b[i+k] = fill
				if a == ' ' {
					b[i+k] = ' ' // spaces stay spaces, so trimming needs no care
				}
			}
		}
		i += w
	}
	return b
}

// foldRune returns the ASCII byte a non-ASCII rune stands for in a ranking,
// or 0 when it stands for none.
func foldRune(r rune) byte {
	switch {
	case r >= 0xFF01 && r <= 0xFF5E: // full-width ASCII
		return byte(r - 0xFEE0)
	}
	switch r {
	case 0x3000, 0x00A0, 0x2009, 0x200A, 0x200B, 0x202F, 0x2002, 0x2003:
		return ' '
	case 0x3010, 0x3014, 0x3016, 0x3018:
		return '['
	case 0x3011, 0x3015, 0x3017, 0x3019:
		return ']'
	case 0x3001:
		return ','
	case 0x2192, 0x27F6, 0x21D2, 0x227B, 0x00BB, 0x203A, 0x2794, 0x279C, 0x27A4:
		return '>'
	case 0x2022, 0x25CF, 0x25AA, 0x25E6, 0x2023:
		return '*'
	case 0x2013, 0x2014, 0x2212:
		return '-'
	case 0x201C, 0x201D, 0x201E:
		return '"'
	case 0x2018, 0x2019:
		return '\''
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isWord reports whether c may be part of a bare token: ASCII letters and
// digits, '_', '-', fill bytes and raw non-ASCII bytes.
func isWord(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '_' || c == '-' || c == fill || c >= utf8.RuneSelf
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// isDecor reports bytes that dress an item without changing it: markdown
// emphasis, code ticks, quotes and spaces.
func isDecor(c byte) bool {
	return c == '*' || c == '_' || c == '`' || c == '"' || c == '\'' || c == ' ' || c == '\t' || c == '\r'
}

// trimDecor returns [lo, hi) without decoration at either end; tail also
// drops trailing sentence punctuation. Fill bytes at lo belong to a rune
// before the range and are dropped; at the end they go with their rune.
func trimDecor(b []byte, lo, hi int, tail bool) (int, int) {
	for lo < hi && (isDecor(b[lo]) || b[lo] == fill) {
		lo++
	}
	for hi > lo {
		j := hi - 1
		for j > lo && b[j] == fill {
			j--
		}
		if !isDecor(b[j]) && !(tail && strings.IndexByte(".,;:!?", b[j]) >= 0) {
			break
		}
		hi = j
	}
	return lo, hi
}

// skipFill returns the first index at or after i that is not a fill byte.
func skipFill(b []byte, i, hi int) int {
	for i < hi && b[i] == fill {
		i++
	}
	return i
}

// tokenEnd returns the end of the bare token starting at i; a trailing '-'
// is not part of it.
func tokenEnd(b []byte, i, hi int) int {
	for i < hi && isWord(b[i]) {
		i++
	}
	for i > 0 && b[i-1] == '-' {
		i--
	}
	return i
}

// allDigits reports whether b[lo:hi] holds only digits (and fill bytes) and at
// least one digit.
func allDigits(b []byte, lo, hi int) bool {
	n := 0
	for ; lo < hi; lo++ {
		switch {
		case isDigit(b[lo]):
			n++
		case b[lo] != fill:
			return false
		}
	}
	return n > 0 && n <= 9
}

// index prepares id lookup for cands: the numeric fast path when the ids are
// "1".."N", else a map kept across calls while the ids stay the same.
func (p *Parser) index(cands []Candidate) {
	p.numeric = true
	for i, c := range cands {
		if !isOrdinal(c.ID, i+1) {
			p.numeric = false
			break
		}
	}
	p.ntReady = false
	if p.numeric || sameIDs(p.idxIDs, cands) {
		return
	}
	if p.idx == nil {
		p.idx = make(map[string]int, len(cands))
	}
	clear(p.idx)
	p.idxIDs = p.idxIDs[:0]
	for i, c := range cands {
		p.idxIDs = append(p.idxIDs, c.ID)
		if _, dup := p.idx[c.ID]; !dup && c.ID != "" {
			p.idx[c.ID] = i
		}
	}
}

// isOrdinal reports whether s is the decimal form of n without leading zeros.
func isOrdinal(s string, n int) bool {
	if s == "" || s[0] == '0' || len(s) > 9 {
		return false
	}
	v := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
		v = v*10 + int(s[i]-'0')
	}
	return v == n
}

func sameIDs(ids []string, cands []Candidate) bool {
	if len(ids) != len(cands) || len(ids) == 0 {
		return false
	}
	for i, c := range cands {
		if ids[i] != c.ID {
			return false
		}
	}
	return true
}

// lookup returns the candidate whose id is written in b[lo:hi] (fill bytes
// ignored), or -1.
func (p *Parser) lookup(b []byte, lo, hi int) int {
	if lo >= hi {
		return -1
	}
	if p.numeric {
		if !allDigits(b, lo, hi) {
			return -1
		}
		v := 0
		for ; lo < hi; lo++ {
			if isDigit(b[lo]) {
				v = v*10 + int(b[lo]-'0')
			}
		}
		if v >= 1 && v <= p.n {
			return v - 1
		}
		return -1
	}
	k := b[lo:hi]
	if hasFill(k) {
		p.key = compact(p.key[:0], k)
		k = p.key
	}
	if i, ok := p.idx[string(k)]; ok {
		return i
	}
	return -1
}

func hasFill(k []byte) bool {
	for _, c := range k {
		if c == fill {
			return true
		}
	}
	return false
}

// compact appends k to dst without fill bytes.
func compact(dst, k []byte) []byte {
	for _, c := range k {
		if c != fill {
			dst = append(dst, c)
		}
	}
	return dst
}

// foldTitle appends the normalised form of s to dst: letters and digits
// lower-cased (full-width folded), every run of other runes one space, no
// leading or trailing space.
func foldTitle(dst []byte, s string) []byte {
	start, pending := len(dst), false
	for _, r := range s {
		r = titleRune(r)
		if r < 0 {
			pending = true
			continue
		}
		if pending && len(dst) > start {
			dst = append(dst, ' ')
		}
		pending = false
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

// titleRune folds r for title matching; -1 marks a separator.
func titleRune(r rune) rune {
	if r >= 0xFF01 && r <= 0xFF5E {
		r -= 0xFEE0
	}
	if r < utf8.RuneSelf {
		switch {
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			return r
		}
		return -1
	}
	if unicode.IsLetter(r) || unicode.IsDigit(r) {
		return unicode.ToLower(r)
	}
	return -1
}

// titles prepares the normalised candidate titles, kept across calls
// while the titles stay the same.
func (p *Parser) titles(cands []Candidate) {
	if p.ntReady {
		return
	}
	p.ntReady = true
	same := len(p.ntTitles) == len(cands) && len(cands) > 0
	for i := 0; same && i < len(cands); i++ {
		same = p.ntTitles[i] == cands[i].Title
	}
	if same {
		return
	}
	p.nt, p.ntOff, p.ntTitles, p.ntMax = p.nt[:0], append(p.ntOff[:0], 0), p.ntTitles[:0], 0
	for _, c := range cands {
		p.ntMax = max(p.ntMax, len(c.Title))
		p.nt = foldTitle(p.nt, c.Title)
		p.ntOff = append(p.ntOff, len(p.nt))
		p.ntTitles = append(p.ntTitles, c.Title)
	}
}

// foldPrefix matches the normalised title nt against text[lo:hi] from lo. It
// returns the end of the matched text, which must fall on a word boundary.
func foldPrefix(text string, lo, hi int, nt []byte) (int, bool) {
	k, pending, i := 0, false, lo
	for i < hi && k < len(nt) {
		r, w := utf8.DecodeRuneInString(text[i:hi])
		r = titleRune(r)
		if r < 0 {
			pending = k > 0
			i += w
			continue
		}
		if pending {
			if nt[k] != ' ' {
				return 0, false
			}
			k++
		}
		pending = false
		var enc [utf8.UTFMax]byte
		n := utf8.EncodeRune(enc[:], r)
		if k+n > len(nt) || string(nt[k:k+n]) != string(enc[:n]) {
			return 0, false
		}
		k, i = k+n, i+w
	}
	if k < len(nt) || len(nt) == 0 {
		return 0, false
	}
	if i < hi {
		if r, _ := utf8.DecodeRuneInString(text[i:hi]); titleRune(r) >= 0 {
			return 0, false
		}
	}
	return i, true
}

// Title match outcomes besides a candidate index.
const (
	noMatch   = -1
	ambiguous = -2
)

// matchTitle finds the candidate whose title is written at text[lo:hi]:
// first an exact match, then a normalised one. With prefix set the title may
// be followed by other words, and the longest matching title wins. It returns
// the candidate (noMatch, ambiguous) and the end of the matched text.
func (p *Parser) matchTitle(text string, lo, hi int, cands []Candidate, prefix bool) (int, int) {
	best, end, tie := noMatch, lo, false
	for i, c := range cands {
		t := c.Title
		if t == "" || len(t) > hi-lo || !prefix && len(t) != hi-lo || text[lo:lo+len(t)] != t {
			continue
		}
		e := lo + len(t)
		if e < hi && (!prefix || !boundary(text, e, hi)) {
			continue
		}
		switch {
		case best == noMatch || e > end:
			best, end, tie = i, e, false
		case e == end && cands[best].Title == t:
			tie = true
		}
	}
	if best != noMatch {
		return ambiguousIf(best, tie), end
	}
	p.titles(cands)
	if !prefix && hi-lo > 2*p.ntMax+32 {
		return noMatch, end // too long to be only a title
	}
	first := firstFolded(text, lo, hi)
	for i := range cands {
		nt := p.nt[p.ntOff[i]:p.ntOff[i+1]]
		if len(nt) == 0 || nt[0] != first {
			continue
		}
		e, ok := foldPrefix(text, lo, hi, nt)
		if !ok || !prefix && !onlySeparators(text, e, hi) {
			continue
		}
		switch {
		case best == noMatch || e > end:
			best, end, tie = i, e, false
		case e == end:
			tie = true
		}
	}
	return ambiguousIf(best, tie), end
}

// firstFolded returns the first byte of text[lo:hi]'s normalised form, 0
// when it has none.
func firstFolded(text string, lo, hi int) byte {
	for _, r := range text[lo:hi] {
		if r = titleRune(r); r >= 0 {
			var enc [utf8.UTFMax]byte
			utf8.EncodeRune(enc[:], r)
			return enc[0]
		}
	}
	return 0
}

func ambiguousIf(best int, tie bool) int {
	if tie {
		return ambiguous
	}
	return best
}

// boundary reports whether a title ending at e is not followed by more of a word.
func boundary(text string, e, hi int) bool {
	r, _ := utf8.DecodeRuneInString(text[e:hi])
	return titleRune(r) < 0
}

func onlySeparators(text string, lo, hi int) bool {
	for _, r := range text[lo:hi] {
		if titleRune(r) >= 0 {
			return false
		}
	}
	return true
}
