package rank

import "github.com/flexrec/flexrec/llm"

// ItemTokens gives the tokens that wrote one mention of Result.Items.
type ItemTokens struct {
	// Item is the index of the mention in Result.Items; its Cand and Status
	// say whether it names a candidate and counts.
	Item int `json:"item"`
	// First and Last give the token range [First, Last) covering every
	// token that shares a byte with the mention's span (brackets included).
	// Neighbouring mentions may share a token, e.g. "]>[" written as one.
	First int `json:"first"`
	Last  int `json:"last"`
	// Logprob is the sum of the log probabilities of tokens[First:Last],
	// empty tokens inside the range included.
	Logprob float64 `json:"logprob"`
}

// Align maps each mention in res.Items to the tokens that wrote it. The
// tokens must reproduce res.Text byte for byte (a token's Bytes when set,
// else its Text; empty tokens are allowed); otherwise Align returns an
// *AlignError and no ranges. The result is index-aligned with res.Items.
func Align(res *Result, tokens []llm.Token) ([]ItemTokens, error) {
	return AlignInto(nil, res, tokens)
}

// AlignInto is Align appending to dst[:0], so a loop can reuse one slice.
func AlignInto(dst []ItemTokens, res *Result, tokens []llm.Token) ([]ItemTokens, error) {
	if cap(dst) < len(res.Items) {
		dst = make([]ItemTokens, 0, len(res.Items))
	}
	dst = dst[:0]
	for i := range res.Items {
		dst = append(dst, ItemTokens{Item: i, First: -1, Last: -1})
	}
	items, text := res.Items, res.Text
	pos, j0 := 0, 0
	for k := range tokens {
		end := pos + tokenLen(&tokens[k])
		if end > len(text) || !tokenAt(text[pos:end], &tokens[k]) {
			return nil, &AlignError{Token: k, Offset: pos + mismatch(text[pos:], &tokens[k]), TextLen: len(text), Tokens: len(tokens)}
		}
		for j := j0; j < len(items) && items[j].Start < end; j++ {
			if items[j].End > pos && end > pos {
				if dst[j].First < 0 {
					dst[j].First = k
				}
				dst[j].Last = k + 1
			}
		}
		for j0 < len(items) && items[j0].End <= end {
			j0++
		}
		pos = end
	}
	if pos != len(text) {
		return nil, &AlignError{Token: len(tokens), Offset: pos, TextLen: len(text), Tokens: len(tokens)}
	}
	for i := range dst {
		if dst[i].First < 0 {
			dst[i].First, dst[i].Last = 0, 0 // an empty span covers no token
		}
		for _, t := range tokens[dst[i].First:dst[i].Last] {
			dst[i].Logprob += t.Logprob
		}
	}
	return dst, nil
}

// tokenLen returns the length of the token's bytes: Bytes when set, else Text.
func tokenLen(t *llm.Token) int {
	if t.Bytes != nil {
		return len(t.Bytes)
	}
	return len(t.Text)
}

// tokenAt reports whether s equals the token's bytes.
func tokenAt(s string, t *llm.Token) bool {
	if t.Bytes != nil {
		return s == string(t.Bytes)
	}
	return s == t.Text
}

// mismatch returns the first offset where text and the token's bytes differ.
func mismatch(text string, t *llm.Token) int {
	i, n := 0, tokenLen(t)
	for i < len(text) && i < n && text[i] == tokenByte(t, i) {
		i++
	}
	return i
}

func tokenByte(t *llm.Token, i int) byte {
	if t.Bytes != nil {
		return t.Bytes[i]
	}
	return t.Text[i]
}
