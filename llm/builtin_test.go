package llm

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/prompt"
)

func builtinSubject(need string) *Subject {
	ep := &prompt.Episode{
		ID: "e", UserID: "u", Need: need,
		History: []prompt.HistoryItem{{ItemID: "h", Categories: []string{"Drama"}}},
		Candidates: []prompt.Candidate{
			{ItemID: "a", Categories: []string{"Drama"}},
			{ItemID: "b", Categories: []string{"Comedy"}, RecentPopularity: 50},
			{ItemID: "c", Categories: []string{"Drama", "Crime"}},
		},
	}
	return &Subject{Episode: ep, Order: []int{2, 0, 1}} // [1]=c, [2]=a, [3]=b
}

func newTestBuiltin(t *testing.T) *Builtin {
	t.Helper()
	scores := map[string]float64{"a": 1.0, "b": 0.2, "c": 0.6}
	b, err := NewBuiltin(DefaultBuiltinConfig(func(_, item string) float64 { return scores[item] }))
	require.NoError(t, err)
	return b
}

// plProb is the brute-force Plackett–Luce probability of a permutation of
// short-id indices.
func plProb(z []float64, perm []int) float64 {
	p := 1.0
	left := map[int]bool{}
	for i := range z {
		left[i] = true
	}
	for _, k := range perm {
		var sum float64
		for j := range left {
			sum += math.Exp(z[j])
		}
		p *= math.Exp(z[k]) / sum
		delete(left, k)
	}
	return p
}

func TestBuiltinExactLogprobs(t *testing.T) {
	b := newTestBuiltin(t)
	sub := builtinSubject("interest")
	z := b.logits(sub)
	seed := int64(11)
	req := &Request{N: 4000, Seed: &seed, Subject: sub}
	resp, err := b.Sample(context.Background(), req)
	require.NoError(t, err)
	require.Len(t, resp.Samples, 4000)
	counts := map[string]int{}
	for _, s := range resp.Samples {
		var perm []int
		var lp float64
		var text strings.Builder
		for _, tok := range s.Tokens {
			text.Write(tok.Bytes)
			lp += tok.Logprob
			if tok.Text != " > " {
				perm = append(perm, int(tok.Text[1]-'1'))
			} else {
				assert.Zero(t, tok.Logprob, "separators are forced")
			}
		}
		require.Equal(t, s.Text, text.String(), "token bytes concatenate to the text")
		assert.InDelta(t, math.Log(plProb(z, perm)), lp, 1e-9, "summed logprob of %q", s.Text)
		counts[s.Text]++
	}
	assert.Len(t, counts, 6, "all 3! rankings occur")
	for text, c := range counts {
		var perm []int
		for _, f := range strings.Split(text, " > ") {
			perm = append(perm, int(f[1]-'1'))
		}
		assert.InDelta(t, plProb(z, perm), float64(c)/4000, 0.025, "frequency of %q", text)
	}
}

func TestBuiltinSeedsAndGreedy(t *testing.T) {
	b := newTestBuiltin(t)
	seed, zero := int64(3), 0.0
	r1, err := b.Sample(context.Background(), &Request{N: 3, Seed: &seed, Subject: builtinSubject("interest")})
	require.NoError(t, err)
	r2, err := b.Sample(context.Background(), &Request{N: 3, Seed: &seed, Subject: builtinSubject("interest")})
	require.NoError(t, err)
	assert.Equal(t, r1.Samples[0].Text, r2.Samples[0].Text, "same seed, same sample")
	greedy, err := b.Sample(context.Background(), &Request{Temperature: &zero, Subject: builtinSubject("interest")})
	require.NoError(t, err)
	assert.Equal(t, "[2] > [1] > [3]", greedy.Samples[0].Text, "greedy follows scores a > c > b")
	explore, err := b.Sample(context.Background(), &Request{Temperature: &zero, Subject: builtinSubject("explore")})
	require.NoError(t, err)
	assert.Equal(t, "[3] > [2] > [1]", explore.Samples[0].Text, "explore puts the novel genre first")
	trend, err := b.Sample(context.Background(), &Request{Temperature: &zero, Subject: builtinSubject("trend")})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(trend.Samples[0].Text, "[3]"), "trend puts the popular item first, got %s", trend.Samples[0].Text)
}

func TestBuiltinErrors(t *testing.T) {
	_, err := NewBuiltin(BuiltinConfig{})
	assert.ErrorContains(t, err, "no score function")
	b := newTestBuiltin(t)
	_, err = b.Sample(context.Background(), &Request{})
	assert.ErrorContains(t, err, "no subject")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = b.Sample(ctx, &Request{Subject: builtinSubject("interest")})
	assert.ErrorIs(t, err, context.Canceled)
}
