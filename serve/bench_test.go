package serve

import (
	"encoding/json"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"
)

// BenchmarkScore256 measures scored completions per second through the
// handler (decode, parse, repair, reward, encode) on one goroutine: batches
// of 256 answers of 30 items after about 200 words of reasoning. With
// FLEXREC_BENCH_DUMP=FILE it writes the batch's items as JSON for the
// Python comparison (python/benchmarks/readme_ndcg.py).
func BenchmarkScore256(b *testing.B) {
	b.Run("all-fields", func(b *testing.B) { benchScore(b, nil) })
	// What the Python client asks for.
	b.Run("list-reward", func(b *testing.B) { benchScore(b, []string{"list_reward"}) })
}

func benchScore(b *testing.B, fields []string) {
	items := benchItems(1, 256, 30)
	req := map[string]any{"items": items}
	if fields != nil {
		req["fields"] = fields
	}
	body := mustJSON(b, req)
	if path := os.Getenv("FLEXREC_BENCH_DUMP"); path != "" {
		if err := os.WriteFile(path, body, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	h := newTestHandler(b, nil)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cpuTime()
	for b.Loop() {
		code, out := post(b, h, "/v1/score", body)
		if code != http.StatusOK {
			b.Fatalf("status %d: %s", code, out)
		}
	}
	cpu := cpuTime() - c0
	b.ReportMetric(float64(b.N*len(items))/b.Elapsed().Seconds(), "completions/s")
	// On a shared machine wall time counts other work too; the process's
	// CPU time (GC included) is this work's own cost.
	b.ReportMetric(float64(b.N*len(items))/cpu.Seconds(), "completions/cpu-s")
}

// cpuTime returns the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru) // cannot fail for RUSAGE_SELF
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkScoreOnly is BenchmarkScore256 without HTTP and JSON: the
// parse and reward of one completion.
func BenchmarkScoreOnly(b *testing.B) {
	items := benchItems(1, 256, 30)
	w := newWorker()
	cfg := DefaultConfig().RL
	gts := make([]GroundTruth, len(items))
	for i, it := range items {
		raw, _ := json.Marshal(it["ground_truth"])
		if err := decodeGroundTruth(raw, &gts[i], "items", i, "ground_truth"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k := i % len(items)
		if _, err := w.score("items", k, items[k]["completion"].(string), "", &gts[k], cfg, nil); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "completions/s")
}
