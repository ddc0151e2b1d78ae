package jsonl

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/bits"
	"strconv"
)

// SyntaxError is a line that fails the framing check, or a value of the
// wrong type.
type SyntaxError struct {
	// Offset is the byte offset in the line where the problem shows.
	Offset int
	// Msg says what is wrong.
	Msg string
}

// Error returns "jsonl: byte OFFSET: MSG".
func (e *SyntaxError) Error() string { return fmt.Sprintf("jsonl: byte %d: %s", e.Offset, e.Msg) }

func syntaxErr(at int, format string, args ...any) error {
	return &SyntaxError{Offset: at, Msg: fmt.Sprintf(format, args...)}
}

// maxDepth bounds the nesting of a value.
const maxDepth = 64

// special marks the bytes skipNested must look at; everything else inside
// an array or object (digits, separators, white space) is stepped over.
var special = func() (t [256]bool) {
	for _, c := range []byte(`"{}[]`) {
		t[c] = true
	}
	return t
}()

// Object checks that line is exactly one JSON object whose brackets
// balance outside strings, and calls visit with each top-level member's
// key (unescaped; it may alias line) and its value's raw bytes, in order.
// It is a framing check, not a full validation: the top level follows the
// JSON grammar, but inside nested values it checks only strings and
// brackets, not number syntax, escapes or commas (a full decode does). A
// visit error stops the scan and is returned as is; other errors are
// *SyntaxError. O(len(line)); it allocates only for keys with escapes.
func Object(line []byte, visit func(key, value []byte) error) error {
	s := scanner{b: line}
	s.ws()
	if !s.eat('{') {
		return syntaxErr(s.i, "not a JSON object")
	}
	for first := true; ; first = false {
		s.ws()
		if first && s.eat('}') {
			break
		}
		if err := s.member(visit); err != nil {
			return err
		}
		s.ws()
		if s.eat(',') {
			continue
		}
		if s.eat('}') {
			break
		}
		return s.unexpected("',' or '}'")
	}
	s.ws()
	if s.i != len(s.b) {
		return syntaxErr(s.i, "data after the object")
	}
	return nil
}

// String returns the string a raw JSON value holds, unescaped (aliasing
// raw when it holds no escape).
func String(raw []byte) ([]byte, error) {
	if len(raw) < 2 || raw[0] != '"' {
		return nil, syntaxErr(0, "want a string, got %.20q", raw)
	}
	if end, err := skipString(raw, 0); err != nil || end != len(raw) {
		return nil, syntaxErr(0, "want a string, got %.20q", raw)
	}
	return unquote(raw)
}

// unquote unescapes a complete JSON string, aliasing it when it holds no
// escape.
func unquote(raw []byte) ([]byte, error) {
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw[1 : len(raw)-1], nil
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, syntaxErr(0, "bad string: %v", err)
	}
	return []byte(v), nil
}

// Int returns the integer a raw JSON value holds.
func Int(raw []byte) (int64, error) {
	v, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, syntaxErr(0, "want an integer, got %.20q", raw)
	}
	return v, nil
}

// Float returns the number a raw JSON value holds.
func Float(raw []byte) (float64, error) {
	v, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || len(raw) == 0 || !isNumberStart(raw[0]) {
		return 0, syntaxErr(0, "want a number, got %.20q", raw)
	}
	return v, nil
}

type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) unexpected(want string) error {
	if s.i >= len(s.b) {
		return syntaxErr(s.i, "line ends early, want %s", want)
	}
	return syntaxErr(s.i, "unexpected %q, want %s", s.b[s.i], want)
}

// member reads one "key": value pair and visits it.
func (s *scanner) member(visit func(key, value []byte) error) error {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return s.unexpected("a key")
	}
	start := s.i
	end, err := skipString(s.b, s.i)
	if err != nil {
		return err
	}
	key, err := unquote(s.b[start:end])
	if err != nil {
		return syntaxErr(start, "bad key: %v", err)
	}
	s.i = end
	s.ws()
	if !s.eat(':') {
		return s.unexpected("':'")
	}
	s.ws()
	vs := s.i
	if err := s.skip(); err != nil {
		return err
	}
	return visit(key, s.b[vs:s.i])
}

