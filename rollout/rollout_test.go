package rollout

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/eval/dataset"
	"github.com/flexrec/flexrec/llm"
	"github.com/flexrec/flexrec/mf"
	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rl"
)

var fixture struct {
	once  sync.Once
	eps   []prompt.Episode
	model *mf.Model
	err   error
}

// testEpisodes builds a few real interest episodes of ml-latest-small and
// an MF model on their training split.
func testEpisodes(t testing.TB) ([]prompt.Episode, *mf.Model) {
	t.Helper()
	fixture.once.Do(func() {
		ctx := context.Background()
		ds, err := dataset.Load(ctx, "ml-latest-small")
		if err != nil {
			fixture.err = err
			return
		}
		cfg := dataset.DefaultBuildConfig()
		cfg.Need, _ = prompt.LookupNeed("interest")
		cfg.Limit = 12
		split, err := dataset.Build(ctx, ds, cfg)
		if err != nil {
			fixture.err = err
			return
		}
		ratings := dataset.Ratings(split.Train)
		mcfg := mf.DefaultConfig()
		mcfg.Epochs = 5
		fixture.eps = split.Episodes
		fixture.model, fixture.err = mf.Train(ctx, ratings, mcfg)
	})
	require.NoError(t, fixture.err)
	return fixture.eps, fixture.model
}

func newTestRunner(t testing.TB, samples int) (*Runner, []prompt.Episode) {
	t.Helper()
	eps, model := testEpisodes(t)
	b, err := llm.NewBuiltin(llm.DefaultBuiltinConfig(model.Score))
	require.NoError(t, err)
	cfg := DefaultConfig()
	cfg.Samples, cfg.Seed, cfg.Model = samples, 7, "builtin-pl"
	r, err := NewRunner(b, BackendInfo{Name: "builtin"}, cfg, nil)
	require.NoError(t, err)
	return r, eps
}

func TestEpisodeRecords(t *testing.T) {
	r, eps := newTestRunner(t, 8)
	ep := &eps[0]
	recs, err := r.Episode(context.Background(), ep)
	require.NoError(t, err)
	require.Len(t, recs, 8)
	texts := map[string]bool{}
	var meanAdv float64
	for i, rec := range recs {
		assert.Equal(t, i, rec.Rollout)
		assert.Equal(t, Seed(7, ep.ID, i), rec.Seed)
		assert.True(t, rec.Parse.Valid, "the builtin policy always writes a valid answer")
		require.Len(t, rec.Ranking, len(ep.Candidates))
		seen := map[int]bool{}
		for p, c := range rec.Ranking {
			assert.False(t, seen[c], "candidate %d placed twice", c)
			seen[c] = true
			assert.Equal(t, ep.Candidates[c].ItemID, rec.Permutation[p])
		}
		want, err := rl.ListReward(ep.Labels.Gains, rec.Ranking, 0)
		require.NoError(t, err)
		assert.InDelta(t, want, rec.ListReward, 1e-12, "list reward of rollout %d is the NDCG of its ranking", i)
		require.Len(t, rec.TokenAdvantages, len(rec.Tokens))
		require.Len(t, rec.ItemSpans, len(ep.Candidates))
		var total float64
		for _, tok := range rec.Tokens {
			total += tok.Logprob
		}
		var spans float64
		for _, sp := range rec.ItemSpans {
			require.Equal(t, sp.FirstToken+1, sp.LastToken, "one token per builtin id")
			assert.Equal(t, "["+sp.ShortID+"]", rec.Completion[sp.Start:sp.End])
			assert.Equal(t, rec.ItemAdvantages[sp.Position], rec.TokenAdvantages[sp.FirstToken], "an id's token carries its item advantage")
			spans += sp.Logprob
		}
		assert.InDelta(t, total, spans, 1e-9, "all probability mass sits on the id tokens")
		if len(rec.Tokens) > 1 {
			assert.Equal(t, rec.Advantage, rec.TokenAdvantages[1], "a separator carries the sequence advantage")
		}
		texts[rec.Completion] = true
		meanAdv += rec.Advantage
	}
	assert.Greater(t, len(texts), 4, "rollouts differ by seed")
	assert.InDelta(t, 0, meanAdv/8, 1e-9, "sequence advantages are centred in the group")
}

func TestEpisodeSparseNeedsCritic(t *testing.T) {
	r, eps := newTestRunner(t, 2)
	ep := eps[0]
	ep.Labels = &prompt.Labels{Gains: ep.Labels.Gains, Relevant: ep.Labels.Relevant, Observed: make([]bool, len(ep.Candidates))}
	_, err := r.Episode(context.Background(), &ep)
	assert.ErrorIs(t, err, rl.ErrNoPrediction)
	crit := constCritic{mean: 3, variance: 0.5}
	r2, err := NewRunner(r.sampler.Backend, r.info, r.cfg, crit)
	require.NoError(t, err)
	recs, err := r2.Episode(context.Background(), &ep)
	require.NoError(t, err)
	assert.Positive(t, recs[0].U, "unobserved gains carry uncertainty")
	for _, v := range recs[0].Variances {
		assert.Positive(t, v)
	}
}

type constCritic struct{ mean, variance float64 }

func (c constCritic) Predict(string, string) (float64, float64) { return c.mean, c.variance }

