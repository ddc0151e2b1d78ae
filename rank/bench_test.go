package rank

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/flexrec/flexrec/llm"
)

// benchAnswer is a 30-item answer after about 200 words of reasoning.
func benchAnswer() (string, []Candidate, []llm.Token) {
	rng := rand.New(rand.NewPCG(1, 2))
	cands := numbered(30)
	perm := rng.Perm(30)
	text := reasoning(200, rng, 30) + "\n\nFinal ranking: " + contractLine(perm, cands)
	return text, cands, tokenize(text)
}

// BenchmarkParseRepairAlign measures the hot path with a reused Parser,
// Result and alignment slice.
func BenchmarkParseRepairAlign(b *testing.B) {
	text, cands, toks := benchAnswer()
	scores := make([]float64, len(cands))
	var p Parser
	var res Result
	var al []ItemTokens
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		p.ParseInto(&res, text, cands)
		if err := Repair(&res, ByScore, scores); err != nil {
			b.Fatal(err)
		}
		var err error
		if al, err = AlignInto(al, &res, toks); err != nil || len(al) != 30 {
			b.Fatal(err, len(al))
		}
	}
}

// BenchmarkParseRepairAlignFresh is the same path through the allocating
// package-level functions.
func BenchmarkParseRepairAlignFresh(b *testing.B) {
	text, cands, toks := benchAnswer()
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		res := Parse(text, cands)
		if err := Repair(res, PromptOrder, nil); err != nil {
			b.Fatal(err)
		}
		if al, err := Align(res, toks); err != nil || len(al) != 30 {
			b.Fatal(err, len(al))
		}
	}
}

// BenchmarkParseTitles measures a numbered list of titles, the slow path.
func BenchmarkParseTitles(b *testing.B) {
	cands := numbered(30)
	text := "Here is the ranking:\n"
	for i := range cands {
		text += string(rune('1'+i%9)) + ". " + cands[(i*7)%30].Title + "\n"
	}
	var p Parser
	var res Result
	b.ReportAllocs()
	for b.Loop() {
		p.ParseInto(&res, text, cands)
		if res.NGenerated != 30 {
			b.Fatal(res.Report())
		}
	}
}

// BenchmarkParsePathological parses 40 KB of unclosed nested JSON, which a
// quadratic reader would take hundreds of milliseconds over.
func BenchmarkParsePathological(b *testing.B) {
	text := strings.Repeat(`[{"a":`, 40000/6)
	cands := numbered(30)
	var p Parser
	var res Result
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		p.ParseInto(&res, text, cands)
	}
}
