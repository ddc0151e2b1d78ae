package prompt

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultMaxTextLen is the default cap on an item's text, in runes.
const DefaultMaxTextLen = 120

// Sanitize makes item text safe to place in a prompt as data, not
// instructions. It drops control and format characters, turns every run of
// white space (newlines included) into one space, neutralises anything that
// could read as a candidate id or as the output contract — square and
// full-width brackets become parentheses, angle brackets become single
// guillemets, so "[3] > [1]" or "<think>" inside a title cannot pass for an
// answer — and caps the result at maxLen runes, ending a cut text with "…".
// maxLen <= 0 means DefaultMaxTextLen.
func Sanitize(s string, maxLen int) string {
	if maxLen <= 0 {
		maxLen = DefaultMaxTextLen
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		switch {
		case r == utf8.RuneError || unicode.IsSpace(r):
			space = true
			continue
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(neutral(r))
	}
	out := b.String()
	if utf8.RuneCountInString(out) <= maxLen {
		return out
	}
	runes := []rune(out)[:maxLen-1]
	return strings.TrimRight(string(runes), " ") + "…"
}

// neutral maps runes that could form an id or the output contract to
// harmless look-alikes.
func neutral(r rune) rune {
	switch r {
	case '[', '［', '【', '〔', '〖':
		return '('
	case ']', '］', '】', '〕', '〗':
		return ')'
	case '<', '＜', '〈', '《':
		return '‹'
	case '>', '＞', '〉', '》':
		return '›'
	}
	return r
}
