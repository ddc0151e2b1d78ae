package critic

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/flexrec/flexrec/mf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// synthetic draws a rank-2 rating matrix with user and item biases and
// noise 0.3, observed at 30%, split 80/20.
func synthetic(seed uint64) (train, test []mf.Rating) {
	rng := rand.New(rand.NewPCG(seed, 5))
	const users, items = 80, 60
	uv, iv := make([][3]float64, users), make([][3]float64, items)
	for u := range uv {
		uv[u] = [3]float64{rng.NormFloat64(), rng.NormFloat64(), 0.5 * rng.NormFloat64()}
	}
	for i := range iv {
		iv[i] = [3]float64{rng.NormFloat64(), rng.NormFloat64(), 0.5 * rng.NormFloat64()}
	}
	for u := range users {
		for i := range items {
			if rng.Float64() > 0.3 {
				continue
			}
			v := 3 + uv[u][2] + iv[i][2] + 0.5*(uv[u][0]*iv[i][0]+uv[u][1]*iv[i][1]) + 0.3*rng.NormFloat64()
			r := mf.Rating{User: fmt.Sprint("u", u), Item: fmt.Sprint("i", i), Value: v}
			if rng.Float64() < 0.2 {
				test = append(test, r)
			} else {
				train = append(train, r)
			}
		}
	}
	return train, test
}

var kinds = []string{KindEnsemble, KindUserKNN, KindItemKNN}

func trainKind(t *testing.T, kind string, seed int64, data []mf.Rating) Critic {
	cfg := DefaultConfig()
	cfg.Kind, cfg.Seed = kind, seed
	c, err := Train(context.Background(), data, cfg)
	require.NoError(t, err)
	return c
}

func TestCriticsBeatGlobalMeanAndAreCalibrated(t *testing.T) {
	train, test := synthetic(1)
	var mean float64
	for _, r := range train {
		mean += r.Value
	}
	mean /= float64(len(train))
	base := Evaluate(constant{mean, 1}, test)
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			c := trainKind(t, kind, 1, train)
			got := Evaluate(c, test)
			assert.Less(t, got.RMSE, base.RMSE, "RMSE against the global mean's")
			assert.InDelta(t, 0.9, got.Coverage90, 0.1, "90%% coverage")
			assert.InDelta(t, 0.5, got.Coverage50, 0.15, "50%% coverage")
		})
	}
}

// constant predicts one Gaussian everywhere.
type constant struct{ m, v float64 }

func (c constant) Predict(string, string) (float64, float64) { return c.m, c.v }

func TestCriticDeterministicAndRoundTrips(t *testing.T) {
	train, test := synthetic(2)
	probe := append(test[:20:20], mf.Rating{User: "nobody", Item: "i1"}, mf.Rating{User: "u1", Item: "nothing"},
		mf.Rating{User: "nobody", Item: "nothing"})
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			a, b := trainKind(t, kind, 7, train), trainKind(t, kind, 7, train)
			var buf bytes.Buffer
			require.NoError(t, Save(&buf, a))
			assert.Contains(t, buf.String(), `"kind":"`+kind+`"`)
			loaded, err := Load(&buf)
			require.NoError(t, err)
			assert.Equal(t, kind, loaded.Kind())
			for _, r := range probe {
				m1, v1 := a.Predict(r.User, r.Item)
				m2, v2 := b.Predict(r.User, r.Item)
				m3, v3 := loaded.Predict(r.User, r.Item)
				assert.Equal(t, [2]float64{m1, v1}, [2]float64{m2, v2}, "same seed, same prediction for %v", r)
				assert.Equal(t, [2]float64{m1, v1}, [2]float64{m3, v3}, "after load for %v", r)
				assert.False(t, math.IsNaN(m1) || math.IsInf(m1, 0), "finite mean for %v", r)
				assert.Greater(t, v1, 0.0, "positive variance for %v", r)
			}
		})
	}
	a, c := trainKind(t, KindEnsemble, 7, train), trainKind(t, KindEnsemble, 8, train)
	m1, _ := a.Predict(test[0].User, test[0].Item)
	m2, _ := c.Predict(test[0].User, test[0].Item)
	assert.NotEqual(t, m1, m2, "another seed, another ensemble")
}

func TestTrainErrors(t *testing.T) {
	ctx := context.Background()
	few := []mf.Rating{{User: "a", Item: "b", Value: 1}}
	_, err := Train(ctx, few, DefaultConfig())
	assert.ErrorContains(t, err, "want >= 10")
	train, _ := synthetic(3)
	bad := append([]mf.Rating{{User: "a", Item: "b", Value: math.Inf(1)}}, train...)
	_, err = Train(ctx, bad, DefaultConfig())
	assert.ErrorContains(t, err, "pair 0")
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = Train(canceled, train, DefaultConfig())
	assert.ErrorIs(t, err, context.Canceled)
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"default", func(*Config) {}, ""},
		{"kind", func(c *Config) { c.Kind = "svd" }, "kind"},
		{"models", func(c *Config) { c.Models = 1 }, "models"},
		{"models ignored for knn", func(c *Config) { c.Kind, c.Models = KindUserKNN, 0 }, ""},
		{"neighbours", func(c *Config) { c.Neighbours = 0 }, "neighbours"},
		{"prior", func(c *Config) { c.Prior = 0 }, "prior"},
		{"valid fraction", func(c *Config) { c.ValidFraction = 0.9 }, "valid_fraction"},
		{"mf", func(c *Config) { c.MF.Factors = 0 }, "mf"},
		{"bpr", func(c *Config) { c.MF = mf.DefaultBPRConfig() }, "bpr"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			if err := c.Validate(); tc.want == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tc.want)
			}
		})
	}
}

