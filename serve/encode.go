package serve

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/flexrec/flexrec/rank"
)

// Result fields a request may ask for (ScoreRequest.Fields); all by
// default.
const (
	fieldListReward = 1 << iota
	fieldItemRewards
	fieldPermutation
	fieldGenerated
	fieldReport
	fieldU
	fieldTokenRewards
	allFields = 1<<iota - 1
)

var fieldBits = map[string]int{
	"list_reward": fieldListReward, "item_rewards": fieldItemRewards, "permutation": fieldPermutation,
	"generated": fieldGenerated, "report": fieldReport, "u": fieldU, "token_rewards": fieldTokenRewards,
}

// parseFields turns ScoreRequest.Fields into a bit set.
func parseFields(names []string) (int, error) {
	if len(names) == 0 {
		return allFields, nil
	}
	set := 0
	for i, n := range names {
		bit, ok := fieldBits[n]
		if !ok {
			return 0, badBody(fmt.Sprintf("fields[%d]", i), fmt.Errorf("unknown field %q (list_reward, item_rewards, permutation, generated, report, u, token_rewards)", n))
		}
		set |= bit
	}
	return set, nil
}

// appendScoreResponse appends {"results":[...]} with the fields in set.
// It writes what encoding/json would for ScoreResponse (same keys, same
// number forms), without reflection: the response is a third of a
// request's cost with encoding/json.
func appendScoreResponse(b []byte, res []*scored, set int) []byte {
	b = append(b, `{"results":[`...)
	for i, s := range res {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendResult(b, &s.out, set)
	}
	return append(b, "]}\n"...)
}

func appendResult(b []byte, r *ScoreResult, set int) []byte {
	b = append(b, '{')
	sep := func() {
		if b[len(b)-1] != '{' {
			b = append(b, ',')
		}
	}
	if set&fieldListReward != 0 {
		sep()
		b = appendFloat(append(b, `"list_reward":`...), r.ListReward)
	}
	if set&fieldItemRewards != 0 {
		sep()
		b = appendFloats(append(b, `"item_rewards":`...), r.ItemRewards)
	}
	if set&fieldPermutation != 0 {
		sep()
		b = appendStrings(append(b, `"permutation":`...), r.Permutation)
	}
	if set&fieldGenerated != 0 {
		sep()
		b = append(b, `"generated":[`...)
		for i, g := range r.Generated {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendBool(b, g)
		}
		b = append(b, ']')
	}
	if set&fieldReport != 0 {
		sep()
		b = appendReport(append(b, `"report":`...), &r.Report)
	}
	if set&fieldU != 0 {
		sep()
		b = appendFloat(append(b, `"u":`...), r.U)
	}
	if set&fieldTokenRewards != 0 {
		sep()
		b = appendFloats(append(b, `"token_rewards":`...), r.TokenRewards)
	}
	return append(b, '}')
}

// appendReport writes a rank.Report as encoding/json does.
func appendReport(b []byte, r *rank.Report) []byte {
	b = appendStrings(append(b, `{"permutation":`...), r.Permutation)
	b = appendStrings(append(b, `,"generated":`...), r.Generated)
	b = appendStrings(append(b, `,"unknown":`...), r.Unknown)
	b = appendStrings(append(b, `,"ambiguous":`...), r.Ambiguous)
	b = appendStrings(append(b, `,"duplicates":`...), r.Duplicates)
	b = appendStrings(append(b, `,"missing":`...), r.Missing)
	b = strconv.AppendBool(append(b, `,"truncated":`...), r.Truncated)
	b = strconv.AppendBool(append(b, `,"format_ok":`...), r.FormatOK)
	b = strconv.AppendBool(append(b, `,"valid":`...), r.Valid)
	b = strconv.AppendInt(append(b, `,"n_generated":`...), int64(r.NGenerated), 10)
	b = appendString(append(b, `,"policy":`...), string(r.Policy))
	b = append(b, `,"spans":[`...)
	for i, sp := range r.Spans {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(strconv.AppendInt(append(b, '['), int64(sp[0]), 10), ',')
		b = append(strconv.AppendInt(b, int64(sp[1]), 10), ']')
	}
	return append(b, "]}"...)
}

func appendFloats(b []byte, xs []float64) []byte {
	if xs == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, x := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendFloat(b, x)
	}
	return append(b, ']')
}

// appendFloat formats x as encoding/json does: the shortest decimal that
// reads back as x, in exponent form below 1e-6 and from 1e21. x must be
// finite (score checks it).
func appendFloat(b []byte, x float64) []byte {
	abs, f := math.Abs(x), byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		f = 'e'
	}
	b = strconv.AppendFloat(b, x, f, -1, 64)
	if f == 'e' { // e-07 → e-7, as encoding/json writes it
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendString writes s as a JSON string: as is when it is plain ASCII
// without quotes, backslashes or HTML characters, else through
// encoding/json.
func appendString(b []byte, s string) []byte {
	if !strings.ContainsFunc(s, func(r rune) bool {
		return r < 0x20 || r > 0x7e || r == '"' || r == '\\' || r == '<' || r == '>' || r == '&'
	}) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	q, _ := json.Marshal(s) // a string always encodes
	return append(b, q...)
}
