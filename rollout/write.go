package rollout

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"syscall"

	"github.com/flexrec/flexrec/internal/atomicfile"
	"github.com/flexrec/flexrec/llm"
)

// groupWriter appends whole groups to the rollouts file and keeps the
// file's layout up to date.
type groupWriter struct {
	f           *os.File
	path        string
	fingerprint string
	lay         *layout
	st          *Stats
	progress    func(Stats)
	buf         []byte
}

// write appends one episode's records in one write and syncs, so a kill
// leaves whole groups and at most one torn tail.
func (w *groupWriter) write(idx int, recs []Record) error {
	w.buf = w.buf[:0]
	var err error
	for k := range recs {
		recs[k].JobFingerprint = w.fingerprint
		if w.buf, err = AppendRecord(w.buf, &recs[k]); err != nil {
			return err
		}
	}
	if _, err := w.f.Write(w.buf); err != nil {
		return fmt.Errorf("rollout: write %s: %w", w.path, err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("rollout: sync %s: %w", w.path, err)
	}
	w.lay.groups = append(w.lay.groups, span{idx: idx, off: w.lay.keep, n: int64(len(w.buf))})
	w.lay.keep += int64(len(w.buf))
	w.lay.done[idx] = true
	w.st.add(recs)
	if w.progress != nil {
		w.progress(*w.st)
	}
	return nil
}

// compact rewrites a complete rollouts file whose groups are out of
// episode order (left so by an interrupt or by failures that a later run
// filled in) in episode order, atomically: the result is the file an
// uninterrupted run writes. An incomplete file is left as it is.
func compact(path string, lay *layout) error {
	if slices.Contains(lay.done, false) {
		return nil
	}
	byIdx := make([]span, len(lay.done))
	for _, g := range lay.groups {
		byIdx[g.idx] = g
	}
	in, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("rollout: reorder %s: %w", path, err)
	}
	defer in.Close()
	out, err := atomicfile.Create(path, 0o644)
	if err != nil {
		return err
	}
	defer out.Abort()
	for _, g := range byIdx {
		if _, err := io.Copy(out, io.NewSectionReader(in, g.off, g.n)); err != nil {
			return fmt.Errorf("rollout: reorder %s: %w", path, err)
		}
	}
	if err := out.Commit(); err != nil {
		return err
	}
	for k := range lay.groups {
		lay.groups[k] = byIdx[k]
	}
	return nil
}

// Failure is one line of the failures file: an episode whose rollouts
// still failed after the backend's retries.
type Failure struct {
	// EpisodeID names the episode; Index is its place in the run.
	EpisodeID string `json:"episode_id"`
	Index     int    `json:"index"`
	// Reason is a short class of the failure ("HTTP 503", "connection
	// refused", "timeout", ...), for counting.
	Reason string `json:"reason"`
	// Error is the whole error, the server's message included.
	Error string `json:"error"`
}

// FailedError is Run's error when episodes failed after retries while the
// rest of the run went on.
type FailedError struct {
	// Failed and Total count episodes; Reasons counts the failures by reason.
	Failed, Total int
	Reasons       map[string]int
	// Path is the failures file.
	Path string
}

// Error summarises what failed and why, and what to do.
func (e *FailedError) Error() string {
	parts := make([]string, 0, len(e.Reasons))
	for _, r := range slices.Sorted(maps.Keys(e.Reasons)) {
		parts = append(parts, fmt.Sprintf("%s: %d", r, e.Reasons[r]))
	}
	return fmt.Sprintf("rollout: %d of %d episodes failed after retries (%s); they are listed in %s and the same command run again samples exactly those",
		e.Failed, e.Total, strings.Join(parts, ", "), e.Path)
}

func newFailedError(st *Stats, path string) *FailedError {
	return &FailedError{Failed: st.Failed, Total: st.Total, Reasons: maps.Clone(st.Reasons), Path: path}
}

// writeFailures writes this invocation's failures (JSON lines), or removes
// a stale file when there were none.
func writeFailures(path string, fails []Failure) error {
	if len(fails) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("rollout: %w", err)
		}
		return nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range fails {
		if err := enc.Encode(&fails[i]); err != nil {
			return fmt.Errorf("rollout: encode failure of %s: %w", fails[i].EpisodeID, err)
		}
	}
	return atomicfile.WriteFile(path, buf.Bytes(), 0o644)
}

// reason classes an error for the failure counts.
func reason(err error) string {
	var se *llm.StatusError
	var ae *llm.AnswerError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("HTTP %d", se.Code)
	case errors.As(err, &ae):
		return fmt.Sprintf("HTTP %d, %s", ae.Code, ae.Problem)
	case errors.Is(err, llm.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	case errors.Is(err, llm.ErrNoLogprobs):
		return "no logprobs"
	}
	msg := err.Error()
	for inner := errors.Unwrap(err); inner != nil; inner = errors.Unwrap(inner) {
		msg = inner.Error()
	}
	if len(msg) > 60 {
		msg = msg[:60] + "..."
	}
	return msg
}
