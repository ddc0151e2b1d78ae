package mf

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lowRank generates a rank-r rating matrix with biases and noise, observed
// at density p, split into train and test.
func lowRank(seed uint64, users, items, r int, p, noise float64) (train, test []Rating) {
	rng := rand.New(rand.NewPCG(seed, 1))
	vec := func() []float64 {
		v := make([]float64, r)
		for k := range v {
			v[k] = rng.NormFloat64() * 0.7
		}
		return v
	}
	uv, iv := make([][]float64, users), make([][]float64, items)
	ub, ib := make([]float64, users), make([]float64, items)
	for u := range uv {
		uv[u], ub[u] = vec(), rng.NormFloat64()*0.4
	}
	for i := range iv {
		iv[i], ib[i] = vec(), rng.NormFloat64()*0.4
	}
	for u := 0; u < users; u++ {
		for i := 0; i < items; i++ {
			if rng.Float64() >= p {
				continue
			}
			x := Rating{User: fmt.Sprint("u", u), Item: fmt.Sprint("i", i),
				Value: 3.5 + ub[u] + ib[i] + dot(uv[u], iv[i]) + rng.NormFloat64()*noise}
			if rng.Float64() < 0.2 {
				test = append(test, x)
			} else {
				train = append(train, x)
			}
		}
	}
	return train, test
}

func rmse(m *Model, data []Rating) float64 {
	var s float64
	for _, r := range data {
		d := m.Score(r.User, r.Item) - r.Value
		s += d * d
	}
	return math.Sqrt(s / float64(len(data)))
}

func TestTrainBeatsGlobalMean(t *testing.T) {
	train, test := lowRank(7, 200, 150, 3, 0.3, 0.3)
	var mean float64
	for _, r := range train {
		mean += r.Value
	}
	mean /= float64(len(train))
	var base float64
	for _, r := range test {
		base += (r.Value - mean) * (r.Value - mean)
	}
	base = math.Sqrt(base / float64(len(test)))
	for _, reg := range []float64{0.2, 0.05} {
		cfg := DefaultConfig()
		cfg.Reg = reg
		m, err := Train(context.Background(), train, cfg)
		require.NoError(t, err)
		got := rmse(m, test)
		assert.Less(t, got, 0.6*base, "reg %v: held-out RMSE %v, global-mean RMSE %v", reg, got, base)
		if reg < 0.1 {
			assert.Less(t, got, 0.45, "reg %v: held-out RMSE %v, noise 0.3", reg, got)
		}
	}
}

func TestTrainDeterministic(t *testing.T) {
	train, _ := lowRank(3, 50, 40, 2, 0.3, 0.2)
	for _, algo := range []string{AlgoALS, AlgoBPR} {
		t.Run(algo, func(t *testing.T) {
			cfg := DefaultConfig()
			if algo == AlgoBPR {
				cfg = DefaultBPRConfig()
			}
			a, err := Train(context.Background(), train, cfg)
			require.NoError(t, err)
			b, err := Train(context.Background(), train, cfg)
			require.NoError(t, err)
			cfg.Seed = 2
			c, err := Train(context.Background(), train, cfg)
			require.NoError(t, err)
			assert.Equal(t, a.p, b.p, "same seed, same user factors")
			assert.Equal(t, a.Score("u1", "i2"), b.Score("u1", "i2"))
			assert.NotEqual(t, a.p, c.p, "another seed, other user factors")
		})
	}
}

// implicit generates interactions where user u takes item i with
// probability σ(2·p_u·q_i − 2), so taste shows in what is taken.
func implicit(seed uint64, users, items, r int) (train, test []Rating) {
	rng := rand.New(rand.NewPCG(seed, 3))
	vecs := func(n int) [][]float64 {
		out := make([][]float64, n)
		for k := range out {
			out[k] = make([]float64, r)
			for d := range out[k] {
				out[k][d] = rng.NormFloat64()
			}
		}
		return out
	}
	uv, iv := vecs(users), vecs(items)
	for u := range uv {
		for i := range iv {
			if rng.Float64() >= 1/(1+math.Exp(2-2*dot(uv[u], iv[i]))) {
				continue
			}
			x := Rating{User: fmt.Sprint("u", u), Item: fmt.Sprint("i", i), Value: 1}
			if rng.Float64() < 0.2 {
				test = append(test, x)
			} else {
				train = append(train, x)
			}
		}
	}
	return train, test
}

