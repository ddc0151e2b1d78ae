package folderlock

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAcquireRefusesSecondHolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	l, err := Acquire(dir)
	require.NoError(t, err, "Acquire on a new folder")
	_, err = Acquire(dir)
	var held *HeldError
	require.ErrorAs(t, err, &held, "second Acquire while held")
	assert.Equal(t, os.Getpid(), held.Holder.PID, "holder pid")
	assert.Contains(t, err.Error(), "pid", "message names the holder")
	require.NoError(t, l.Release())
	l2, err := Acquire(dir)
	require.NoError(t, err, "Acquire after Release")
	require.NoError(t, l2.Release())
	require.NoError(t, l2.Release(), "second Release is a no-op")
}

func TestAcquireFileIsPerFile(t *testing.T) {
	dir := t.TempDir()
	a, err := AcquireFile(filepath.Join(dir, "a.jsonl"))
	require.NoError(t, err)
	b, err := AcquireFile(filepath.Join(dir, "b.jsonl"))
	require.NoError(t, err, "another file in the same folder is free")
	_, err = AcquireFile(filepath.Join(dir, "a.jsonl"))
	assert.True(t, errors.As(err, new(*HeldError)), "same file again: got %v", err)
	assert.NoError(t, a.Release())
	assert.NoError(t, b.Release())
}

// TestKilledHolderNeverBlocks takes the lock in a child process, kills it
// with SIGKILL, and takes the lock again at once.
func TestKilledHolderNeverBlocks(t *testing.T) {
	if os.Getenv("FOLDERLOCK_CHILD") != "" {
		if _, err := Acquire(os.Getenv("FOLDERLOCK_CHILD")); err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString("locked\n")
		select {} // hold until killed
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledHolderNeverBlocks$")
	cmd.Env = append(os.Environ(), "FOLDERLOCK_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err, "child's first line")
	require.Equal(t, "locked\n", line)
	_, err = Acquire(dir)
	var held *HeldError
	require.ErrorAs(t, err, &held, "Acquire while the child holds the lock")
	assert.Equal(t, cmd.Process.Pid, held.Holder.PID, "refusal names the child's pid")
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait() // killed: its error is the signal
	l, err := Acquire(dir)
	require.NoError(t, err, "Acquire after the holder was killed")
	require.NoError(t, l.Release())
}
