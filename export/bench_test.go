package export

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// cycle is pre-encoded realistic rollouts that generated inputs repeat.
type cycle struct {
	data    []byte
	records int
	group   int
}

var (
	cycleOnce sync.Once
	benchData cycle
)

// realisticCycle returns 64 episodes of 8 realistic rollouts (512 records,
// about 24 KB each). Repeating it keeps groups contiguous: its last and
// first episodes differ.
func realisticCycle(tb testing.TB) cycle {
	cycleOnce.Do(func() {
		cfg := realisticGen()
		benchData = cycle{data: genLines(tb, cfg, 64), records: 64 * cfg.group, group: cfg.group}
	})
	return benchData
}

// repeatInput streams whole cycles, then whole groups of one more cycle,
// until at least n records; it returns the reader and the record count.
func repeatInput(c cycle, n int) (io.Reader, int) {
	groups := (n + c.group - 1) / c.group
	total := groups * c.group
	pr, pw := io.Pipe()
	go func() {
		left := total
		for left > 0 {
			chunk := c.data
			if left < c.records {
				chunk = cutRecords(c.data, left)
			}
			if _, err := pw.Write(chunk); err != nil {
				return
			}
			left -= min(left, c.records)
		}
		pw.Close()
	}()
	return pr, total
}

// cutRecords returns the first n lines of data.
func cutRecords(data []byte, n int) []byte {
	for i, b := range data {
		if b == '\n' {
			if n--; n == 0 {
				return data[:i+1]
			}
		}
	}
	return data
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru) // cannot fail for RUSAGE_SELF
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkExportNative exports b.N realistic rollouts (30 candidates,
// about 170 tokens, 24 KB of JSON each; one op is one rollout): the JSONL
// alone (with the default SHA-256 of the input, and with CRC-32C) and JSONL
// with Parquet, with the outputs discarded so that the
// figure is the export's own cost, and the JSONL to files in a temporary
// folder, where the disk may be the limit. rollouts/s is wall-clock;
// rollouts/cpu-s divides by the process's CPU time instead, which is what
// one core does when the machine is shared (run with -cpu 1 for one core;
// with more, the input is hashed on a second one).
func BenchmarkExportNative(b *testing.B) {
	c := realisticCycle(b)
	jsonl := DefaultConfig()
	jsonl.Parquet = false
	discarding := func(string) (sink, error) { return discard{}, nil }
	b.Run("jsonl", func(b *testing.B) { benchExport(b, c, jsonl, discarding) })
	crc := jsonl
	crc.InputHash = CRC32C
	b.Run("jsonl-crc32c", func(b *testing.B) { benchExport(b, c, crc, discarding) })
	b.Run("jsonl+parquet", func(b *testing.B) { benchExport(b, c, DefaultConfig(), discarding) })
	b.Run("jsonl-to-disk", func(b *testing.B) { benchExport(b, c, jsonl, atomicCreate) })
}

func benchExport(b *testing.B, c cycle, cfg Config, create createFunc) {
	b.SetBytes(int64(len(c.data) / c.records))
	b.ReportAllocs()
	dir := b.TempDir()
	in, n := repeatInput(c, b.N)
	b.ResetTimer()
	c0 := cpuTime()
	_, err := export(context.Background(), cfg, []Input{{Name: "bench", R: in}}, dir, nil, create)
	cpu := cpuTime() - c0
	b.StopTimer()
	require.NoError(b, err)
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rollouts/s")
	b.ReportMetric(float64(n)/cpu.Seconds(), "rollouts/cpu-s")
}

// discard is a sink that keeps nothing, for memory measurements whose
// outputs would not fit on disk.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) Commit() error               { return nil }
func (discard) Abort()                      {}

// memPeaks are the peaks of an export's heap above the baseline before
// it: HeapInuse sampled every 5 ms (what the heap holds, garbage not yet
// collected included) and HeapAlloc right after a forced GC every 200 ms
// (what the export keeps reachable).
type memPeaks struct{ inuse, live uint64 }

// peakHeap exports n generated rollouts into discarding sinks, sampling
// the heap, and returns the peaks above the baseline, the number of
// rollouts and the wall time.
func peakHeap(tb testing.TB, cfg Config, n int) (memPeaks, int, time.Duration) {
	c := realisticCycle(tb) // generated before the baseline
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := memPeaks{inuse: ms.HeapInuse, live: ms.HeapAlloc}
	var peak memPeaks
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for i := 1; ; i++ {
			if i%40 == 0 {
				runtime.GC()
				runtime.ReadMemStats(&ms)
				peak.live = max(peak.live, ms.HeapAlloc)
			} else {
				runtime.ReadMemStats(&ms)
			}
			peak.inuse = max(peak.inuse, ms.HeapInuse)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	in, total := repeatInput(c, n)
	start := time.Now()
	create := func(string) (sink, error) { return discard{}, nil }
	_, err := export(context.Background(), cfg, []Input{{Name: "gen", R: in}}, tb.TempDir(), nil, create)
	elapsed := time.Since(start)
	close(stop)
	<-done
	require.NoError(tb, err)
	return memPeaks{inuse: peak.inuse - min(peak.inuse, base.inuse), live: peak.live - min(peak.live, base.live)}, total, elapsed
}

// BenchmarkExportMemory reports the peak heap of exports of growing size:
// flat means independent of the count. Run it with -benchtime=1x (each
// iteration is a whole export). Sizes past 100k run only with
// FLEXREC_BENCH_LARGE=1 (1M realistic rollouts are 24 GB of JSON; with
// Parquet, a full decode per record takes minutes on two cores: pick
// sizes with -bench, e.g. 'ExportMemory/jsonl\+parquet/(10|100|300)000$').
// The Parquet sizes span several 100,000-row shards (the default
// Config.ParquetShardRows).
func BenchmarkExportMemory(b *testing.B) {
	sizes := []int{10_000, 100_000}
	if os.Getenv("FLEXREC_BENCH_LARGE") == "1" {
		sizes = append(sizes, 300_000, 1_000_000)
	}
	for _, f := range []struct {
		name string
		cfg  func() Config
	}{
		{"jsonl", func() Config { c := DefaultConfig(); c.Parquet = false; return c }},
		{"jsonl+parquet", func() Config { return DefaultConfig() }},
		{"verl", func() Config { return withFormat(Verl) }},
		{"trl-preference", func() Config { return withFormat(TRLPreference) }},
	} {
		for _, n := range sizes {
			if n > 100_000 && f.name == "trl-preference" {
				continue // a full decode per pair: minutes, and nothing past what jsonl+parquet shows
			}
			b.Run(fmt.Sprintf("%s/%d", f.name, n), func(b *testing.B) {
				var peak memPeaks
				var total int
				var elapsed time.Duration
				for b.Loop() {
					peak, total, elapsed = peakHeap(b, f.cfg(), n)
				}
				b.ReportMetric(float64(peak.inuse)/(1<<20), "heap-inuse-MiB")
				b.ReportMetric(float64(peak.live)/(1<<20), "heap-retained-MiB")
				b.ReportMetric(float64(total)/elapsed.Seconds(), "rollouts/s")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}
