package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/serve"
)

// TestServeScoreEqualsParseAndReward scores answers through /v1/score and
// through `flexrec parse --n N` piped into `flexrec reward`, and requires
// the same report, list reward, item rewards and u, bit for bit.
func TestServeScoreEqualsParseAndReward(t *testing.T) {
	h, err := serve.New(serve.DefaultConfig())
	require.NoError(t, err)
	gains := []float64{3, 0, 4.5, 1, 2, 0.5}
	variances := []float64{0, 0.2, 0, 1.5, 0, 0.1}
	answers := []string{
		"[3] > [1] > [5] > [4] > [6] > [2]",
		"The user loves thrillers.\n\nFinal ranking: [5] > [3] > [1]\n```\n",
		"1. [2] Heat\n2) [6]\n- [1]\n3. 4",
		"```json\n[\"3\", \"1\", \"2\"]\n```",
		"［２］＞［１］＞【5】",
		"[3] > [9] > [3] > [1] > [",
		"<think>[1] > [2]</think>\n[6] > [5] > [4] > [3] > [2] > [1]",
		"no ranking at all",
		"",
	}
	for k := range []int{0, 3} {
		for i, ans := range answers {
			t.Run(fmt.Sprintf("k%d/%d", k, i), func(t *testing.T) {
				code, pout, stderr := runCLI(t, ans, "parse", "--n", "6")
				require.Equal(t, 0, code, "flexrec parse: %s", stderr)
				var rep struct{ Permutation []string }
				require.NoError(t, json.Unmarshal([]byte(pout), &rep))
				perm := make([]int, len(rep.Permutation))
				for p, id := range rep.Permutation {
					perm[p] = int(id[0]-'0') - 1
				}
				line, _ := json.Marshal(map[string]any{"gains": gains, "variances": variances, "permutation": perm, "k": k})
				code, rout, stderr := runCLI(t, string(line), "reward")
				require.Equal(t, 0, code, "flexrec reward: %s", stderr)

				body, _ := json.Marshal(map[string]any{"items": []any{map[string]any{"completion": ans,
					"ground_truth": map[string]any{"gains": gains, "variances": variances, "k": k}}}})
				req := httptestPost(t, h, "/v1/score", body)
				var resp struct {
					Results []struct {
						Report      json.RawMessage `json:"report"`
						ListReward  float64         `json:"list_reward"`
						ItemRewards []float64       `json:"item_rewards"`
						U           float64         `json:"u"`
					} `json:"results"`
				}
				require.NoError(t, json.Unmarshal(req, &resp), "%s", req)
				var want struct {
					ListReward  float64   `json:"list_reward"`
					ItemRewards []float64 `json:"item_rewards"`
					U           float64   `json:"u"`
				}
				require.NoError(t, json.Unmarshal([]byte(rout), &want))
				got := resp.Results[0]
				assert.JSONEq(t, pout, string(got.Report), "report equals flexrec parse")
				assert.Equal(t, want.ListReward, got.ListReward, "list_reward equals flexrec reward")
				assert.Equal(t, want.ItemRewards, got.ItemRewards, "item_rewards equal flexrec reward")
				assert.Equal(t, want.U, got.U, "u equals flexrec reward")
			})
		}
	}
}

func httptestPost(t *testing.T, h http.Handler, path string, body []byte) []byte {
	t.Helper()
	srv := newLoopback(t, h)
	resp, err := http.Post(srv+path, "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "POST %s: %s", path, out)
	return out
}

func newLoopback(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := &http.Server{Handler: h}
	ln := listenLoopback(t)
	go func() { _ = srv.Serve(ln) }() // ends with Close below
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

func TestServeFlags(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(tok, []byte("  tok-123\n"), 0o600))
	cases := []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, o *serveOptions)
	}{
		{"defaults", nil, "", func(t *testing.T, o *serveOptions) {
			assert.Equal(t, "127.0.0.1:8471", o.addr)
			assert.Equal(t, int64(64<<20), o.maxBody)
			cfg, err := o.verify()
			require.NoError(t, err)
			assert.Empty(t, cfg.Token)
		}},
		{"beyond loopback needs a token", []string{"--addr", "0.0.0.0:8471"}, "give --token-file", nil},
		{"empty host is every interface", []string{"--addr", ":8471"}, "give --token-file", nil},
		{"token file", []string{"--addr", "0.0.0.0:1", "--token-file", tok}, "", func(t *testing.T, o *serveOptions) {
			cfg, err := o.verify()
			require.NoError(t, err)
			assert.Equal(t, "tok-123", cfg.Token)
			assert.NotContains(t, cfg.String(), "tok-123")
		}},
		{"localhost", []string{"--addr", "localhost:0"}, "", nil},
		{"ipv6 loopback", []string{"--addr", "[::1]:0"}, "", nil},
		{"bad item reward", []string{"--item-reward", "x"}, "--item-reward", nil},
		{"bad max body", []string{"--max-body", "0"}, "max body", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got *serveOptions
			c := newServeCmdRun(io3{}, func(_ context.Context, o *serveOptions, _ io3) error {
				got = o
				_, err := o.verify()
				return err
			})
			c.SetArgs(tc.args)
			c.SilenceErrors, c.SilenceUsage = true, true
			err := c.Execute()
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.True(t, isUsage(err), "a usage error (exit 2)")
				return
			}
			require.NoError(t, err)
			if tc.check != nil {
				tc.check(t, got)
			}
		})
	}
}

// TestServeDrains cancels the command's context (what SIGTERM does) while
// a large request is in flight: the request still gets its answer and the
// command returns nil (exit 0).
func TestServeDrains(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var errb syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, strings.NewReader(""), pw, &errb) }()
	first := make([]byte, 256)
	n, err := pr.Read(first)
	require.NoError(t, err)
	go func() { _, _ = io.Copy(io.Discard, pr) }() // drain later output
	addr := strings.TrimSpace(strings.TrimPrefix(string(first[:n]), "flexrec serve: listening on "))
	require.True(t, strings.HasPrefix(addr, "http://127.0.0.1:"), "first line %q", first[:n])

	var items []any
	for range 4000 {
		items = append(items, map[string]any{"completion": strings.Repeat("word ", 200) + "[3] > [1] > [2]",
			"ground_truth": map[string]any{"gains": []float64{1, 2, 3}}})
	}
	body, _ := json.Marshal(map[string]any{"items": items})
	type answer struct {
		code int
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		resp, err := http.Post(addr+"/v1/score", "application/json", bytes.NewReader(body))
		if err != nil {
			got <- answer{0, err}
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		got <- answer{resp.StatusCode, nil}
	}()
	time.Sleep(20 * time.Millisecond) // the request is being sent or scored
	cancel()
	a := <-got
	require.NoError(t, a.err, "the in-flight request is answered")
	assert.Equal(t, http.StatusOK, a.code)
	select {
	case code := <-done:
		assert.Equal(t, 0, code, "exit code after the drain; stderr: %s", errb.String())
	case <-time.After(30 * time.Second):
		t.Fatal("flexrec serve did not stop after cancel")
	}
	assert.Contains(t, errb.String(), "drained")
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return ln
}
