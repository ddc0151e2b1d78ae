package batch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/flexrec/flexrec/internal/atomicfile"
	"github.com/flexrec/flexrec/llm"
	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rollout"
)

// NewRunner builds the rollout runner of a job over a backend Prepare or
// Ingest gives it; the caller's settings (rollout.Config, critic, backend
// name) make it the same runner the online path uses.
type NewRunner func(llm.Backend) (*rollout.Runner, error)

// PrepareOptions controls Prepare.
type PrepareOptions struct {
	// Dir is the batch folder; it is created when missing. Prepare refuses
	// a folder that already holds request files.
	Dir string
	// Seed is the rollouts' base seed (rollout.Config.Seed), which ties a
	// request's seed to its rollout index.
	Seed int64
	// Only, when not nil, keeps just the requests whose CustomID it holds
	// (a retry of failed lines).
	Only map[string]bool
	// MaxRequests and MaxBytes split the files; 0 means MaxRequestsPerFile
	// and MaxBytesPerFile.
	MaxRequests, MaxBytes int
	// DryRun writes nothing: Prepare only counts and estimates.
	DryRun bool
	// Prices price the estimate; zero is free.
	Prices llm.Prices
}

// PrepareStats says what Prepare wrote.
type PrepareStats struct {
	// Files are the request files written, in order.
	Files []string `json:"files,omitempty"`
	// Estimate counts the requests and estimates their tokens and cost.
	Estimate
}

// ErrNotEmpty is returned by Prepare for a folder that already holds
// request files.
var ErrNotEmpty = errors.New("batch: the folder already holds request files: use a new folder (or --retry-failed)")

// Prepare renders every rollout request of eps through the runner
// newRunner builds (the online path's render → sample → parse → score
// path, over a backend that records each request instead of sending it)
// and writes them, episode by episode and rollout by rollout, as OpenAI
// batch request files opts.Dir/requests-NNNNN.jsonl, split at the
// limits. codec gives the bodies; nil only in a dry run, which estimates
// from the messages alone.
func Prepare(ctx context.Context, newRunner NewRunner, codec Codec, eps []prompt.Episode, opts PrepareOptions) (PrepareStats, error) {
	var st PrepareStats
	if codec == nil && !opts.DryRun {
		return st, fmt.Errorf("batch: prepare needs a codec (the openai backend)")
	}
	capt := &capture{codec: codec, base: opts.Seed, bodies: map[string][]byte{}}
	r, err := newRunner(capt)
	if err != nil {
		return st, err
	}
	w := &splitWriter{dir: opts.Dir, maxN: opts.MaxRequests, maxBytes: opts.MaxBytes, dry: opts.DryRun}
	if err := w.start(); err != nil {
		return st, err
	}
	defer w.abort()
	for k := range eps {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if err := prepareEpisode(ctx, r, capt, &eps[k], opts, w, &st.Estimate); err != nil {
			return st, err
		}
	}
	st.Files, err = w.finish()
	st.price(opts.Prices)
	return st, err
}

// prepareEpisode renders one episode's requests and writes those kept.
func prepareEpisode(ctx context.Context, r *rollout.Runner, capt *capture, ep *prompt.Episode, opts PrepareOptions, w *splitWriter, est *Estimate) error {
	if _, err := r.Episode(ctx, ep); err != nil {
		return err
	}
	for i := range capt.n {
		id := CustomID(ep.ID, i)
		if opts.Only != nil && !opts.Only[id] {
			continue
		}
		e := capt.est[id]
		est.add(e)
		if err := w.write(id, capt.bodies[id]); err != nil {
			return err
		}
	}
	capt.reset()
	return nil
}

// capture is the backend Prepare samples through: it records each
// request's body and estimate and answers with an empty completion.
type capture struct {
	codec Codec
	base  int64
	mu    sync.Mutex
	// n is the most rollouts of one episode seen (G).
	n      int
	bodies map[string][]byte
	est    map[string]Estimate
}

