package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/internal/folderlock"
)

func TestExportRefusesAFolderInUse(t *testing.T) {
	in := filepath.Join(t.TempDir(), "rollouts.jsonl")
	require.NoError(t, os.WriteFile(in, nil, 0o644))
	out := t.TempDir()
	lock, err := folderlock.Acquire(out)
	require.NoError(t, err)
	code, _, stderr := runCLI(t, "", "export", "--in", in, "--out", out, "--format", "native")
	assert.Equal(t, exitError, code)
	assert.Contains(t, stderr, "in use by another flexrec process")
	require.NoError(t, lock.Release())
	code, _, stderr = runCLI(t, "", "export", "--in", in, "--out", out, "--format", "native")
	assert.Equal(t, exitOK, code, "free again: %s", stderr)
}
