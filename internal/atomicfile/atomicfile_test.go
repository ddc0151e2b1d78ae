package atomicfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.json")
	require.NoError(t, WriteFile(path, []byte("one"), 0o644))
	require.NoError(t, WriteFile(path, []byte("two"), 0o644))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "two", string(got))
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), info.Mode().Perm(), "permissions follow perm, not the temporary file's 0600")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file is left behind")
}

func TestAbortLeavesTargetUntouched(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.jsonl")
	require.NoError(t, WriteFile(path, []byte("complete\n"), 0o644))
	f, err := Create(path, 0o644)
	require.NoError(t, err)
	_, err = f.WriteString("half a rec")
	require.NoError(t, err)
	f.Abort()
	f.Abort() // idempotent
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "complete\n", string(got), "an aborted write never replaces the file")
	assert.Error(t, f.Commit(), "commit after abort is refused")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1)
}

func TestCreateMissingFolder(t *testing.T) {
	_, err := Create(filepath.Join(t.TempDir(), "no", "such", "x"), 0o644)
	assert.ErrorContains(t, err, "atomicfile: create")
}
