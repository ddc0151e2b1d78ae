package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runCLI runs the flexrec command line in-process and returns its exit code,
// stdout and stderr.
func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestPromptCommand(t *testing.T) {
	raw, err := os.ReadFile("../../prompt/testdata/episode_small.json")
	require.NoError(t, err)
	code, out, stderr := runCLI(t, string(raw), "prompt", "--seed", "5", "--need", "trend", "--schema")
	require.Equal(t, 0, code, "stderr: %s", stderr)
	var got struct {
		Messages []struct{ Role, Content string }
		Order    []int
		Need     string
		Schema   map[string]any `json:"json_schema"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, "trend", got.Need)
	assert.Len(t, got.Messages, 2)
	assert.Len(t, got.Order, 3)
	assert.Contains(t, got.Messages[1].Content, "interactions in the last 30 days")
	assert.NotNil(t, got.Schema)
}

func TestPromptCommandErrors(t *testing.T) {
	tests := []struct {
		name, stdin string
		args        []string
		code        int
		stderr      string
	}{
		{"empty stdin", "", []string{"prompt"}, 1, "no episode"},
		{"bad json names line", "\n{oops", []string{"prompt"}, 1, "stdin:2"},
		{"unknown need", `{"id":"e","candidates":[{"item_id":"a"}]}`, []string{"prompt", "--need", "nope"}, 1, "unknown need"},
		{"unknown flag", "", []string{"prompt", "--nope"}, 2, "unknown flag"},
		{"bad format", "", []string{"needs", "--format", "xml"}, 2, "want table or json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.stdin, tc.args...)
			assert.Equal(t, tc.code, code, "exit code; stderr: %s", stderr)
			assert.Contains(t, stderr, tc.stderr)
		})
	}
}

func TestNeedsCommand(t *testing.T) {
	code, out, _ := runCLI(t, "", "needs", "--format", "json")
	require.Equal(t, 0, code)
	var needs []struct{ ID string }
	require.NoError(t, json.Unmarshal([]byte(out), &needs))
	assert.Len(t, needs, 4)
	code, _, stderr := runCLI(t, "", "needs", "--file", "../../prompt/testdata/need_badrule.yaml")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "gain.rule")
}

func TestEveryCommandHasHelp(t *testing.T) {
	root := newRootCmd(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
	for _, c := range root.Commands() {
		if c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		t.Run(c.Name(), func(t *testing.T) {
			assert.NotEmpty(t, c.Short, "Short help")
			assert.Contains(t, c.Long, "Exit codes", "Long help lists exit codes")
			code, out, _ := runCLI(t, "", c.Name(), "--help")
			assert.Equal(t, 0, code)
			assert.Contains(t, out, "Usage:")
		})
	}
}