func runToFile(ctx context.Context, t *testing.T, r *Runner, eps []prompt.Episode, path string) (Stats, error) {
	t.Helper()
	return Run(ctx, r, eps, RunOptions{Path: path, Concurrency: 3, Fingerprint: "test"})
}

func TestRunResumesToIdenticalFile(t *testing.T) {
	r, eps := newTestRunner(t, 4)
	dir := t.TempDir()
	full := filepath.Join(dir, "full.jsonl")
	st, err := runToFile(context.Background(), t, r, eps, full)
	require.NoError(t, err)
	assert.Equal(t, len(eps), st.Episodes)
	assert.Equal(t, 4*len(eps), st.Rollouts)
	want, err := os.ReadFile(full)
	require.NoError(t, err)

	// Interrupt after a few episodes, tear the tail, then resume.
	part := filepath.Join(dir, "part.jsonl")
	ctx, cancel := context.WithCancel(context.Background())
	_, err = Run(ctx, r, eps, RunOptions{Path: part, Concurrency: 2, Fingerprint: "test",
		Progress: func(s Stats) {
			if s.Episodes == 3 {
				cancel()
			}
		}})
	require.ErrorIs(t, err, context.Canceled)
	got, err := os.ReadFile(part)
	require.NoError(t, err)
	require.Less(t, len(got), len(want), "the interrupted run stopped early")
	for _, line := range bytes.SplitAfter(got, []byte("\n")) {
		assert.True(t, bytes.Contains(want, line), "every interrupted line is a line of the full run")
	}
	f, err := os.OpenFile(part, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.Write(want[len(want)-300 : len(want)-100]) // half a record, as a kill leaves it
	require.NoError(t, err)
	require.NoError(t, f.Close())

	st, err = runToFile(context.Background(), t, r, eps, part)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, st.Resumed, 3)
	assert.Equal(t, len(eps), st.Episodes)
	got, err = os.ReadFile(part)
	require.NoError(t, err)
	assert.Equal(t, want, got, "resumed file equals the uninterrupted one")
	assert.Equal(t, len(eps)*4, countLines(t, got), "no duplicate and no gap")
}

func countLines(t *testing.T, b []byte) int {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<24)
	n := 0
	for sc.Scan() {
		var rec Record
		require.NoError(t, json.Unmarshal(sc.Bytes(), &rec))
		n++
	}
	return n
}

func TestRunRefusesAnotherConfiguration(t *testing.T) {
	r, eps := newTestRunner(t, 2)
	path := filepath.Join(t.TempDir(), "r.jsonl")
	_, err := Run(context.Background(), r, eps[:2], RunOptions{Path: path, Fingerprint: "a"})
	require.NoError(t, err)
	_, err = Run(context.Background(), r, eps[:2], RunOptions{Path: path, Fingerprint: "b"})
	assert.ErrorContains(t, err, "another configuration")
	// Same fingerprint but other episodes: the file's groups do not match.
	_, err = Run(context.Background(), r, eps[2:4], RunOptions{Path: path, Fingerprint: "a"})
	assert.ErrorContains(t, err, "belongs to another run")
	// Fewer episodes than the file holds: refused, not cut.
	_, err = Run(context.Background(), r, eps[:1], RunOptions{Path: path, Fingerprint: "a"})
	assert.ErrorContains(t, err, "belongs to another run")
	recs, err := ReadFile(path)
	require.NoError(t, err)
	assert.Len(t, recs, 4, "nothing was deleted")
}

func TestConfigValidate(t *testing.T) {
	bad := func(f func(*Config)) Config { c := DefaultConfig(); f(&c); return c }
	p := 0.0
	for name, c := range map[string]Config{
		"samples":  bad(func(c *Config) { c.Samples = 0 }),
		"temp":     bad(func(c *Config) { c.Temperature = -1 }),
		"top_p":    bad(func(c *Config) { c.TopP = &p }),
		"toplp":    bad(func(c *Config) { c.TopLogprobs = 21 }),
		"reject":   bad(func(c *Config) { c.Repair = "reject" }),
		"unknown":  bad(func(c *Config) { c.Repair = "magic" }),
		"rlconfig": bad(func(c *Config) { c.RL.Delta = 0 }),
	} {
		assert.Error(t, c.Validate(), name)
	}
	assert.NoError(t, DefaultConfig().Validate())
}

func TestRolloutSeedRange(t *testing.T) {
	for i := range 100 {
		s := Seed(int64(i)*977, "ep", i)
		assert.True(t, s >= 0 && s < math.MaxInt32)
	}
	assert.NotEqual(t, Seed(1, "a", 0), Seed(1, "b", 0))
}

func BenchmarkEpisodeBuiltin(b *testing.B) {
	r, eps := newTestRunner(b, 8)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := r.Episode(context.Background(), &eps[i%len(eps)]); err != nil {
			b.Fatal(err)
		}
	}
}

func TestScanNamesBadLine(t *testing.T) {
	r, eps := newTestRunner(t, 2)
	path := filepath.Join(t.TempDir(), "r.jsonl")
	_, err := Run(context.Background(), r, eps[:2], RunOptions{Path: path, Fingerprint: "x"})
	require.NoError(t, err)
	recs, err := ReadFile(path)
	require.NoError(t, err)
	assert.Len(t, recs, 4)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("{not json\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	_, err = ReadFile(path)
	assert.ErrorContains(t, err, "r.jsonl:5")
}