// scalar steps over a number or literal.
func (s *scanner) scalar() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return
		}
		s.i++
	}
}

func isNumberStart(c byte) bool { return c == '-' || (c >= '0' && c <= '9') }

// skip steps over one value of any type.
func (s *scanner) skip() error {
	if s.i >= len(s.b) {
		return s.unexpected("a value")
	}
	switch c := s.b[s.i]; {
	case c == '"':
		end, err := skipString(s.b, s.i)
		s.i = end
		return err
	case c == '{' || c == '[':
		return s.skipNested()
	case c == 't' || c == 'f' || c == 'n' || isNumberStart(c):
		s.scalar()
		return nil
	}
	return s.unexpected("a value")
}

// skipString returns the index just past the string that opens at b[i].
// A quote in the next 8 bytes (most keys) is found with one word-at-a-time
// test, a later one with bytes.IndexByte (vectorised); the backslashes
// before a quote decide whether it closes the string.
func skipString(b []byte, i int) (int, error) {
	for j := i + 1; ; {
		q := -1
		if j+8 <= len(b) {
			if m := hasByte(binary.LittleEndian.Uint64(b[j:]), '"'); m != 0 {
				q = bits.TrailingZeros64(m) / 8
			}
		}
		if q < 0 {
			if q = bytes.IndexByte(b[j:], '"'); q < 0 {
				return len(b), syntaxErr(i, "unterminated string")
			}
		}
		j += q
		bs := 0
		for k := j - 1; k > i && b[k] == '\\'; k-- {
			bs++
		}
		if bs%2 == 0 {
			return j + 1, nil
		}
		j++
	}
}

// Word-at-a-time byte search (the "has zero byte" trick): for a
// little-endian word w, hasByte(w, c) is non-zero iff some byte of w is c,
// and its lowest set bit lies in the first such byte.
const (
	lo8 = 0x0101010101010101
	hi8 = 0x8080808080808080
)

func hasByte(w uint64, c byte) uint64 {
	v := w ^ (lo8 * uint64(c))
	return (v - lo8) &^ v & hi8
}

// skipNested steps over the array or object that opens at s.i, checking
// that its brackets nest and close. It is the hot loop of a framing check
// (most of a record's bytes are nested numbers, keys and tokens), so its
// two inner scans stay inline rather than in helpers the compiler will not
// inline.
func (s *scanner) skipNested() error {
	var stack [maxDepth]byte
	depth := 0
	b := s.b
	for i := s.i; i < len(b); i++ {
		// Step over plain bytes eight at a time, stopping on the first
		// special one (so that no byte is looked at twice), then over
		// the last few one at a time.
	words:
		for i+8 <= len(b) {
			w := b[i : i+8 : i+8]
			switch {
			case special[w[0]]:
				break words
			case special[w[1]]:
				i++
				break words
			case special[w[2]]:
				i += 2
				break words
			case special[w[3]]:
				i += 3
				break words
			case special[w[4]]:
				i += 4
				break words
			case special[w[5]]:
				i += 5
				break words
			case special[w[6]]:
				i += 6
				break words
			case special[w[7]]:
				i += 7
				break words
			}
			i += 8
		}
		for i < len(b) && !special[b[i]] {
			i++
		}
		if i == len(b) {
			break
		}
		switch c := b[i]; c {
		case '"':
			// Most strings are short keys and tokens: look for their end
			// in the next 16 bytes before calling skipString.
			j, lim := i+1, min(i+17, len(b))
			for j < lim && b[j] != '"' && b[j] != '\\' {
				j++
			}
			if j < lim && b[j] == '"' {
				i = j
				continue
			}
			end, err := skipString(b, i)
			if err != nil {
				return err
			}
			i = end - 1
		case '{', '[':
			if depth == maxDepth {
				return syntaxErr(i, "nested deeper than %d", maxDepth)
			}
			stack[depth] = c + 2 // '{'+2 == '}', '['+2 == ']'
			depth++
		default: // '}' or ']'
			if depth == 0 || stack[depth-1] != c {
				return syntaxErr(i, "unexpected %q", c)
			}
			depth--
			if depth == 0 {
				s.i = i + 1
				return nil
			}
		}
	}
	s.i = len(b)
	return syntaxErr(len(b), "line ends inside an array or object")
}
