package export

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"sync"

	"github.com/flexrec/flexrec/export/internal/jsonl"
	"github.com/flexrec/flexrec/rollout"
)

// group is the contiguous records of one episode, as read: the raw lines
// in one reused buffer, their headers, and full decodes on demand (most
// formats decode only the records they write).
type group struct {
	input   string
	id      []byte
	buf     []byte   // the lines, each followed by '\n'
	lines   [][2]int // [start, end) of each line in buf, without its '\n'
	lineNos []int
	heads   []head
	recs    []*rollout.Record
	seen    []bool // scratch for complete
}

func (g *group) size() int { return len(g.lines) }

func (g *group) line(i int) []byte { return g.buf[g.lines[i][0]:g.lines[i][1]] }

// raw returns the group's lines as read, each ending in '\n'.
func (g *group) raw() []byte { return g.buf[:g.lines[len(g.lines)-1][1]+1] }

func (g *group) lineErr(i int, err error) error {
	return &LineError{Name: g.input, Line: g.lineNos[i], Err: err}
}

// complete reports whether the group holds exactly rollouts 0..G-1 of a
// group of size G, each once.
func (g *group) complete() bool {
	n := g.heads[0].group
	if n != g.size() {
		return false
	}
	g.seen = slices.Grow(g.seen[:0], n)[:n]
	clear(g.seen)
	for _, h := range g.heads {
		if h.group != n || h.rollout < 0 || h.rollout >= n || g.seen[h.rollout] {
			return false
		}
		g.seen[h.rollout] = true
	}
	return true
}

// record returns record i, decoding and checking it on first use.
func (g *group) record(i int) (*rollout.Record, error) {
	if g.recs[i] != nil {
		return g.recs[i], nil
	}
	r := new(rollout.Record)
	if err := json.Unmarshal(g.line(i), r); err != nil {
		return nil, g.lineErr(i, fmt.Errorf("%w: %v", ErrMalformed, err))
	}
	if err := checkRecord(r); err != nil {
		return nil, g.lineErr(i, err)
	}
	g.recs[i] = r
	return r, nil
}

// decode decodes the records idx (each once), up to GOMAXPROCS at a
// time: a full JSON decode is the one costly step of an export, and the
// records of a group are independent. On failure it returns the error of
// the lowest index, so that errors do not depend on scheduling.
func (g *group) decode(idx []int) error {
	errs := make([]error, len(idx))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for j, i := range idx {
		if g.recs[i] != nil {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			_, errs[j] = g.record(i) // distinct i: no two goroutines touch one slot
		})
	}
	wg.Wait()
	return firstError(errs)
}

