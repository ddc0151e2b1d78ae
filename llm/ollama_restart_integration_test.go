package llm_test

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/flexrec/flexrec/llm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The server restart test starts its own `ollama serve` (the binary
// scripts/ollama-test-server.sh builds into the cache folder) on a free
// loopback port with its own model folder, kills it in the middle of a
// run and starts it again, so the shared test server on 11435 is never
// touched.

// ollamaCache is scripts/ollama-test-server.sh's cache folder.
func ollamaCache() string {
	if c := os.Getenv("FLEXREC_CACHE"); c != "" {
		return c
	}
	if x := os.Getenv("XDG_CACHE_HOME"); x != "" {
		return filepath.Join(x, "flexrec")
	}
	home, _ := os.UserHomeDir() // "" gives a path that does not exist: the test skips
	return filepath.Join(home, ".cache", "flexrec")
}

// ollamaBinary returns the built ollama binary and the test model's
// Modelfile, or skips (fails under CI=true) saying how to get them.
func ollamaBinary(t *testing.T) (bin, modelfile string) {
	t.Helper()
	cache := ollamaCache()
	stamps, _ := filepath.Glob(filepath.Join(cache, "ollama-*", "built")) // a bad pattern is a bug caught here
	if len(stamps) == 0 {
		skipOrFail(t, "no ollama binary under "+cache+": build it with scripts/ollama-test-server.sh build")
	}
	bin = filepath.Join(filepath.Dir(stamps[len(stamps)-1]), "ollama")
	modelfile = filepath.Join(cache, "testmodel", "Modelfile")
	if _, err := os.Stat(modelfile); err != nil {
		skipOrFail(t, "no test model at "+modelfile+": write it with scripts/ollama-test-server.sh start")
	}
	return bin, modelfile
}

// ollamaProcess is an `ollama serve` this test started.
type ollamaProcess struct {
	bin, dir, addr string
	cmd            *exec.Cmd
}

// start runs `ollama serve` in its own process group and waits until it
// answers.
func (p *ollamaProcess) start(t *testing.T) {
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(p.dir, "serve.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	require.NoError(t, err)
	defer logf.Close()
	p.cmd = exec.Command(p.bin, "serve")
	p.cmd.Env = p.env()
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the runner it spawns dies with it
	require.NoError(t, p.cmd.Start(), "start ollama serve")
	client := &http.Client{Timeout: time.Second}
	require.Eventually(t, func() bool {
		resp, err := client.Get("http://" + p.addr + "/api/version")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, 30*time.Second, 50*time.Millisecond, "ollama serve on %s answers (log %s)", p.addr, logf.Name())
}

func (p *ollamaProcess) env() []string {
	return append(os.Environ(), "HOME="+filepath.Join(p.dir, "home"), "OLLAMA_MODELS="+filepath.Join(p.dir, "models"),
		"OLLAMA_HOST="+p.addr, "OLLAMA_KEEP_ALIVE=-1", "OLLAMA_NOPRUNE=1", "OLLAMA_NUM_PARALLEL=4")
}

// kill ends the server and its runner at once, as a crash would.
func (p *ollamaProcess) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) // the group may be gone already
	_ = p.cmd.Wait()                                      // reaps it; its exit status is the kill
	p.cmd = nil
}

// TestIntegrationServerRestart kills the Ollama server in the middle of a
// run of sampling calls through both backends and restarts it a second
// later: every call, those in flight at the kill and those issued while
// it was down, succeeds after retries, and seeded answers are the same as
// before the restart.
func TestIntegrationServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills an ollama server: skipped with -short")
	}
	bin, modelfile := ollamaBinary(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	p := &ollamaProcess{bin: bin, dir: t.TempDir(), addr: addr}
	require.NoError(t, os.MkdirAll(filepath.Join(p.dir, "home"), 0o700))
	p.start(t)
	t.Cleanup(p.kill)
	model := cmp.Or(os.Getenv("FLEXREC_OLLAMA_MODEL"), "flexrec-tiny")
	create := exec.Command(bin, "create", model, "-f", modelfile)
	create.Dir, create.Env = filepath.Dir(modelfile), p.env()
	out, err := create.CombinedOutput()
	require.NoError(t, err, "ollama create: %s", out)

	cfg := llm.DefaultStackConfig()
	cfg.Retry.MaxAttempts, cfg.Retry.InitialInterval, cfg.Retry.MaxInterval = 40, 100*time.Millisecond, time.Second
	cfg.Retry.AttemptTimeout = time.Minute
	stacks := map[string]*llm.Stack{}
	for name, b := range map[string]llm.Backend{
		"ollama native": newOllamaBackend(t, "http://"+addr),
		"openai /v1":    newOpenAIBackend(t, "http://"+addr+"/v1", ""),
	} {
		st, err := llm.NewStack(b, cfg)
		require.NoError(t, err)
		stacks[name] = st
	}
	request := func(seed int64) *llm.Request {
		return &llm.Request{Model: model, Messages: chat(model), Seed: &seed, Temperature: f64(1), MaxTokens: 60, Logprobs: true}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	before := map[string]string{}
	for name, st := range stacks {
		resp, err := st.Sample(ctx, request(0))
		require.NoError(t, err, "%s before the restart", name)
		before[name] = resp.Samples[0].Text
	}

	type call struct {
		start, end time.Time
		err        error
	}
	var mu sync.Mutex
	var calls []call
	var started atomic.Int64
	var wg sync.WaitGroup
	sample := func(name string, st *llm.Stack, seed int64) {
		c := call{start: time.Now()}
		started.Add(1)
		_, c.err = st.Sample(ctx, request(seed))
		c.end = time.Now()
		if c.err != nil {
			c.err = fmt.Errorf("%s seed %d: %w", name, seed, c.err)
		}
		mu.Lock()
		calls = append(calls, c)
		mu.Unlock()
	}
	for name, st := range stacks {
		for w := range 4 {
			wg.Go(func() {
				for i := range 8 {
					sample(name, st, int64(100*w+i+1))
				}
			})
		}
	}
	require.Eventually(t, func() bool { return started.Load() >= 12 }, time.Minute, time.Millisecond, "calls under way")
	killedAt := time.Now()
	p.kill()
	for name, st := range stacks { // fresh calls into the outage: a refused connection
		wg.Go(func() { sample(name, st, 999) })
	}
	time.Sleep(time.Second)
	p.start(t)
	restartedAt := time.Now()
	wg.Wait()

	inFlight, duringOutage := 0, 0
	for _, c := range calls {
		assert.NoError(t, c.err)
		switch {
		case c.start.Before(killedAt) && c.end.After(killedAt):
			inFlight++
		case c.start.After(killedAt) && c.start.Before(restartedAt):
			duringOutage++
		}
	}
	retries := int64(0)
	for _, st := range stacks {
		retries += st.Progress().Retries
	}
	t.Logf("%d calls: %d in flight at the kill, %d issued during the %v outage, %d retries, all succeeded",
		len(calls), inFlight, duringOutage, restartedAt.Sub(killedAt).Round(time.Millisecond), retries)
	assert.Len(t, calls, 2*4*8+2)
	assert.GreaterOrEqual(t, duringOutage, 2, "calls issued during the outage")
	assert.Positive(t, retries, "the outage was retried")
	for name, st := range stacks {
		resp, err := st.Sample(ctx, request(0))
		require.NoError(t, err, "%s after the restart", name)
		assert.Equal(t, before[name], resp.Samples[0].Text, "%s: the seeded answer after the restart", name)
	}
}
