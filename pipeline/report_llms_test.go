package pipeline

import (
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
