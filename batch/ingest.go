package batch

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/flexrec/flexrec/internal/atomicfile"
	"github.com/flexrec/flexrec/llm"
	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rollout"
)

// FailedName is the file, in the batch folder, that Ingest lists the
// requests without a usable answer in, one JSON FailedLine per line.
const FailedName = "failed.jsonl"

// FailedLine is a request Ingest found no usable answer for.
type FailedLine struct {
	// CustomID names the request.
	CustomID string `json:"custom_id"`
	// Reason is "missing" (no line in any results file) or the engine's
	// error, the HTTP status, or why the answer was refused.
	Reason string `json:"reason"`
}

// IngestOptions controls Ingest.
type IngestOptions struct {
	// Dir is the batch folder Prepare wrote; its request files tell which
	// requests exist and what body each must have been.
	Dir string
	// Results are the output and error files (OpenAI's or `vllm
	// run-batch`'s), in any order; a usable answer wins over a failure of
	// the same custom_id, a later usable answer over an earlier one.
	Results []string
	// Seed is the rollouts' base seed, as Prepare had it.
	Seed int64
	// Run are rollout.Run's options: the rollouts file, its fingerprint.
	Run rollout.RunOptions
}

// IngestStats says what Ingest did.
type IngestStats struct {
	// Run are rollout.Run's counts.
	Run rollout.Stats `json:"run"`
	// Failed lists the requests without a usable answer, in request order;
	// FailedPath is where they were written (empty when none).
	Failed     []FailedLine `json:"failed,omitempty"`
	FailedPath string       `json:"failed_path,omitempty"`
}

// ErrBodyMismatch means a request rendered now differs from the one the
// batch folder holds: the settings or episodes are not Prepare's.
var ErrBodyMismatch = errors.New("batch: the request differs from the prepared one: ingest with prepare's settings and episodes")

// Ingest writes the rollouts of eps to opts.Run.Path from the answers in
// opts.Results: rollout.Run over a backend that answers each request
// with its line's response body, converted by codec as the online path
// converts a server's answer, so a record is byte-identical to the one
// the online path writes for the same answer. An episode with a rollout
// lacking a usable answer is left out (whole groups only), and every such
// request is listed in Dir/FailedName for `prepare --retry-failed`; run
// again with more results files, Ingest adds just the missing episodes.
// rollout.Run's errors come back as they are (*rollout.FailedError when
// episodes lacked answers).
func Ingest(ctx context.Context, newRunner NewRunner, codec Codec, eps []prompt.Episode, opts IngestOptions) (IngestStats, error) {
	var st IngestStats
	prepared, order, err := readPrepared(opts.Dir)
	if err != nil {
		return st, err
	}
	idx, err := indexResults(opts.Results)
	if err != nil {
		return st, err
	}
	defer idx.close()
	ans := &answers{codec: codec, base: opts.Seed, prepared: prepared, idx: idx, refused: map[string]string{}}
	r, err := newRunner(ans)
	if err != nil {
		return st, err
	}
	st.Run, err = rollout.Run(ctx, r, eps, opts.Run)
	st.Failed = ans.failed(order)
	st.FailedPath = filepath.Join(opts.Dir, FailedName)
	if werr := writeFailed(st.FailedPath, st.Failed); werr != nil && err == nil {
		err = werr
	}
	if len(st.Failed) == 0 {
		st.FailedPath = ""
	}
	return st, err
}

// readPrepared reads the request files of dir: each custom_id's body
// hash, and the custom_ids in file order.
func readPrepared(dir string) (map[string][32]byte, []string, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "requests-*.jsonl")) // the pattern is valid
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("batch: no request files in %s (flexrec batch prepare writes them)", dir)
	}
	sums := map[string][32]byte{}
	var order []string
	for _, path := range files {
		err := eachLine(path, func(line []byte, n int, _ int64) error {
			var l Line
			if err := json.Unmarshal(line, &l); err != nil || l.CustomID == "" {
				return fmt.Errorf("batch: %s:%d: not a request line", path, n)
			}
			sums[l.CustomID] = sha256.Sum256(l.Body)
			order = append(order, l.CustomID)
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	return sums, order, nil
}

// eachLine calls fn with every non-empty line of path (newline cut), its
// 1-based number and its byte offset.
func eachLine(path string, fn func(line []byte, n int, off int64) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	var off int64
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		start := off
		off += int64(len(line))
		if trimmed := trimEOL(line); len(trimmed) > 0 {
			if ferr := fn(trimmed, n, start); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("batch: read %s: %w", path, err)
		}
	}
}

func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// where is a results line's place: file, offset and length.
type where struct {
	file     int
	off, len int64
	ok       bool
	problem  string
}

// resultIndex locates every custom_id's best results line without
// holding the answers in memory.
type resultIndex struct {
	files []*os.File
	at    map[string]where
}

func indexResults(paths []string) (*resultIndex, error) {
	idx := &resultIndex{at: map[string]where{}}
	for k, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			idx.close()
			return nil, fmt.Errorf("batch: results: %w", err)
		}
		idx.files = append(idx.files, f)
		err = eachLine(path, func(line []byte, n int, off int64) error {
			var o Output
			if err := json.Unmarshal(line, &o); err != nil || o.CustomID == "" {
				return fmt.Errorf("batch: %s:%d: not a batch output line", path, n)
			}
			w := where{file: k, off: off, len: int64(len(line)), ok: o.ok()}
			if !w.ok {
				w.problem = o.problem()
			}
			if old, seen := idx.at[o.CustomID]; !seen || w.ok || !old.ok {
				idx.at[o.CustomID] = w
			}
			return nil
		})
		if err != nil {
			idx.close()
			return nil, err
		}
	}
	return idx, nil
}

