package dataset

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEpisodeJSONRoundTrip writes episodes of every need (with sparse
// masks, a query, empty histories) and reads them back unchanged.
func TestEpisodeJSONRoundTrip(t *testing.T) {
	cfg := tinyConfig(t, "interest")
	cfg.Sparse = 0.4
	eps := build(t, load(t, fixture("generic-tiny")), cfg).Episodes
	scfg := DefaultBuildConfig()
	scfg.Need = need(t, "search")
	eps = append(eps, build(t, load(t, fixture("esci")), scfg).Episodes...)
	require.Len(t, eps, 3)
	var b bytes.Buffer
	require.NoError(t, WriteEpisodes(&b, eps))
	assert.Equal(t, 3, strings.Count(b.String(), "\n"), "one episode a line")
	got, err := ReadEpisodes(context.Background(), &b, "eps.jsonl")
	require.NoError(t, err)
	assert.Equal(t, eps, got)
}

func TestWriteEpisodesFile(t *testing.T) {
	eps := build(t, load(t, fixture("generic-tiny")), tinyConfig(t, "interest")).Episodes
	path := filepath.Join(t.TempDir(), "eps.jsonl")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o644))
	require.NoError(t, WriteEpisodesFile(path, eps))
	got, err := ReadEpisodesFile(context.Background(), path)
	require.NoError(t, err)
	assert.Equal(t, eps, got)
	left, err := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp*"))
	require.NoError(t, err)
	assert.Empty(t, left, "no temporary file left behind")
	err = WriteEpisodesFile(filepath.Join(t.TempDir(), "no", "such", "dir.jsonl"), eps)
	assert.Error(t, err)
}

func TestReadEpisodesErrors(t *testing.T) {
	eps := build(t, load(t, fixture("generic-tiny")), tinyConfig(t, "interest")).Episodes
	var b bytes.Buffer
	require.NoError(t, WriteEpisodes(&b, eps))
	good := strings.TrimSpace(b.String())
	for _, tc := range []struct {
		name, input, want string
	}{
		{"bad json on line 3", good + "\n\n{oops\n", "eps.jsonl:3"},
		{"invalid episode on line 2", good + "\n" + `{"id":"x","candidates":[]}` + "\n", "eps.jsonl:2: prompt: episode \"x\": no candidates"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadEpisodes(context.Background(), strings.NewReader(tc.input), "eps.jsonl")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := ReadEpisodes(ctx, strings.NewReader(good), "eps.jsonl")
		assert.ErrorIs(t, err, context.Canceled)
	})
	t.Run("no trailing newline", func(t *testing.T) {
		got, err := ReadEpisodes(context.Background(), strings.NewReader(good), "eps.jsonl")
		require.NoError(t, err)
		assert.Equal(t, eps, got)
	})
}

func TestWriteInteractions(t *testing.T) {
	ins := []Interaction{{User: "u1", Item: "a,1", Value: 4.5, Time: 100}, {User: "u2", Item: "b", Value: 1}}
	var b bytes.Buffer
	require.NoError(t, WriteInteractions(&b, ins))
	assert.Equal(t, "user,item,value,time\nu1,\"a,1\",4.5,100\nu2,b,1,\n", b.String())
}
