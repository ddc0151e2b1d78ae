package rank

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/flexrec/flexrec/llm"
)

// numbered returns n candidates with ids "1".."n" and distinct titles.
func numbered(n int) []Candidate {
	c := make([]Candidate, n)
	for i := range c {
		c[i] = Candidate{ID: strconv.Itoa(i + 1), Title: fmt.Sprintf("Movie number %s (%d)", words[i%len(words)], 1980+i)}
	}
	return c
}

var words = strings.Fields(`the user watched several thrillers and documentaries recently
so items with suspense or real stories should rank higher while romance and musicals
fit less well given the explore need we also want some diversity across genres`)

// reasoning returns about n words of prose that mentions a few ids.
func reasoning(n int, rng *rand.Rand, nc int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		if i%17 == 5 {
			fmt.Fprintf(&b, "[%d]", 1+rng.IntN(nc))
			continue
		}
		b.WriteString(words[rng.IntN(len(words))])
		if i%23 == 22 {
			b.WriteString(".\n")
		}
	}
	return b.String()
}

// contractLine writes perm (candidate indices) as `[a] > [b] > ...`.
func contractLine(perm []int, cands []Candidate) string {
	var b strings.Builder
	for i, c := range perm {
		if i > 0 {
			b.WriteString(" > ")
		}
		b.WriteString("[" + cands[c].ID + "]")
	}
	return b.String()
}

// tokenize splits text the way BPE vocabularies tend to: a space joins the
// word after it, digits come in groups of up to three, " [" and " >" are one
// token, and every 11th token is split into its bytes to mimic multi-token
// ids. Tokens that end inside a UTF-8 rune carry Bytes.
func tokenize(text string) []llm.Token {
	var toks []llm.Token
	emit := func(s string) {
		k := len(toks)
		lp := -0.01 * float64(1+k%7)
		if k%11 == 10 && len(s) > 1 {
			for i := 0; i < len(s); i++ {
				toks = append(toks, llm.Token{Bytes: []byte{s[i]}, Text: "\ufffd", Logprob: lp})
			}
			return
		}
		toks = append(toks, llm.Token{Text: s, Logprob: lp})
	}
	for i := 0; i < len(text); {
		j := i + 1
		c := text[i]
		switch {
		case c == ' ' && j < len(text) && (text[j] == '[' || text[j] == '>'):
			j++
		case c == ' ' && j < len(text) && isLetter(text[j]), isLetter(c):
			for j < len(text) && isLetter(text[j]) {
				j++
			}
		case isDigit(c):
			for j < len(text) && j-i < 3 && isDigit(text[j]) {
				j++
			}
		case c >= 0x80:
			for j < len(text) && text[j] >= 0x80 && text[j] < 0xC0 {
				j++
			}
		}
		emit(text[i:j])
		i = j
	}
	return toks
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
