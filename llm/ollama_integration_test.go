package llm_test

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/flexrec/flexrec/llm"
	"github.com/flexrec/flexrec/llm/testmodel"
	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rank"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Integration tests against a real Ollama serving flexrec's test model.
// scripts/ollama-test-server.sh starts one and prints the variables:
//
//	eval "$(scripts/ollama-test-server.sh)"
//	go test ./llm/
//
// FLEXREC_OLLAMA_HOST is the server's base URL; FLEXREC_OLLAMA_MODEL the
// model (default flexrec-tiny). Without a server the tests skip, except
// under CI=true, where they fail.

const startHint = "start the test server with: eval \"$(scripts/ollama-test-server.sh)\" (it sets FLEXREC_OLLAMA_HOST)"

// realServer returns the test server's host and model, or skips (fails
// in CI) when none answers.
func realServer(t *testing.T) (host, model string) {
	t.Helper()
	host = os.Getenv("FLEXREC_OLLAMA_HOST")
	if host == "" {
		skipOrFail(t, "FLEXREC_OLLAMA_HOST is not set: "+startHint)
	}
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get(strings.TrimRight(host, "/") + "/api/version")
	if err != nil {
		skipOrFail(t, "no Ollama at "+host+" ("+err.Error()+"): "+startHint)
	}
	resp.Body.Close()
	return host, cmp.Or(os.Getenv("FLEXREC_OLLAMA_MODEL"), "flexrec-tiny")
}

func skipOrFail(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// realTargets are both backends on the one server: Ollama's native API
// and its OpenAI-compatible /v1.
func realTargets(t *testing.T) []target {
	host, model := realServer(t)
	return []target{
		{name: "ollama native", backend: newOllamaBackend(t, host), model: model},
		{name: "openai /v1", backend: newOpenAIBackend(t, strings.TrimRight(host, "/")+"/v1", ""), model: model},
	}
}

func TestIntegrationConformance(t *testing.T) {
	for _, tg := range realTargets(t) {
		t.Run(tg.name, func(t *testing.T) { runConformance(t, tg) })
	}
}

// TestIntegrationLogprobsAreTheModels checks every reported logprob
// against the test model's own transition probabilities, and that seeded
// rollouts vary and carry their seeds.
func TestIntegrationLogprobsAreTheModels(t *testing.T) {
	m, err := testmodel.New(testmodel.DefaultConfig())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, tg := range realTargets(t) {
		t.Run(tg.name, func(t *testing.T) {
			req := &llm.Request{Model: tg.model, Messages: chat(tg.model), N: 6, Seed: i64(1000),
				Temperature: f64(1), MaxTokens: 200, Logprobs: true, TopLogprobs: 5}
			resp, err := tg.backend.Sample(ctx, req)
			require.NoError(t, err)
			require.Len(t, resp.Samples, 6)
			texts := map[string]bool{}
			for i, s := range resp.Samples {
				checkTokens(t, &s, 5)
				pieces, lps := make([]string, len(s.Tokens)), make([]float64, len(s.Tokens))
				for j, tok := range s.Tokens {
					pieces[j], lps[j] = tok.Text, tok.Logprob
				}
				assert.NoError(t, m.Check(pieces, lps, 1e-3), "sample %d %q", i, s.Text)
				require.NotNil(t, s.Seed)
				assert.Equal(t, int64(1000+i), *s.Seed, "sample %d seed", i)
				texts[s.Text] = true
			}
			assert.GreaterOrEqual(t, len(texts), 3, "distinct rollouts among 6 seeds")
		})
	}
}

// episode30 is an unlabelled episode with 30 candidates, the size the
// test model ranks.
func episode30() *prompt.Episode {
	ep := &prompt.Episode{ID: "it/u1", UserID: "u1", Need: "interest",
		History: []prompt.HistoryItem{{ItemID: "h1", Text: "Heat (1995)", Engagement: 5}}}
	for k := range 30 {
		ep.Candidates = append(ep.Candidates, prompt.Candidate{ItemID: fmt.Sprintf("m%02d", k), Text: fmt.Sprintf("Movie number %d", k)})
	}
	return ep
}

// TestIntegrationRoundTrip renders prompts, samples them through both
// backends, parses and repairs the answers and aligns every ranked id with
// its tokens: the whole path a rollout takes.
func TestIntegrationRoundTrip(t *testing.T) {
	ep := episode30()
	need, err := prompt.LookupNeed("interest")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, tg := range realTargets(t) {
		t.Run(tg.name, func(t *testing.T) {
			valid, repaired := 0, 0
			for seed := range int64(12) {
				r, err := prompt.Render(ep, &need, prompt.DefaultOptions(), seed)
				require.NoError(t, err)
				req := &llm.Request{Model: tg.model, Seed: &seed, Temperature: f64(1), MaxTokens: 300, Logprobs: true}
				for _, m := range r.Messages {
					req.Messages = append(req.Messages, llm.Message{Role: m.Role, Content: m.Content})
				}
				resp, err := tg.backend.Sample(ctx, req)
				require.NoError(t, err, "seed %d", seed)
				s := &resp.Samples[0]
				cands := make([]rank.Candidate, len(r.Order))
				for k, id := range r.IDs() {
					cands[k] = rank.Candidate{ID: id, Title: r.Titles[k]}
				}
				res := rank.ParseSample(s, cands)
				require.NoError(t, rank.Repair(res, rank.PromptOrder, nil))
				assert.Len(t, res.Order, 30, "seed %d: a permutation of every candidate", seed)
				if res.Valid() {
					valid++
				} else {
					repaired++
				}
				spans, err := rank.Align(res, s.Tokens)
				require.NoError(t, err, "seed %d: align %q", seed, s.Text)
				require.Len(t, spans, len(res.Items))
				for j, sp := range spans {
					assert.Less(t, sp.First, sp.Last, "seed %d item %d token range", seed, j)
					assert.LessOrEqual(t, sp.Logprob, 0.0, "seed %d item %d logprob", seed, j)
					assert.False(t, math.IsInf(sp.Logprob, 0) || math.IsNaN(sp.Logprob))
				}
			}
			assert.Positive(t, valid, "clean answers among 12")
			assert.Positive(t, repaired, "answers needing repair among 12")
		})
	}
}
