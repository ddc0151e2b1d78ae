package llm_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/flexrec/flexrec/llm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// target is one backend under the conformance suite.
type target struct {
	name    string
	backend llm.Backend
	model   string
}

func f64(v float64) *float64 { return &v }
func i64(v int64) *int64     { return &v }

func chat(model string) []llm.Message {
	return []llm.Message{
		{Role: "system", Content: "Rank the candidates. End with one line like [2] > [1]."},
		{Role: "user", Content: "Candidates: [1] Heat (1995) [2] Alien (1979) [3] Up (2009)"},
	}
}

// runConformance checks the behaviour every backend promises, against
// any server (fakes in both wire formats, the real Ollama).
func runConformance(t *testing.T, tg target) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	base := func() *llm.Request {
		return &llm.Request{Model: tg.model, Messages: chat(tg.model), Temperature: f64(1), MaxTokens: 300}
	}
	t.Run("logprobs consistent with text", func(t *testing.T) {
		req := base()
		req.Seed, req.Logprobs, req.TopLogprobs = i64(3), true, 3
		resp, err := tg.backend.Sample(ctx, req)
		require.NoError(t, err, "Sample")
		require.Len(t, resp.Samples, 1)
		assert.NotEmpty(t, resp.Model, "Response.Model")
		checkTokens(t, &resp.Samples[0], 3)
		assert.Contains(t, []string{"stop", "length"}, resp.Samples[0].FinishReason)
		assert.Positive(t, resp.Usage.CompletionTokens, "Usage.CompletionTokens")
	})
	t.Run("n samples repeat with the seed", func(t *testing.T) {
		req := base()
		req.N, req.Seed = 3, i64(42)
		a, err := tg.backend.Sample(ctx, req)
		require.NoError(t, err, "first Sample")
		b, err := tg.backend.Sample(ctx, req)
		require.NoError(t, err, "second Sample")
		require.Len(t, a.Samples, 3)
		require.Len(t, b.Samples, 3)
		for i := range a.Samples {
			assert.Equal(t, a.Samples[i].Text, b.Samples[i].Text, "sample %d with seed 42 twice", i)
		}
	})
	t.Run("different seeds differ", func(t *testing.T) {
		texts := map[string]bool{}
		for s := range int64(6) {
			req := base()
			req.Seed = i64(100 + s)
			resp, err := tg.backend.Sample(ctx, req)
			require.NoError(t, err, "Sample seed %d", 100+s)
			texts[resp.Samples[0].Text] = true
		}
		assert.GreaterOrEqual(t, len(texts), 2, "distinct texts over 6 seeds")
	})
	t.Run("temperature 0 is sent and greedy", func(t *testing.T) {
		var texts []string
		for _, s := range []int64{1, 2} {
			req := base()
			req.Temperature, req.Seed = f64(0), i64(s)
			resp, err := tg.backend.Sample(ctx, req)
			require.NoError(t, err)
			texts = append(texts, resp.Samples[0].Text)
		}
		assert.Equal(t, texts[0], texts[1], "greedy samples with seeds 1 and 2")
	})
	t.Run("max tokens cuts the answer", func(t *testing.T) {
		req := base()
		req.MaxTokens, req.Logprobs, req.Seed = 3, true, i64(5)
		resp, err := tg.backend.Sample(ctx, req)
		require.NoError(t, err)
		s := resp.Samples[0]
		assert.Equal(t, "length", s.FinishReason)
		assert.LessOrEqual(t, len(s.Tokens), 3)
	})
	t.Run("unknown model lists the served ones", func(t *testing.T) {
		req := base()
		req.Model = "no-such-model"
		_, err := tg.backend.Sample(ctx, req)
		require.Error(t, err)
		assert.True(t, errors.Is(err, llm.ErrUnknownModel), "errors.Is(%v, ErrUnknownModel)", err)
		assert.Contains(t, err.Error(), tg.model, "the error lists the served model")
	})
}

// checkTokens asserts a sample's logprobs agree with its text: token bytes
// (or text) concatenate to it, each logprob and their sum is finite and
// <= 0, alternatives are at most k, sorted, and include nothing above
// the best.
func checkTokens(t *testing.T, s *llm.Sample, k int) {
	t.Helper()
	require.NotEmpty(t, s.Tokens, "tokens of %q", s.Text)
	var text []byte
	var sum float64
	for i, tok := range s.Tokens {
		b := tok.Bytes
		if b == nil {
			b = []byte(tok.Text)
		}
		text = append(text, b...)
		assert.False(t, math.IsNaN(tok.Logprob) || math.IsInf(tok.Logprob, 0), "token %d logprob %v", i, tok.Logprob)
		assert.LessOrEqual(t, tok.Logprob, 1e-6, "token %d logprob", i)
		sum += tok.Logprob
		assert.LessOrEqual(t, len(tok.Top), k, "token %d alternatives", i)
		for j := 1; j < len(tok.Top); j++ {
			assert.GreaterOrEqual(t, tok.Top[j-1].Logprob, tok.Top[j].Logprob, "token %d alternatives sorted", i)
		}
		if len(tok.Top) > 0 {
			assert.LessOrEqual(t, tok.Logprob, tok.Top[0].Logprob+1e-6, "token %d above the best alternative", i)
		}
	}
	assert.Equal(t, s.Text, string(text), "token bytes concatenate to the text")
	assert.False(t, math.IsInf(sum, 0) || math.IsNaN(sum), "sum of logprobs %v", sum)
	assert.LessOrEqual(t, sum, 0.0)
}

func newOpenAIBackend(t testing.TB, baseURL, key string) *llm.OpenAI {
	t.Helper()
	cfg := llm.DefaultOpenAIConfig()
	cfg.BaseURL, cfg.APIKey = baseURL, key
	b, err := llm.NewOpenAI(cfg)
	require.NoError(t, err, "NewOpenAI")
	return b
}

func newOllamaBackend(t testing.TB, host string) *llm.Ollama {
	t.Helper()
	cfg := llm.DefaultOllamaConfig()
	cfg.Host = host
	b, err := llm.NewOllama(cfg)
	require.NoError(t, err, "NewOllama")
	return b
}

// TestConformanceFakes runs the suite against fake servers in each wire
// format, including the OpenAI servers that ignore or reject n > 1.
func TestConformanceFakes(t *testing.T) {
	for _, mode := range []string{"honour", "ignore", "reject"} {
		t.Run("openai n "+mode, func(t *testing.T) {
			f := newFake(t, "openai")
			f.nMode = mode
			runConformance(t, target{name: "openai", backend: newOpenAIBackend(t, f.URL(), "sk-test"), model: "flexrec-tiny"})
		})
	}
	t.Run("ollama", func(t *testing.T) {
		f := newFake(t, "ollama")
		runConformance(t, target{name: "ollama", backend: newOllamaBackend(t, f.URL()), model: "flexrec-tiny"})
	})
}