// Sample implements llm.Backend.
func (c *capture) Sample(_ context.Context, req *llm.Request) (*llm.Response, error) {
	id, err := requestID(req, c.base)
	if err != nil {
		return nil, err
	}
	var body []byte
	if c.codec != nil {
		if body, err = c.codec.RequestBody(req); err != nil {
			return nil, err
		}
	}
	e := estimateRequest(req)
	_, i, _ := ParseCustomID(id) // built by CustomID: cannot fail
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bodies[id] = body
	if c.est == nil {
		c.est = map[string]Estimate{}
	}
	c.est[id] = e
	c.n = max(c.n, i+1)
	return &llm.Response{Model: req.Model, Samples: []llm.Sample{{FinishReason: "stop"}}}, nil
}

func (c *capture) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.bodies)
	clear(c.est)
}

// splitWriter writes request lines into numbered files, starting a new
// file before one would pass a limit.
type splitWriter struct {
	dir            string
	maxN, maxBytes int
	dry            bool
	cur            *atomicfile.File
	n, bytes       int
	files          []string
}

func (w *splitWriter) start() error {
	w.maxN = cmpOr(w.maxN, MaxRequestsPerFile)
	w.maxBytes = cmpOr(w.maxBytes, MaxBytesPerFile)
	if w.dry {
		return nil
	}
	if old, _ := filepath.Glob(filepath.Join(w.dir, "requests-*.jsonl")); len(old) > 0 {
		return fmt.Errorf("%w: %s", ErrNotEmpty, w.dir)
	}
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	return nil
}

func cmpOr(v, d int) int {
	if v > 0 {
		return v
	}
	return d
}

// write appends one request line.
func (w *splitWriter) write(id string, body []byte) error {
	line, err := encodeLine(id, body)
	if err != nil {
		return err
	}
	if w.dry {
		return nil
	}
	if len(line) > w.maxBytes {
		return fmt.Errorf("batch: request %s is %d bytes, over the file limit %d", id, len(line), w.maxBytes)
	}
	if w.cur != nil && (w.n+1 > w.maxN || w.bytes+len(line) > w.maxBytes) {
		if err := w.commit(); err != nil {
			return err
		}
	}
	if w.cur == nil {
		path := filepath.Join(w.dir, fmt.Sprintf("requests-%05d.jsonl", len(w.files)))
		if w.cur, err = atomicfile.Create(path, 0o644); err != nil {
			return fmt.Errorf("batch: %w", err)
		}
		w.files = append(w.files, path)
	}
	if _, err := w.cur.Write(line); err != nil {
		return fmt.Errorf("batch: write %s: %w", w.files[len(w.files)-1], err)
	}
	w.n++
	w.bytes += len(line)
	return nil
}

// encodeLine writes a request line by hand, so the body stays byte for
// byte what the codec gave (encoding/json would re-encode a RawMessage).
func encodeLine(id string, body []byte) ([]byte, error) {
	if len(body) == 0 {
		body = []byte("{}") // a dry run without a codec
	}
	idJSON, err := json.Marshal(id)
	if err != nil {
		return nil, fmt.Errorf("batch: encode custom_id %q: %w", id, err)
	}
	line := make([]byte, 0, len(body)+len(idJSON)+80)
	line = append(line, `{"custom_id":`...)
	line = append(line, idJSON...)
	line = append(line, `,"method":"POST","url":"`+ChatCompletionsURL+`","body":`...)
	line = append(line, body...)
	return append(line, "}\n"...), nil
}

func (w *splitWriter) commit() error {
	err := w.cur.Commit()
	w.cur, w.n, w.bytes = nil, 0, 0
	if err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	return nil
}

func (w *splitWriter) finish() ([]string, error) {
	if w.cur != nil {
		if err := w.commit(); err != nil {
			return nil, err
		}
	}
	files := w.files
	w.files = nil
	return files, nil
}

// abort drops the file being written and, when finish was not reached,
// the files already written, so a failed Prepare leaves no partial set.
func (w *splitWriter) abort() {
	if w.cur != nil {
		w.cur.Abort()
		for _, f := range w.files[:len(w.files)-1] {
			os.Remove(f)
		}
	}
}