func TestBPRRanksPositivesFirst(t *testing.T) {
	train, test := implicit(11, 150, 100, 3)
	m, err := Train(context.Background(), train, DefaultBPRConfig())
	require.NoError(t, err)
	taken := map[Rating]bool{}
	for _, r := range append(train, test...) {
		taken[r] = true
	}
	// AUC of held-out positives against items the user never took.
	rng := rand.New(rand.NewPCG(1, 2))
	var wins, n float64
	for _, r := range test {
		j := fmt.Sprint("i", rng.IntN(100))
		if taken[Rating{r.User, j, 1}] {
			continue
		}
		if m.Score(r.User, r.Item) > m.Score(r.User, j) {
			wins++
		}
		n++
	}
	require.Greater(t, n, 100.0)
	assert.Greater(t, wins/n, 0.75, "BPR held-out AUC")
}

func TestScoreFallbacks(t *testing.T) {
	data := []Rating{{"a", "x", 5}, {"a", "y", 3}, {"b", "x", 4}}
	cfg := DefaultConfig()
	cfg.BiasReg = 0
	m, err := Train(context.Background(), data, cfg)
	require.NoError(t, err)
	mu := 4.0
	assert.InDelta(t, mu, m.Score("nobody", "nothing"), 1e-12, "both unknown gives the global mean")
	assert.InDelta(t, mu+m.ib[m.items.pos["x"]], m.Score("nobody", "x"), 1e-12, "unknown user gives mean + item bias")
	assert.InDelta(t, mu+m.ub[m.users.pos["a"]], m.Score("a", "zzz"), 1e-12, "unknown item gives mean + user bias")
	u, i := m.Known("a", "zzz")
	assert.True(t, u)
	assert.False(t, i)
	assert.False(t, math.IsNaN(m.Score("b", "y")))
}

func TestTrainErrors(t *testing.T) {
	ctx := context.Background()
	_, err := Train(ctx, nil, DefaultConfig())
	assert.ErrorIs(t, err, ErrNoData)
	_, err = Train(ctx, []Rating{{"a", "b", math.NaN()}}, DefaultConfig())
	assert.ErrorContains(t, err, "rating 0")
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = Train(canceled, []Rating{{"a", "b", 1}}, DefaultConfig())
	assert.ErrorIs(t, err, context.Canceled)
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"default", func(*Config) {}, ""},
		{"empty algo is als", func(c *Config) { c.Algo = "" }, ""},
		{"factors", func(c *Config) { c.Factors = 0 }, "factors"},
		{"epochs", func(c *Config) { c.Epochs = 0 }, "epochs"},
		{"reg", func(c *Config) { c.Reg = -1 }, "reg"},
		{"nan bias reg", func(c *Config) { c.BiasReg = math.NaN() }, "bias_reg"},
		{"bpr learn rate", func(c *Config) { c.Algo, c.LearnRate = AlgoBPR, 0 }, "learn_rate"},
		{"algo", func(c *Config) { c.Algo = "svd++" }, "algo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			if tc.want == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tc.want)
			}
		})
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	train, test := lowRank(5, 30, 20, 2, 0.4, 0.2)
	m, err := Train(context.Background(), train, DefaultConfig())
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, m.Save(&buf))
	got, err := Load(&buf)
	require.NoError(t, err)
	for _, r := range append(test, Rating{"new", "i1", 0}) {
		assert.Equal(t, m.Score(r.User, r.Item), got.Score(r.User, r.Item), "score after load for %v", r)
	}
}

func TestLoadRejectsBadInput(t *testing.T) {
	for name, in := range map[string]string{
		"not json":  "{",
		"version":   `{"version":2,"algo":"als","factors":1}`,
		"lengths":   `{"version":1,"algo":"als","factors":1,"users":["a"],"items":[],"user_bias":[],"item_bias":[],"user_factors":[],"item_factors":[]}`,
		"duplicate": `{"version":1,"algo":"als","factors":1,"users":["a","a"],"items":[],"user_bias":[0,0],"item_bias":[],"user_factors":[0,0],"item_factors":[]}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(bytes.NewBufferString(in))
			assert.ErrorContains(t, err, "mf: ")
		})
	}
}

func TestCholeskySolve(t *testing.T) {
	// A = [[4,2],[2,3]], b = [2,1] → x = [0.5, 0].
	a := []float64{4, 2, 0, 3}
	b := []float64{2, 1}
	choleskySolve(a, b, 2)
	assert.InDelta(t, 0.5, b[0], 1e-12)
	assert.InDelta(t, 0.0, b[1], 1e-12)
}
