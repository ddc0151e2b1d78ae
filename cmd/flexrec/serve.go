package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flexrec/flexrec/rl"
	"github.com/flexrec/flexrec/serve"
)

type serveOptions struct {
	addr        string
	tokenFile   string
	maxBody     int64
	timeout     time.Duration
	drain       time.Duration
	itemReward  string
	uncertainty string
	penalty     float64
	workers     int
}

func newServeCmd(s io3) *cobra.Command {
	return newServeCmdRun(s, runServe)
}

// newServeCmdRun lets tests capture the parsed options instead of running.
func newServeCmdRun(s io3, runF func(context.Context, *serveOptions, io3) error) *cobra.Command {
	o := &serveOptions{}
	c := &cobra.Command{
		Use:   "serve",
		Short: "Serve flexrec's parser and reward over HTTP for trainers (TRL, verl, OpenRLHF)",
		Long: `Run the reward service: the same parser and reward as 'flexrec parse' and
'flexrec reward', over HTTP/JSON, so a trainer's reward equals the rollouts'.

  POST /v1/score     {"items":[{"completion", "ground_truth", "item_reward",
                     "cutoff", "finish_reason", "offsets"}]} -> {"results":[{
                     "list_reward", "item_rewards", "permutation", "generated",
                     "report", "u", "token_rewards"}]}
  POST /get_reward   OpenRLHF's remote reward model: {"query", "prompts",
                     "labels"} -> {"rewards", "scores", "extra_logs"}
  GET  /healthz      {"status":"ok"}
  GET  /metrics      Prometheus text format

ground_truth (or an OpenRLHF label) is {"gains":[...], "variances":[...],
"k":K, "titles":[...]} or that object as JSON text, as the trl-grpo and
verl exports write it. Bad input gets a 400 naming the item and field.

The first line on stdout is "flexrec serve: listening on http://ADDR" (with
the real port when --addr ends in :0). Binding beyond loopback requires
--token-file: every request but /healthz must then carry
"Authorization: Bearer TOKEN". SIGTERM or Ctrl-C stops accepting, lets the
requests in flight finish (up to --drain) and exits 0.

Examples:
  flexrec serve
  flexrec serve --addr 127.0.0.1:0
  flexrec serve --addr 0.0.0.0:8471 --token-file /run/secrets/flexrec-token`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runF(cmd.Context(), o, s) },
	}
	o.addFlags(c.Flags())
	return c
}

func (o *serveOptions) addFlags(f *pflag.FlagSet) {
	d := serve.DefaultConfig()
	f.StringVar(&o.addr, "addr", "127.0.0.1:8471", "listen address host:port (port 0 picks a free one)")
	f.StringVar(&o.tokenFile, "token-file", "", "file holding the bearer token clients must send (required beyond loopback)")
	f.Int64Var(&o.maxBody, "max-body", d.MaxBody, "largest request body in bytes")
	f.DurationVar(&o.timeout, "timeout", d.Timeout, "per-request scoring time limit")
	f.DurationVar(&o.drain, "drain", 30*time.Second, "how long SIGTERM waits for requests in flight")
	f.StringVar(&o.itemReward, "item-reward", string(d.RL.ItemReward), "default item reward: causal-swap, independent, noncausal-swap or rank-level")
	f.StringVar(&o.uncertainty, "uncertainty", string(d.RL.Uncertainty), "u: propagated, sum or none")
	f.Float64Var(&o.penalty, "format-penalty", d.RL.FormatPenalty, "list reward penalty per repaired share of positions (as the rollouts')")
	f.IntVar(&o.workers, "workers", 0, "goroutines scoring one large request (0: one per CPU)")
}

// verify turns the flags into the handler's config.
func (o *serveOptions) verify() (serve.Config, error) {
	cfg := serve.DefaultConfig()
	cfg.MaxBody, cfg.Timeout, cfg.Workers = o.maxBody, o.timeout, o.workers
	if o.workers == 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	var err error
	if cfg.RL.ItemReward, err = rl.ParseItemReward(o.itemReward); err != nil {
		return cfg, usagef("--item-reward: %v", err)
	}
	cfg.RL.Uncertainty, cfg.RL.FormatPenalty = rl.Uncertainty(o.uncertainty), o.penalty
	host, _, err := net.SplitHostPort(o.addr)
	if err != nil {
		return cfg, usagef("--addr %q: %v", o.addr, err)
	}
	if o.tokenFile != "" {
		if cfg.Token, err = readToken(o.tokenFile); err != nil {
			return cfg, err
		}
	} else if !loopback(host) {
		return cfg, usagef("--addr %s listens beyond loopback: give --token-file", o.addr)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, usagef("%v", err)
	}
	return cfg, nil
}

// loopback reports whether host names only the loopback interface.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// readToken reads the bearer token: the file's content without surrounding
// space. Its value never appears in an error or log.
func readToken(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("serve: read --token-file: %w", err)
	}
	tok := strings.TrimSpace(string(raw))
	if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
		return "", usagef("--token-file %s: want one non-empty token without spaces", path)
	}
	return tok, nil
}

func runServe(ctx context.Context, o *serveOptions, s io3) error {
	cfg, err := o.verify()
	if err != nil {
		return err
	}
	h, err := serve.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: cfg.Timeout,
		WriteTimeout: 2 * cfg.Timeout, IdleTimeout: 2 * time.Minute}
	fmt.Fprintf(s.out, "flexrec serve: listening on http://%s\n", ln.Addr())
	fmt.Fprintf(s.err, "flexrec serve: %v\n", cfg)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// A signal: stop accepting, let requests in flight finish, exit 0.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.drain)
	defer cancel()
	if err := srv.Shutdown(dctx); err != nil {
		return fmt.Errorf("serve: drain: %w", err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	fmt.Fprintln(s.err, "flexrec serve: drained, stopped")
	return nil
}
