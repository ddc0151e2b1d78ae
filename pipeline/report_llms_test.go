package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/eval"
)

// TestEvalLLMsConfig reads eval.llms from a job file and checks what the
// report's rankers are named.
func TestEvalLLMsConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "job.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`eval:
  llms:
    - kind: openai
      model: gpt-4o-mini
      price_input_per_million: 0.15
    - kind: builtin
`), 0o644))
	job, err := LoadJob(path)
	require.NoError(t, err, "LoadJob with eval.llms")
	require.Len(t, job.Eval.LLMs, 2)
	assert.Equal(t, ReportLLM{Kind: "openai", Model: "gpt-4o-mini", PriceInput: 0.15}, job.Eval.LLMs[0])

	llms := []eval.LLMConfig{{Model: "builtin-pl"}, {Model: "gpt-4o-mini"}, {Model: "qwen"}}
	job.Eval.Rankers = []string{"random", "policy", "llm:qwen"}
	assert.Equal(t, []string{"random", "llm:builtin-pl", "llm:qwen", "llm:gpt-4o-mini"}, reportRankers(job, llms),
		"reportRankers: policy is named by its model; eval.llms not named in eval.rankers come last")

	for _, tt := range []struct {
		llm  ReportLLM
		want string
	}{
		{ReportLLM{Model: "m"}, "eval.llms: a kind is missing"},
		{ReportLLM{Kind: "openai"}, "eval.llms: model is required"},
	} {
		j := DefaultJob()
		j.Eval.LLMs = []ReportLLM{tt.llm}
		assert.ErrorContains(t, j.Validate(), tt.want, "Validate(eval.llms %+v)", tt.llm)
	}
}

// TestRunReportNamesItsModels runs a small job whose report adds an LLM
// ranker of eval.llms (a fake OpenAI-compatible server) and checks the
// report's rows, header and cost.
func TestRunReportNamesItsModels(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"x","object":"chat.completion","model":"fake","choices":[{"index":0,"finish_reason":"stop",
			"message":{"role":"assistant","content":"[2] > [1]"}}],"usage":{"prompt_tokens":1000,"completion_tokens":10,"total_tokens":1010}}`)
	}))
	defer srv.Close()
	t.Setenv("OPENAI_API_KEY", "")
	job := smallJob()
	job.Eval.Skip, job.Eval.Resamples = false, 0
	job.Eval.LLMs = []ReportLLM{{Kind: "openai", Model: "fake", BaseURL: srv.URL + "/v1", PriceInput: 1000}}
	dir := filepath.Join(t.TempDir(), "out")
	_, err := Run(context.Background(), job, dir, Options{})
	require.NoError(t, err, "Run with eval.llms")
	b, err := os.ReadFile(filepath.Join(dir, "report", eval.JSONFile))
	require.NoError(t, err)
	var rep eval.Report
	require.NoError(t, json.Unmarshal(b, &rep))
	var names []string
	for _, r := range rep.Rows {
		if r.Need == rep.Rows[0].Need {
			names = append(names, r.Ranker)
		}
	}
	assert.Equal(t, []string{"random", "popularity", "mf", "llm:builtin-pl", "llm:fake"}, names, "report rows")
	assert.Equal(t, "flexrec run", rep.Meta.Command)
	require.NotNil(t, rep.Meta.Rollouts, "the header has the rollouts")
	assert.Equal(t, "builtin-pl", rep.Meta.Rollouts.Model)
	assert.Nil(t, rep.Meta.Rollouts.Cost, "the builtin policy has no price")
	require.Len(t, rep.LLMs, 2)
	assert.Equal(t, "openai", rep.LLMs[1].Backend)
	require.NotNil(t, rep.LLMs[1].Cost, "a priced eval.llms ranker has a cost")
	assert.InDelta(t, float64(rep.LLMs[1].PromptTokens)*1000/1e6, *rep.LLMs[1].Cost, 1e-9, "cost at price_input_per_million")
}