// body reads the response body of id's line; ok is false when there is
// none usable, with the reason.
func (x *resultIndex) body(id string) ([]byte, string, error) {
	w, seen := x.at[id]
	switch {
	case !seen:
		return nil, "missing", nil
	case !w.ok:
		return nil, w.problem, nil
	}
	buf := make([]byte, w.len)
	if _, err := x.files[w.file].ReadAt(buf, w.off); err != nil {
		return nil, "", fmt.Errorf("batch: read %s: %w", x.files[w.file].Name(), err)
	}
	var o Output
	if err := json.Unmarshal(buf, &o); err != nil {
		return nil, "", fmt.Errorf("batch: reread %s: %w", x.files[w.file].Name(), err)
	}
	return o.Response.Body, "", nil
}

func (x *resultIndex) close() {
	for _, f := range x.files {
		f.Close()
	}
}

// answers is the backend Ingest samples through: it answers each request
// from the results, after checking the request is the prepared one.
type answers struct {
	codec    Codec
	base     int64
	prepared map[string][32]byte
	idx      *resultIndex
	mu       sync.Mutex
	// refused holds the requests answered with an unusable body.
	refused map[string]string
}

// NoAnswerError is the error of a request whose batch line is missing,
// failed, or could not be converted; the episode is left for a retry.
type NoAnswerError struct {
	// CustomID names the request; Reason says what is wrong.
	CustomID, Reason string
}

// Error implements error.
func (e *NoAnswerError) Error() string {
	return fmt.Sprintf("batch: no usable answer for %s: %s", e.CustomID, e.Reason)
}

// Sample implements llm.Backend.
func (a *answers) Sample(_ context.Context, req *llm.Request) (*llm.Response, error) {
	id, err := requestID(req, a.base)
	if err != nil {
		return nil, err
	}
	want, ok := a.prepared[id]
	if !ok {
		return nil, fmt.Errorf("batch: request %s was not prepared: ingest with prepare's episodes and settings", id)
	}
	body, err := a.codec.RequestBody(req)
	if err != nil {
		return nil, err
	}
	if sha256.Sum256(body) != want {
		return nil, fmt.Errorf("%w (%s)", ErrBodyMismatch, id)
	}
	ans, reason, err := a.idx.body(id)
	if err != nil || reason != "" {
		if err == nil {
			err = &NoAnswerError{CustomID: id, Reason: reason}
		}
		return nil, err
	}
	resp, err := a.codec.ParseResponse(req, ans)
	if err != nil {
		a.mu.Lock()
		a.refused[id] = err.Error()
		a.mu.Unlock()
		return nil, &NoAnswerError{CustomID: id, Reason: err.Error()}
	}
	return resp, nil
}

// failed lists, in request order, every prepared request without a
// usable answer: missing or failed lines, and answers that were refused.
func (a *answers) failed(order []string) []FailedLine {
	var out []FailedLine
	for _, id := range order {
		if why, bad := a.refused[id]; bad {
			out = append(out, FailedLine{CustomID: id, Reason: why})
			continue
		}
		if w, seen := a.idx.at[id]; !seen {
			out = append(out, FailedLine{CustomID: id, Reason: "missing"})
		} else if !w.ok {
			out = append(out, FailedLine{CustomID: id, Reason: w.problem})
		}
	}
	return out
}

// writeFailed writes the failed list, or removes an old one when none.
func writeFailed(path string, failed []FailedLine) error {
	if len(failed) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("batch: %w", err)
		}
		return nil
	}
	var buf []byte
	for _, f := range failed {
		b, _ := json.Marshal(f) // plain struct: cannot fail
		buf = append(append(buf, b...), '\n')
	}
	return atomicfile.WriteFile(path, buf, 0o644)
}

// ReadFailed reads the custom_ids of a failed list (FailedName), for a
// Prepare of just those requests (PrepareOptions.Only).
func ReadFailed(path string) (map[string]bool, error) {
	only := map[string]bool{}
	err := eachLine(path, func(line []byte, n int, _ int64) error {
		var f FailedLine
		if err := json.Unmarshal(line, &f); err != nil || f.CustomID == "" {
			return fmt.Errorf("batch: %s:%d: not a failed line", path, n)
		}
		only[f.CustomID] = true
		return nil
	})
	return only, err
}

// ResultFiles lists the output and error files Collect downloaded into
// dir and into its retry folders (dir/retry-N), for Ingest.
func ResultFiles(dir string) []string {
	var out []string
	for _, pat := range []string{"output-*.jsonl", "errors-*.jsonl", "retry-*/output-*.jsonl", "retry-*/errors-*.jsonl"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat)) // the patterns are valid
		out = append(out, m...)
	}
	slices.Sort(out)
	return out
}
