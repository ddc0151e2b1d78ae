package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// post sends body to path through h and returns the status and body.
func post(t testing.TB, h http.Handler, path string, body []byte, header ...string) (int, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func newTestHandler(t testing.TB, mod func(*Config)) *Handler {
	t.Helper()
	cfg := DefaultConfig()
	if mod != nil {
		mod(&cfg)
	}
	h, err := New(cfg)
	require.NoError(t, err)
	return h
}

var words = strings.Fields(`the user watched many thrillers and a few comedies recently so I
will favour tense crime stories over light fare while keeping one or two
family films near the top because the history shows steady interest in
animation and classic adventure titles from the nineties`)

// benchCompletion writes about 200 words of reasoning, then a ranking of n
// ids in one of the forms models use: the contract line (most), a numbered
// list, a code fence, or a list cut short.
func benchCompletion(rng *rand.Rand, n int) string {
	var b strings.Builder
	for w := range 200 {
		b.WriteString(words[rng.IntN(len(words))])
		if w%17 == 16 {
			b.WriteString(". ")
		} else {
			b.WriteByte(' ')
		}
	}
	b.WriteString("\n\n")
	perm := rng.Perm(n)
	switch form := rng.IntN(10); {
	case form < 6:
		b.WriteString("Final ranking: ")
		for p, k := range perm {
			if p > 0 {
				b.WriteString(" > ")
			}
			fmt.Fprintf(&b, "[%d]", k+1)
		}
	case form < 8:
		for p, k := range perm {
			fmt.Fprintf(&b, "%d. [%d]\n", p+1, k+1)
		}
	case form < 9:
		b.WriteString("```\n")
		for p, k := range perm {
			if p > 0 {
				b.WriteString(" > ")
			}
			fmt.Fprintf(&b, "[%d]", k+1)
		}
		b.WriteString("\n```")
	default:
		for p, k := range perm[:n/2] {
			if p > 0 {
				b.WriteString(" > ")
			}
			fmt.Fprintf(&b, "[%d]", k+1)
		}
		b.WriteString(" > [")
	}
	return b.String()
}

// benchItems returns m items of n candidates with random gains.
func benchItems(seed uint64, m, n int) []map[string]any {
	rng := rand.New(rand.NewPCG(seed, 1))
	items := make([]map[string]any, m)
	for i := range items {
		gains := make([]float64, n)
		for k := range gains {
			gains[k] = float64(rng.IntN(6))
		}
		items[i] = map[string]any{"completion": benchCompletion(rng, n),
			"ground_truth": map[string]any{"gains": gains, "k": 0}}
	}
	return items
}
