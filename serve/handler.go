package serve

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/flexrec/flexrec/rl"
)

// Handler is the reward service's http.Handler. It is safe for concurrent
// use.
type Handler struct {
	cfg     Config
	token   [sha256.Size]byte
	mux     *http.ServeMux
	metrics *metrics
	pool    sync.Pool
	now     func() time.Time // seam for tests
}

// New returns a Handler for cfg, or cfg's validation error.
func New(cfg Config) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), metrics: newMetrics(), now: time.Now}
	h.token = sha256.Sum256([]byte(cfg.Token))
	h.pool.New = func() any { return newWorker() }
	h.mux.HandleFunc("POST /v1/score", h.timed(pathScore, h.serveScore))
	h.mux.HandleFunc("POST /get_reward", h.timed(pathReward, h.serveReward))
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`+"\n") // a failed write means the client left
	})
	h.mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		h.metrics.write(w)
	})
	return h, nil
}

// ServeHTTP checks the bearer token (all paths but /healthz) and routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Token != "" && r.URL.Path != "/healthz" && !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="flexrec"`)
		writeError(w, http.StatusUnauthorized, errors.New("serve: missing or wrong bearer token"))
		return
	}
	h.mux.ServeHTTP(w, r)
}

// authorized compares the request's bearer token with the configured one
// in constant time (over SHA-256 digests, so the length does not leak).
func (h *Handler) authorized(r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(got[:], h.token[:]) == 1
}

// timed wraps a scoring endpoint: body limit, timeout, metrics, and the
// mapping of errors to status codes.
func (h *Handler) timed(path string, serve func(ctx context.Context, body []byte) (any, int, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := h.now()
		ctx, cancel := context.WithTimeout(r.Context(), h.cfg.Timeout)
		defer cancel()
		code, items := h.handle(ctx, w, r, serve)
		h.metrics.request(path, code, items, h.now().Sub(start))
	}
}

func (h *Handler) handle(ctx context.Context, w http.ResponseWriter, r *http.Request, serve func(context.Context, []byte) (any, int, error)) (code, items int) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			err = badBody("body", fmt.Errorf("larger than the limit of %d bytes (--max-body)", h.cfg.MaxBody))
		} else {
			err = badBody("body", fmt.Errorf("read: %w", err))
		}
		return writeError(w, http.StatusBadRequest, err), 0
	}
	out, items, err := serve(ctx, body)
	switch {
	case err == nil:
	case errors.Is(err, ErrBadInput):
		return writeError(w, http.StatusBadRequest, err), items
	case errors.Is(err, context.DeadlineExceeded):
		return writeError(w, http.StatusServiceUnavailable, fmt.Errorf("serve: request not scored within %v", h.cfg.Timeout)), items
	default:
		return writeError(w, http.StatusServiceUnavailable, fmt.Errorf("serve: %w", err)), items
	}
	raw, ok := out.([]byte)
	if !ok {
		if raw, err = json.Marshal(out); err != nil {
			return writeError(w, http.StatusInternalServerError, fmt.Errorf("serve: encode the answer: %w", err)), items
		}
		raw = append(raw, '\n')
	}
	w.Header().Set("Content-Type", "application/json")
	if _, err := w.Write(raw); err != nil {
		return 599, items // the client went away mid-answer; nothing to tell it
	}
	return http.StatusOK, items
}

// writeError answers {"error": message} with code and returns code.
func writeError(w http.ResponseWriter, code int, err error) int {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(errorBody{Error: err.Error()}) // a failed write means the client left
	return code
}

// job is one item to score, whatever endpoint it came from.
type job struct {
	list         string // "items" or "query", for errors
	text, finish string
	gt           GroundTruth
	cfg          rl.Config
	offsets      [][2]int
}

// scoreAll scores jobs on up to cfg.Workers goroutines, in contiguous
// chunks, checking ctx between items. The error of the lowest failing
// index wins, so errors do not depend on scheduling.
func (h *Handler) scoreAll(ctx context.Context, jobs []job) ([]*scored, error) {
	out := make([]*scored, len(jobs))
	nw := min(h.cfg.Workers, (len(jobs)+minChunk-1)/minChunk)
	if nw <= 1 {
		return out, h.scoreRange(ctx, jobs, out, 0, len(jobs))
	}
	errs := make([]error, nw)
	var wg sync.WaitGroup
	for c := range nw {
		lo, hi := c*len(jobs)/nw, (c+1)*len(jobs)/nw
		wg.Go(func() { errs[c] = h.scoreRange(ctx, jobs, out, lo, hi) })
	}
	wg.Wait()
	return out, firstError(errs)
}

// minChunk is the fewest items a scoring goroutine is started for.
const minChunk = 32

func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (h *Handler) scoreRange(ctx context.Context, jobs []job, out []*scored, lo, hi int) error {
	w := h.pool.Get().(*worker)
	defer h.pool.Put(w)
	for i := lo; i < hi; i++ {
		if i%16 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		j := &jobs[i]
		s, err := w.score(j.list, i, j.text, j.finish, &j.gt, j.cfg, j.offsets)
		if err != nil {
			return err
		}
		out[i] = s
	}
	return nil
}
