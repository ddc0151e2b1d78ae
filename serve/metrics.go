package serve

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Endpoint labels of the metrics.
const (
	pathScore  = "/v1/score"
	pathReward = "/get_reward"
)

// latencyBuckets are the upper bounds, in seconds, of the request latency
// histogram.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// metrics holds the service's counters, written in the Prometheus text
// exposition format (version 0.0.4) by write. Safe for concurrent use.
type metrics struct {
	mu       sync.Mutex
	requests map[[2]string]int64 // (path, code) → count
	items    map[string]int64    // path → items received
	failures int64               // items where the model wrote no valid id
	repairs  int64               // items where the parser appended ids
	hist     map[string]*histogram
}

type histogram struct {
	counts []int64 // per bucket, not cumulative
	sum    float64
	n      int64
}

func newMetrics() *metrics {
	m := &metrics{requests: map[[2]string]int64{}, items: map[string]int64{}, hist: map[string]*histogram{}}
	for _, p := range []string{pathScore, pathReward} {
		m.items[p] = 0
		m.hist[p] = &histogram{counts: make([]int64, len(latencyBuckets)+1)}
	}
	return m
}

// request counts one finished request.
func (m *metrics) request(path string, code, items int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[[2]string{path, strconv.Itoa(code)}]++
	m.items[path] += int64(items)
	h := m.hist[path]
	s := d.Seconds()
	b, _ := slices.BinarySearch(latencyBuckets, s)
	h.counts[b]++
	h.sum += s
	h.n++
}

// scored counts parse failures and repairs among scored items.
func (m *metrics) scored(res []*scored) {
	var fail, rep int64
	for _, s := range res {
		if s.res.NGenerated == 0 {
			fail++
		}
		if s.res.NGenerated < len(s.res.Order) {
			rep++
		}
	}
	m.mu.Lock()
	m.failures += fail
	m.repairs += rep
	m.mu.Unlock()
}

// write prints every metric in the Prometheus text format.
func (m *metrics) write(w io.Writer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintln(w, "# HELP flexrec_serve_requests_total Scoring requests answered, by endpoint and HTTP status.")
	fmt.Fprintln(w, "# TYPE flexrec_serve_requests_total counter")
	keys := make([][2]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int {
		return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]))
	})
	for _, k := range keys {
		fmt.Fprintf(w, "flexrec_serve_requests_total{path=%q,code=%q} %d\n", k[0], k[1], m.requests[k])
	}
	fmt.Fprintln(w, "# HELP flexrec_serve_items_total Completions received for scoring, by endpoint.")
	fmt.Fprintln(w, "# TYPE flexrec_serve_items_total counter")
	for _, p := range []string{pathScore, pathReward} {
		fmt.Fprintf(w, "flexrec_serve_items_total{path=%q} %d\n", p, m.items[p])
	}
	fmt.Fprintln(w, "# HELP flexrec_serve_parse_failures_total Scored completions in which no candidate id was found.")
	fmt.Fprintln(w, "# TYPE flexrec_serve_parse_failures_total counter")
	fmt.Fprintf(w, "flexrec_serve_parse_failures_total %d\n", m.failures)
	fmt.Fprintln(w, "# HELP flexrec_serve_repairs_total Scored completions whose ranking the parser completed (ids missing).")
	fmt.Fprintln(w, "# TYPE flexrec_serve_repairs_total counter")
	fmt.Fprintf(w, "flexrec_serve_repairs_total %d\n", m.repairs)
	fmt.Fprintln(w, "# HELP flexrec_serve_request_duration_seconds Time to answer a scoring request.")
	fmt.Fprintln(w, "# TYPE flexrec_serve_request_duration_seconds histogram")
	for _, p := range []string{pathScore, pathReward} {
		h := m.hist[p]
		var cum int64
		for b, le := range latencyBuckets {
			cum += h.counts[b]
			fmt.Fprintf(w, "flexrec_serve_request_duration_seconds_bucket{path=%q,le=%q} %d\n", p, strconv.FormatFloat(le, 'g', -1, 64), cum)
		}
		fmt.Fprintf(w, "flexrec_serve_request_duration_seconds_bucket{path=%q,le=\"+Inf\"} %d\n", p, h.n)
		fmt.Fprintf(w, "flexrec_serve_request_duration_seconds_sum{path=%q} %s\n", p, strconv.FormatFloat(h.sum, 'g', -1, 64))
		fmt.Fprintf(w, "flexrec_serve_request_duration_seconds_count{path=%q} %d\n", p, h.n)
	}
}