func TestLoadRejectsBadFiles(t *testing.T) {
	cfg := `"config":{"kind":"user-knn","seed":1,"models":8,"mf":{"factors":8,"epochs":15,"reg":0.5,"bias_reg":3,"learn_rate":0.05,"init_std":0.1,"seed":1,"algo":"als"},"neighbours":40,"shrink":5,"prior":1,"bias_reg":5,"valid_fraction":0.2}`
	tests := map[string]string{
		"not json":        `{`,
		"version":         `{"version":2}`,
		"kind mismatch":   `{"version":1,"kind":"ensemble",` + cfg + `}`,
		"no pairs":        `{"version":1,"kind":"user-knn",` + cfg + `,"variance":{"scale":1,"noise":1},"range":[1,5]}`,
		"noise":           `{"version":1,"kind":"user-knn",` + cfg + `,"variance":{"scale":1,"noise":0},"range":[1,5],"pairs":[{"user":"a","item":"b","value":1}]}`,
		"range":           `{"version":1,"kind":"user-knn",` + cfg + `,"variance":{"scale":1,"noise":1},"range":[5,1],"pairs":[{"user":"a","item":"b","value":1}]}`,
		"null model":      strings.Replace(`{"version":1,"kind":"ensemble",`+cfg+`,"variance":{"scale":1,"noise":1},"range":[1,5],"models":[null,null]}`, `"kind":"user-knn"`, `"kind":"ensemble"`, 1),
		"too few members": strings.Replace(`{"version":1,"kind":"ensemble",`+cfg+`,"variance":{"scale":1,"noise":1},"range":[1,5],"models":[]}`, `"kind":"user-knn"`, `"kind":"ensemble"`, 1),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Load(strings.NewReader(in))
			assert.ErrorContains(t, err, "critic: load")
		})
	}
}

func TestCalibratorHandComputed(t *testing.T) {
	var c Calibrator
	c.Add(4, 3, 1) // e = 1: outside the 50% interval (0.674), inside the 90% (1.645)
	c.Add(2, 3, 1) // e = −1
	c.Add(3, 3, 4) // e = 0, σ = 2
	got := c.Result()
	assert.Equal(t, 3, got.Pairs)
	assert.InDelta(t, math.Sqrt(2.0/3), got.RMSE, 1e-12)
	assert.InDelta(t, (2*(0.5*math.Log(2*math.Pi)+0.5)+0.5*math.Log(2*math.Pi*4))/3, got.NLL, 1e-12)
	assert.InDelta(t, 1.0/3, got.Coverage50, 1e-12)
	assert.InDelta(t, 1.0, got.Coverage90, 1e-12)
	assert.InDelta(t, 4.0/3, got.MeanSD, 1e-12)
	assert.Equal(t, Calibration{}, (&Calibrator{}).Result(), "empty")
}

func TestFitVarianceRecoversNoise(t *testing.T) {
	// A critic whose errors are N(0, 0.25 + 2·raw): the fit must find it.
	rng := rand.New(rand.NewPCG(4, 4))
	fc := &fakeRaw{pred: map[string][2]float64{}}
	var valid []mf.Rating
	for k := range 20000 {
		raw := rng.Float64()
		id := fmt.Sprint(k)
		fc.pred[id] = [2]float64{3, raw}
		valid = append(valid, mf.Rating{User: id, Item: id, Value: 3 + math.Sqrt(0.25+2*raw)*rng.NormFloat64()})
	}
	vm := fitVariance(fc, valid)
	assert.InDelta(t, 2, vm.Scale, 0.2, "scale")
	assert.InDelta(t, 0.25, vm.Noise, 0.05, "noise")
}

type fakeRaw struct{ pred map[string][2]float64 }

func (f *fakeRaw) Predict(u, i string) (float64, float64) { return f.predictRaw(u, i) }
func (f *fakeRaw) Kind() string                           { return "fake" }
func (f *fakeRaw) Variance() VarianceModel                { return VarianceModel{} }
func (f *fakeRaw) predictRaw(u, _ string) (float64, float64) {
	p := f.pred[u]
	return p[0], p[1]
}

// TestPredictConcurrent backs the "safe for concurrent use" claim (run
// under -race).
func TestPredictConcurrent(t *testing.T) {
	train, test := synthetic(9)
	for _, kind := range kinds {
		c := trainKind(t, kind, 1, train)
		done := make(chan [2]float64, 4)
		for range 4 {
			go func() {
				var s [2]float64
				for _, r := range test {
					m, v := c.Predict(r.User, r.Item)
					s[0], s[1] = s[0]+m, s[1]+v
				}
				done <- s
			}()
		}
		first := <-done
		for range 3 {
			assert.Equal(t, first, <-done, "%s: concurrent predictions agree", kind)
		}
	}
}
