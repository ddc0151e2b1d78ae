package mf

import (
	"bufio"
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const mlRatings = "../../shared/data/ml-latest-small/ratings.csv"

// loadML reads ml-latest-small's ratings, skipping the test when absent.
func loadML(tb testing.TB) []Rating {
	f, err := os.Open(mlRatings)
	if err != nil {
		tb.Skipf("ml-latest-small not available: %v", err)
	}
	defer f.Close()
	var out []Rating
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if line == 1 {
			continue
		}
		fs := strings.Split(sc.Text(), ",")
		require.Len(tb, fs, 4, "%s:%d", mlRatings, line)
		v, err := strconv.ParseFloat(fs[2], 64)
		require.NoError(tb, err, "%s:%d", mlRatings, line)
		out = append(out, Rating{User: fs[0], Item: fs[1], Value: v})
	}
	require.NoError(tb, sc.Err())
	return out
}

// BenchmarkTrainALSMovieLens trains on 90% of ml-latest-small and reports
// the held-out RMSE next to the global mean's.
func BenchmarkTrainALSMovieLens(b *testing.B) {
	data := loadML(b)
	rng := rand.New(rand.NewPCG(1, 1))
	var train, test []Rating
	for _, r := range data {
		if rng.Float64() < 0.1 {
			test = append(test, r)
		} else {
			train = append(train, r)
		}
	}
	cfg := DefaultConfig()
	if s := os.Getenv("MF_BENCH_REG"); s != "" {
		cfg.Reg, _ = strconv.ParseFloat(s, 64)
	}
	if s := os.Getenv("MF_BENCH_FACTORS"); s != "" {
		cfg.Factors, _ = strconv.Atoi(s)
	}
	b.ReportAllocs()
	var m *Model
	for b.Loop() {
		var err error
		m, err = Train(context.Background(), train, cfg)
		require.NoError(b, err)
	}
	b.ReportMetric(rmse(m, test), "rmse")
	b.ReportMetric(rmse(&Model{mean: m.mean}, test), "rmse_mean")
}
