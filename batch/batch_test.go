package batch

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/batch/batchtest"
)

func TestCustomID(t *testing.T) {
	tests := []struct {
		id, ep string
		i      int
		err    bool
	}{
		{id: "interest/u1#0", ep: "interest/u1", i: 0},
		{id: "a#b#12", ep: "a#b", i: 12},
		{id: "no-index", err: true},
		{id: "x#-1", err: true},
		{id: "x#", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			ep, i, err := ParseCustomID(tc.id)
			if tc.err {
				assert.Error(t, err, "ParseCustomID(%q)", tc.id)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.ep, ep)
			assert.Equal(t, tc.i, i)
			assert.Equal(t, tc.id, CustomID(ep, i), "CustomID round trip")
		})
	}
}

// TestSplitWriter checks the split at the request and byte limits and
// that the body is written byte for byte.
func TestSplitWriter(t *testing.T) {
	tests := []struct {
		name           string
		maxN, maxBytes int
		files          int
	}{
		{name: "by requests", maxN: 2, maxBytes: 1 << 20, files: 3},
		{name: "by bytes", maxN: 100, maxBytes: 200, files: 5},
		{name: "one file", maxN: 100, maxBytes: 1 << 20, files: 1},
	}
	body := []byte(`{"model":"m","messages":[{"role":"user","content":"a \u003c b"}],"seed":1}`)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := &splitWriter{dir: t.TempDir(), maxN: tc.maxN, maxBytes: tc.maxBytes}
			require.NoError(t, w.start())
			for i := range 5 {
				require.NoError(t, w.write(CustomID("e", i), body))
			}
			files, err := w.finish()
			require.NoError(t, err)
			assert.Len(t, files, tc.files, "files")
			data, err := os.ReadFile(files[0])
			require.NoError(t, err)
			line, _, _ := strings.Cut(string(data), "\n")
			assert.Equal(t, `{"custom_id":"e#0","method":"POST","url":"/v1/chat/completions","body":`+string(body)+`}`, line)
		})
	}
	w := &splitWriter{dir: filepath.Dir(filepath.Join(t.TempDir(), "x")), maxN: 1}
	require.NoError(t, w.start())
	require.NoError(t, w.write("e#0", body))
	_, err := w.finish()
	require.NoError(t, err)
	assert.ErrorIs(t, w.start(), ErrNotEmpty, "a folder with request files")
}

// TestIndexResults checks which line wins for a custom_id and the reasons
// given for lines without a usable answer.
func TestIndexResults(t *testing.T) {
	dir := t.TempDir()
	ok := string(batchtest.Answer([]byte(`{"model":"m"}`)))
	line := func(id string, code int, body string, engineErr bool) string {
		o := map[string]any{"id": "r", "custom_id": id, "response": map[string]any{"status_code": code, "body": json.RawMessage(body)}}
		if engineErr {
			o = map[string]any{"id": "r", "custom_id": id, "response": nil, "error": map[string]any{"code": "batch_expired", "message": "expired"}}
		}
		b, _ := json.Marshal(o)
		return string(b) + "\n"
	}
	first := filepath.Join(dir, "errors.jsonl")
	second := filepath.Join(dir, "output.jsonl")
	require.NoError(t, os.WriteFile(first, []byte(line("a#0", 500, `{"error":{"message":"boom"}}`, false)+line("b#0", 0, "", true)+line("c#0", 200, ok, false)), 0o644))
	require.NoError(t, os.WriteFile(second, []byte(line("a#0", 200, ok, false)+line("c#0", 429, `{"error":{}}`, false)), 0o644))
	idx, err := indexResults([]string{first, second})
	require.NoError(t, err)
	defer idx.close()
	tests := []struct {
		id, reason string
	}{
		{id: "a#0"}, // a later success wins over a failure
		{id: "c#0"}, // an earlier success wins over a later failure
		{id: "b#0", reason: "engine error batch_expired: expired"},
		{id: "d#0", reason: "missing"},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			body, reason, err := idx.body(tc.id)
			require.NoError(t, err)
			assert.Equal(t, tc.reason, reason, "reason")
			if tc.reason == "" {
				assert.JSONEq(t, ok, string(body), "the answer body")
			}
		})
	}
}

// TestRemoteResumes checks Submit, Status and Collect against the fake
// Files and Batches APIs: a second Submit uploads nothing, Collect waits
// for completion and downloads the output and error files once.
func TestRemoteResumes(t *testing.T) {
	srv := batchtest.New()
	defer srv.Close()
	srv.Fail = map[string]bool{"e#1": true}
	dir := t.TempDir()
	w := &splitWriter{dir: dir, maxN: 2}
	require.NoError(t, w.start())
	for i := range 3 {
		require.NoError(t, w.write(CustomID("e", i), []byte(`{"model":"m"}`)))
	}
	_, err := w.finish()
	require.NoError(t, err)
	r := NewRemote(RemoteConfig{BaseURL: srv.URL(), APIKey: "sk-x"})
	ctx := context.Background()
	st, err := r.Submit(ctx, dir)
	require.NoError(t, err)
	require.Len(t, st.Files, 2)
	again, err := r.Submit(ctx, dir)
	require.NoError(t, err)
	assert.Equal(t, st, again, "a second Submit changes nothing")
	st, done, err := r.Collect(ctx, dir)
	require.NoError(t, err)
	assert.False(t, done, "in progress after one poll")
	assert.Equal(t, "in_progress", st.Files[0].Status)
	st, done, err = r.Collect(ctx, dir)
	require.NoError(t, err)
	assert.True(t, done, "completed after two polls")
	assert.Equal(t, "output-00000.jsonl", st.Files[0].Output)
	assert.Equal(t, "errors-00000.jsonl", st.Files[0].Errors, "e#1 failed")
	assert.Empty(t, st.Files[1].Errors)
	assert.Equal(t, []string{filepath.Join(dir, "errors-00000.jsonl"), filepath.Join(dir, "output-00000.jsonl"),
		filepath.Join(dir, "output-00001.jsonl")}, ResultFiles(dir))
	assert.NotContains(t, r.name+RemoteConfig{APIKey: "sk-x"}.String(), "sk-x", "the key is never printed")
}

// TestRemoteBaseURLQuery checks that a key passed in the base URL's
// query reaches the server and no error message.
func TestRemoteBaseURLQuery(t *testing.T) {
	srv := batchtest.New()
	defer srv.Close()
	dir := t.TempDir()
	w := &splitWriter{dir: dir}
	require.NoError(t, w.start())
	require.NoError(t, w.write("e#0", []byte(`{"model":"m"}`)))
	_, err := w.finish()
	require.NoError(t, err)
	_, err = NewRemote(RemoteConfig{BaseURL: srv.URL() + "?api-version=1&key=sekrit"}).Submit(context.Background(), dir)
	require.NoError(t, err, "Submit with a query in the base URL")
	dir2 := t.TempDir()
	w = &splitWriter{dir: dir2}
	require.NoError(t, w.start())
	require.NoError(t, w.write("e#0", []byte(`{"model":"m"}`)))
	_, err = w.finish()
	require.NoError(t, err)
	_, err = NewRemote(RemoteConfig{BaseURL: "http://127.0.0.1:1/v1?key=sekrit"}).Submit(context.Background(), dir2)
	require.Error(t, err, "Submit to a closed port")
	assert.NotContains(t, err.Error(), "sekrit", "the error names the URL without its query")
}
