package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flexrec/flexrec/batch"
	"github.com/flexrec/flexrec/internal/atomicfile"
	"github.com/flexrec/flexrec/llm"
	"github.com/flexrec/flexrec/rollout"
)

type batchPrepareOptions struct {
	ro          rolloutOptions
	fs          *pflag.FlagSet
	dir         string
	retryFailed bool
	dryRun      bool
	maxRequests int
}

func newBatchPrepareCmd(s io3) *cobra.Command {
	o := &batchPrepareOptions{ro: rolloutOptions{cfg: rollout.DefaultConfig()}}
	c := &cobra.Command{
		Use:   "prepare",
		Short: "Write the rollout requests as OpenAI batch files",
		Long: `Render every rollout request of the episodes (the same flags, seeds and
sampling as 'flexrec rollout') and write them to --out as requests-NNNNN.jsonl
in the OpenAI Batch format: custom_id EPISODE#ROLLOUT, method POST, url
/v1/chat/completions, and a body that is byte for byte the request the online
path sends. Files split at 50,000 requests or 200 MB. Nothing is sent.

--retry-failed writes just the requests listed in --out's failed.jsonl (from
'batch ingest') into --out/retry-N, with the flags prepare was first given.
--dry-run prints the requests, estimated tokens and cost, and writes nothing.

Examples:
  flexrec batch prepare --episodes eps.jsonl --model gpt-4o-mini --out b/
  flexrec batch prepare --episodes eps.jsonl --model gpt-4o-mini --out b/ --dry-run --price-in 0.075 --price-out 0.3
  flexrec batch prepare --retry-failed --out b/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBatchPrepare(cmd.Context(), o, s) },
	}
	f := c.Flags()
	f.StringVar(&o.dir, "out", "", "batch folder to write (required)")
	f.BoolVar(&o.retryFailed, "retry-failed", false, "write just the requests of --out's failed.jsonl, into --out/retry-N")
	f.BoolVar(&o.dryRun, "dry-run", false, "print requests, estimated tokens and cost; write nothing")
	f.IntVar(&o.maxRequests, "max-requests-per-file", batch.MaxRequestsPerFile, "most requests per file")
	o.fs = rolloutFlagSet(&o.ro)
	f.AddFlagSet(o.fs)
	return c
}

func runBatchPrepare(ctx context.Context, o *batchPrepareOptions, s io3) error {
	if o.dir == "" {
		return usagef("--out is required")
	}
	ro, out, only, err := o.plan()
	if err != nil {
		return err
	}
	log := newLogger(s.err, "text")
	su, err := ro.setup(ctx)
	if err != nil {
		return err
	}
	var codec batch.Codec
	if !o.dryRun || ro.backend.cfg.Kind == "openai" {
		if codec, err = ro.codec(log); err != nil {
			return err
		}
	}
	st, err := batch.Prepare(ctx, su.newRunner, codec, su.eps, batch.PrepareOptions{Dir: out, Seed: ro.cfg.Seed,
		Only: only, MaxRequests: o.maxRequests, DryRun: o.dryRun,
		Prices: llm.Prices{InputPerMillion: ro.backend.cfg.PriceInput, OutputPerMillion: ro.backend.cfg.PriceOutput}})
	if err != nil {
		return err
	}
	if !o.dryRun && !o.retryFailed {
		if err := o.save(); err != nil {
			return err
		}
	}
	return encodeJSON(s, st)
}

// plan picks the rollout options, the folder to write and the requests
// kept: the flags given, or for --retry-failed the saved ones and the
// failed list.
func (o *batchPrepareOptions) plan() (*rolloutOptions, string, map[string]bool, error) {
	if !o.retryFailed {
		o.ro.out = filepath.Join(o.dir, "rollouts.jsonl")
		return &o.ro, o.dir, nil, o.ro.verify()
	}
	ro, err := loadPrepared(o.dir)
	if err != nil {
		return nil, "", nil, err
	}
	only, err := batch.ReadFailed(filepath.Join(o.dir, batch.FailedName))
	if err != nil {
		return nil, "", nil, fmt.Errorf("batch: --retry-failed: %w", err)
	}
	for n := 1; ; n++ {
		out := filepath.Join(o.dir, fmt.Sprintf("retry-%d", n))
		if _, err := os.Stat(out); os.IsNotExist(err) {
			return ro, out, only, nil
		}
	}
}

// save records the rollout flags given, for ingest and --retry-failed.
func (o *batchPrepareOptions) save() error {
	args, err := savedArgs(o.fs)
	if err != nil {
		return err
	}
	data, _ := json.MarshalIndent(map[string]any{"args": args}, "", "  ") // plain map: cannot fail
	return atomicfile.WriteFile(filepath.Join(o.dir, prepareName), append(data, '\n'), 0o644)
}