func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// all returns the indices 0..size-1.
func (g *group) all() []int {
	idx := make([]int, g.size())
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// first returns the index of the group's lowest rollout.
func (g *group) first() int {
	best := 0
	for i, h := range g.heads {
		if h.rollout < g.heads[best].rollout {
			best = i
		}
	}
	return best
}

// checkRecord reports (wrapping ErrRecord) a record whose candidate
// mappings are inconsistent, and fills Ranking from the parse report's
// short ids when the record has none.
func checkRecord(r *rollout.Record) error {
	n := len(r.Order)
	switch {
	case n == 0:
		return fmt.Errorf("%w: no order", ErrRecord)
	case !isPermutation(r.Order, n):
		return fmt.Errorf("%w: order is not a permutation of 0..%d", ErrRecord, n-1)
	case len(r.Gains) != n:
		return fmt.Errorf("%w: %d candidate gains for %d candidates", ErrRecord, len(r.Gains), n)
	case len(r.Variances) != 0 && len(r.Variances) != n:
		return fmt.Errorf("%w: %d candidate variances for %d candidates", ErrRecord, len(r.Variances), n)
	case len(r.Messages) == 0:
		return fmt.Errorf("%w: no messages", ErrRecord)
	}
	if len(r.Ranking) == 0 {
		r.Ranking = rankingFromReport(r)
	}
	if !isPermutation(r.Ranking, n) {
		return fmt.Errorf("%w: ranking is not a permutation of 0..%d", ErrRecord, n-1)
	}
	if g := r.Parse.NGenerated; g < 0 || g > n {
		return fmt.Errorf("%w: parse.n_generated %d out of [0, %d]", ErrRecord, g, n)
	}
	return nil
}

// rankingFromReport maps the parse report's permutation (short ids
// "1".."N") to candidate indices; nil when it is not one.
func rankingFromReport(r *rollout.Record) []int {
	if len(r.Parse.Permutation) != len(r.Order) {
		return nil
	}
	rk := make([]int, len(r.Order))
	for p, id := range r.Parse.Permutation {
		k, err := strconv.Atoi(id)
		if err != nil || k < 1 || k > len(r.Order) {
			return nil
		}
		rk[p] = r.Order[k-1]
	}
	return rk
}

func isPermutation(p []int, n int) bool {
	if len(p) != n {
		return false
	}
	seen := make([]bool, n)
	for _, v := range p {
		if v < 0 || v >= n || seen[v] {
			return false
		}
		seen[v] = true
	}
	return true
}

// maxGroup bounds the records of one group, and so the memory of an
// export: a longer run of one episode id is not a rollouts file.
const maxGroup = 4096

// grouper cuts a source into groups. It holds the first line of the next
// group at the end of the current group's buffer until the next call.
type grouper struct {
	src     *jsonl.Reader
	skip    bool // Config.SkipInvalid
	st      *stats
	log     *slog.Logger
	pend    [2]int // the pending line's span in the group buffer
	pendNo  int
	pendH   head
	pendID  []byte
	hasPend bool
}

// next fills g with the next group; false at the end of the input.
func (r *grouper) next(ctx context.Context, g *group) (bool, error) {
	r.reset(g)
	for {
		start := len(g.buf)
		buf, ok, err := r.src.ReadLine(ctx, g.buf)
		g.buf = buf
		if err != nil && ctx.Err() == nil {
			err = fmt.Errorf("export: %w", err)
		}
		if err != nil || !ok {
			return g.size() > 0, err
		}
		end := len(g.buf)
		line := g.buf[start:end]
		if len(bytes.TrimSpace(line)) == 0 {
			g.buf = g.buf[:start]
			continue
		}
		g.buf = append(g.buf, '\n')
		r.st.lines++
		var h head
		if err := r.check(line, &h); err != nil {
			if !r.skip {
				return false, err
			}
			g.buf = g.buf[:start]
			continue
		}
		r.st.records++
		if g.size() > 0 && !bytes.Equal(h.episodeID, g.id) {
			r.pend, r.pendNo, r.pendH, r.hasPend = [2]int{start, end}, r.src.Line(), h, true
			r.pendID = append(r.pendID[:0], h.episodeID...)
			r.pendH.episodeID = nil
			g.buf = g.buf[:start]
			return true, nil
		}
		if g.size() == 0 {
			g.id = append(g.id[:0], h.episodeID...)
		}
		if g.size() == maxGroup {
			return false, &LineError{Name: r.src.Name(), Line: r.src.Line(),
				Err: fmt.Errorf("%w: episode %q has more than %d contiguous records", ErrMalformed, g.id, maxGroup)}
		}
		h.episodeID = nil // it aliases buf, which may move
		g.add([2]int{start, end}, r.src.Line(), h)
	}
}

// check reads the line's header and its schema version; with SkipInvalid
// a bad line is counted and logged.
func (r *grouper) check(line []byte, h *head) error {
	err := scanHead(line, h)
	reason := skipMalformed
	if err == nil && h.schema != rollout.SchemaVersion {
		err = fmt.Errorf("%w: schema_version %d, this flexrec reads %d", ErrSchema, h.schema, rollout.SchemaVersion)
		reason = skipSchema
	}
	if err == nil {
		return nil
	}
	err = &LineError{Name: r.src.Name(), Line: r.src.Line(), Err: err}
	if r.skip {
		r.st.skip(reason, 1)
		r.log.Warn("skipped line", "err", err)
	}
	return err
}

// reset empties g, keeping its buffers, and moves the pending line (if
// any) to the front.
func (r *grouper) reset(g *group) {
	g.input = r.src.Name()
	g.lines, g.lineNos, g.heads = g.lines[:0], g.lineNos[:0], g.heads[:0]
	clear(g.recs)
	g.recs = g.recs[:0]
	if !r.hasPend {
		g.buf = g.buf[:0]
		return
	}
	// The pending line lay past the end of the last group's buffer, which
	// was cut back: it is still in the array, and copy handles overlap.
	n := copy(g.buf[:cap(g.buf)], g.buf[r.pend[0]:r.pend[1]+1]) // with its '\n'
	g.buf = g.buf[:n]
	g.id = append(g.id[:0], r.pendID...)
	g.add([2]int{0, n - 1}, r.pendNo, r.pendH)
	r.hasPend = false
}

func (g *group) add(sp [2]int, lineNo int, h head) {
	g.lines = append(g.lines, sp)
	g.lineNos = append(g.lineNos, lineNo)
	g.heads = append(g.heads, h)
	g.recs = append(g.recs, nil)
}
