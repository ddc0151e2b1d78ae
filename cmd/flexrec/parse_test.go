package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// parseReport is the part of `flexrec parse` output the tests read.
type parseReport struct {
	Permutation []string `json:"permutation"`
	Generated   []string `json:"generated"`
	Unknown     []string `json:"unknown"`
	Duplicates  []string `json:"duplicates"`
	Missing     []string `json:"missing"`
	Truncated   bool     `json:"truncated"`
	FormatOK    bool     `json:"format_ok"`
	Tokens      []struct {
		First, Last int
		Logprob     float64
	} `json:"tokens"`
}

func TestParseCommand(t *testing.T) {
	dir := t.TempDir()
	titles := filepath.Join(dir, "titles.txt")
	require.NoError(t, os.WriteFile(titles, []byte("The Matrix\nAlien\nHeat\n"), 0o644))
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  parseReport
	}{
		{"contract", "Reasoning about [1].\n[3] > [1] > [2]", []string{"--n", "3"},
			parseReport{Permutation: []string{"3", "1", "2"}, Generated: []string{"3", "1", "2"},
				Unknown: []string{}, Duplicates: []string{}, Missing: []string{}, FormatOK: true}},
		{"repair prompt order", "[3] > [9] > [3]", []string{"--n", "4"},
			parseReport{Permutation: []string{"3", "1", "2", "4"}, Generated: []string{"3", "9", "3"},
				Unknown: []string{"9"}, Duplicates: []string{"3"}, Missing: []string{"1", "2", "4"}, FormatOK: true}},
		{"repair by score", "[3] > [1] > [", []string{"--n", "4", "--repair", "score", "--scores", "0, 0.5, 9, 2"},
			parseReport{Permutation: []string{"3", "1", "4", "2"}, Generated: []string{"3", "1"},
				Unknown: []string{}, Duplicates: []string{}, Missing: []string{"2", "4"}, Truncated: true}},
		{"string ids", "b, c", []string{"--ids", "a,b,c"},
			parseReport{Permutation: []string{"b", "c", "a"}, Generated: []string{"b", "c"},
				Unknown: []string{}, Duplicates: []string{}, Missing: []string{"a"}}},
		{"titles", "1. Heat\n2. the matrix\n3. Alien", []string{"--ids", "m,a,h", "--titles-file", titles},
			parseReport{Permutation: []string{"h", "m", "a"}, Generated: []string{"h", "m", "a"},
				Unknown: []string{}, Duplicates: []string{}, Missing: []string{}}},
		{"finish reason length", "[2] > [1]", []string{"--n", "2", "--finish-reason", "length"},
			parseReport{Permutation: []string{"2", "1"}, Generated: []string{"2", "1"},
				Unknown: []string{}, Duplicates: []string{}, Missing: []string{}, Truncated: true}},
		{"json contract", `{"ranking": ["2", "1"]}`, []string{"--n", "2", "--contract", "json"},
			parseReport{Permutation: []string{"2", "1"}, Generated: []string{"2", "1"},
				Unknown: []string{}, Duplicates: []string{}, Missing: []string{}, FormatOK: true}},
		{"sample with tokens", `{"text": "[2] > [1]", "tokens": [{"text": "[2", "logprob": -0.5}, {"text": "] >", "logprob": -0.25}, {"text": " [1]", "logprob": -1}]}`,
			[]string{"--n", "2", "--sample"},
			parseReport{Permutation: []string{"2", "1"}, Generated: []string{"2", "1"},
				Unknown: []string{}, Duplicates: []string{}, Missing: []string{}, FormatOK: true,
				Tokens: []struct {
					First, Last int
					Logprob     float64
				}{{0, 2, -0.75}, {2, 3, -1}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runCLI(t, tc.stdin, append([]string{"parse"}, tc.args...)...)
			require.Equal(t, 0, code, "exit code; stderr: %s", stderr)
			assert.Equal(t, 1, strings.Count(strings.TrimSpace(out), "\n")+1, "one line of output")
			var got parseReport
			require.NoError(t, json.Unmarshal([]byte(out), &got), "output %s", out)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseCommandEmptyListsAreArrays(t *testing.T) {
	code, out, _ := runCLI(t, "[1] > [2]", "parse", "--n", "2")
	require.Equal(t, 0, code)
	for _, f := range []string{`"unknown":[]`, `"duplicates":[]`, `"missing":[]`, `"ambiguous":[]`} {
		assert.Contains(t, out, f)
	}
	assert.NotContains(t, out, "null")
}

func TestParseCommandErrors(t *testing.T) {
	tests := []struct {
		name, stdin string
		args        []string
		code        int
		stderr      string
	}{
		{"no candidates", "", []string{"parse"}, 2, "exactly one of --n and --ids"},
		{"both candidate flags", "", []string{"parse", "--n", "2", "--ids", "a"}, 2, "exactly one"},
		{"repeated id", "", []string{"parse", "--ids", "a,b,a"}, 2, "repeated"},
		{"bad policy", "", []string{"parse", "--n", "2", "--repair", "best"}, 2, "unknown repair policy"},
		{"scores without score", "", []string{"parse", "--n", "2", "--scores", "1,2"}, 2, "--scores needs --repair score"},
		{"score count", "", []string{"parse", "--n", "3", "--repair", "score", "--scores", "1,2"}, 2, "want 3"},
		{"bad score", "", []string{"parse", "--n", "2", "--repair", "score", "--scores", "1,x"}, 2, "value 2"},
		{"bad contract", "", []string{"parse", "--n", "2", "--contract", "xml"}, 2, "want line or json"},
		{"reject", "[2]", []string{"parse", "--n", "2", "--repair", "reject"}, 1, "answer rejected: 1 missing"},
		{"bad sample", "{", []string{"parse", "--n", "2", "--sample"}, 1, "decode sample"},
		{"tokens do not match", `{"text": "[1]", "tokens": [{"text": "[2]"}]}`, []string{"parse", "--n", "2", "--sample"}, 1, "tokens do not reproduce"},
		{"titles file lines", "", []string{"parse", "--n", "5", "--titles-file", "parse_test.go"}, 1, "lines for 5 candidates"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.stdin, tc.args...)
			assert.Equal(t, tc.code, code, "exit code; stderr: %s", stderr)
			assert.Contains(t, stderr, tc.stderr)
		})
	}
}

func TestParseCommandRejectStillPrints(t *testing.T) {
	code, out, _ := runCLI(t, "[2] > [2]", "parse", "--n", "2", "--repair", "reject")
	require.Equal(t, 1, code)
	var got parseReport
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, []string{"2"}, got.Duplicates)
}

func TestParseCommandFlags(t *testing.T) {
	var got *parseOptions
	capture := func(_ context.Context, o *parseOptions, _ io3) error { got = o; return nil }
	c := newParseCmdRun(io3{in: strings.NewReader(""), out: &strings.Builder{}, err: &strings.Builder{}}, capture)
	c.SetArgs([]string{"--ids", "x,y", "--repair", "score", "--scores", "1,2", "--contract", "json", "--sample", "--finish-reason", "stop"})
	require.NoError(t, c.ExecuteContext(context.Background()))
	require.NotNil(t, got)
	assert.Equal(t, parseOptions{ids: "x,y", repair: "score", scores: "1,2", contract: "json", sample: true, finish: "stop"}, *got)
	cfg, err := got.verify()
	require.NoError(t, err)
	assert.Equal(t, []float64{1, 2}, cfg.scores)
	assert.True(t, cfg.json)
	assert.Len(t, cfg.cands, 2)
}
