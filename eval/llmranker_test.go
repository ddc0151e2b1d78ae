package eval

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/llm"
	"github.com/flexrec/flexrec/prompt"
)

// backendFunc adapts a function to llm.Backend.
type backendFunc func(ctx context.Context, req *llm.Request) (*llm.Response, error)

func (f backendFunc) Sample(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	return f(ctx, req)
}

// cannedBackend answers every request with text and records the request.
func cannedBackend(text string, got **llm.Request) llm.Backend {
	return backendFunc(func(_ context.Context, req *llm.Request) (*llm.Response, error) {
		*got = req
		return &llm.Response{Samples: []llm.Sample{{Text: text, FinishReason: "stop",
			Usage: llm.Usage{PromptTokens: 321, CompletionTokens: 12}, Latency: 40 * time.Millisecond}}}, nil
	})
}

func TestLLMRanker(t *testing.T) {
	ep := syntheticEpisode(4, 8)
	opts := prompt.DefaultOptions()
	need, err := prompt.LookupNeed("interest")
	require.NoError(t, err)
	shown, err := prompt.Render(ep, &need, opts, promptSeed(3, ep))
	require.NoError(t, err)
	o := shown.Order // [k+1] shows candidate o[k]
	tests := []struct {
		name   string
		answer string
		want   []int
		trace  Trace
	}{
		{"valid answer", "Thinking first.\n[3] > [1] > [4] > [2]", []int{o[2], o[0], o[3], o[1]}, Trace{}},
		{"partial answer completed in prompt order", "[4] > [2]", []int{o[3], o[1], o[0], o[2]},
			Trace{Invalid: true, Repaired: true, RepairedItems: 2}},
		{"duplicate dropped", "[2] > [2] > [1] > [3] > [4]", []int{o[1], o[0], o[2], o[3]}, Trace{Invalid: true}},
		{"no ranking at all gives the prompt order", "I would rather not.", []int{o[0], o[1], o[2], o[3]},
			Trace{Invalid: true, Repaired: true, RepairedItems: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req *llm.Request
			r, err := NewLLM(LLMConfig{Backend: cannedBackend(tt.answer, &req), Model: "m"}, opts, nil, 3)
			require.NoError(t, err)
			got, tr, err := r.(TracingRanker).RankTrace(context.Background(), ep)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got, "ranking of %q", tt.answer)
			tt.trace.Latency, tt.trace.PromptTokens, tt.trace.CompletionTokens = 40*time.Millisecond, 321, 12
			assert.Equal(t, tt.trace, tr, "trace of %q", tt.answer)
			require.NotNil(t, req, "backend called")
			assert.Equal(t, "m", req.Model)
			assert.Equal(t, []llm.Message{{Role: "system", Content: shown.Messages[0].Content}, {Role: "user", Content: shown.Messages[1].Content}}, req.Messages, "the rendered prompt is sent")
			require.NotNil(t, req.Temperature)
			assert.Zero(t, *req.Temperature, "greedy by default")
			require.NotNil(t, req.Seed)
			assert.Equal(t, promptSeed(3, ep), *req.Seed)
			require.NotNil(t, req.Subject)
			assert.Equal(t, o, req.Subject.Order)
		})
	}
	t.Run("prompt-order ranker equals an unusable answer", func(t *testing.T) {
		assert.Equal(t, []int{o[0], o[1], o[2], o[3]}, rankOrFail(t, NewPromptOrder(3, opts, nil), ep))
	})
}

func TestLLMRankerErrors(t *testing.T) {
	ep := syntheticEpisode(4, 9)
	down := errors.New("connection refused")
	failing := backendFunc(func(context.Context, *llm.Request) (*llm.Response, error) { return nil, down })
	empty := backendFunc(func(context.Context, *llm.Request) (*llm.Response, error) { return &llm.Response{}, nil })
	r, err := NewLLM(LLMConfig{Backend: failing, Model: "qwen"}, prompt.DefaultOptions(), nil, 1)
	require.NoError(t, err)
	_, err = r.Rank(context.Background(), ep)
	assert.ErrorIs(t, err, down)
	assert.ErrorContains(t, err, `model qwen: episode "interest/u9"`)
	r, err = NewLLM(LLMConfig{Backend: empty, Model: "qwen"}, prompt.DefaultOptions(), nil, 1)
	require.NoError(t, err)
	_, err = r.Rank(context.Background(), ep)
	assert.ErrorContains(t, err, "no sample")
	_, err = NewLLM(LLMConfig{Model: "qwen"}, prompt.DefaultOptions(), nil, 1)
	assert.ErrorContains(t, err, "backend and model are required")
	_, err = NewLLM(LLMConfig{Backend: empty}, prompt.DefaultOptions(), nil, 1)
	assert.ErrorContains(t, err, "backend and model are required")
}

// TestLLMRankerBuiltinEvaluate runs the llm ranker over the builtin policy
// through Evaluate and checks the LLM statistics it reports.
func TestLLMRankerBuiltinEvaluate(t *testing.T) {
	var eps []prompt.Episode
	for u := range 10 {
		eps = append(eps, *syntheticEpisode(30, uint64(u+1)))
	}
	pol, err := llm.NewBuiltin(llm.DefaultBuiltinConfig(func(_, item string) float64 { return float64(len(item)) }))
	require.NoError(t, err)
	r, err := NewLLM(LLMConfig{Backend: pol, Model: "builtin-pl"}, prompt.DefaultOptions(), nil, 1)
	require.NoError(t, err)
	rep, err := Evaluate(context.Background(), []Ranker{r}, eps, DefaultConfig())
	require.NoError(t, err)
	st := rep.Rows[0].LLM
	require.NotNil(t, st)
	assert.Equal(t, LLMStats{CompletionTokens: 59, LatencyMS: st.LatencyMS}, *st, "30 ids and 29 separators, all valid")
}
