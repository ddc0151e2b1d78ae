package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/flexrec/flexrec/batch"
	"github.com/flexrec/flexrec/rollout"
)

type batchIngestOptions struct {
	results []string
	out     string
}

func newBatchIngestCmd(s io3) *cobra.Command {
	o := &batchIngestOptions{}
	c := &cobra.Command{
		Use:   "ingest DIR",
		Short: "Turn batch output files into rollouts.jsonl",
		Long: `Read the answers of a batch folder's requests from --results (OpenAI's output
and error files, or vllm run-batch's output; default: the files 'batch
collect' downloaded into DIR and DIR/retry-N) and write the rollouts, with
prepare's flags, to --out: the same records, byte for byte, that 'flexrec
rollout' writes when the server gives the same answers. An episode with a
rollout lacking a usable answer is left out and its requests are listed in
DIR/failed.jsonl ('batch prepare --retry-failed' writes just those); run
again with more results, ingest adds the missing episodes.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runBatchIngest(cmd.Context(), o, args[0], s) },
	}
	f := c.Flags()
	f.StringSliceVar(&o.results, "results", nil, "batch output or error files (default: those collected into DIR)")
	f.StringVar(&o.out, "out", "", "rollouts file (default DIR/rollouts.jsonl)")
	return c
}

func runBatchIngest(ctx context.Context, o *batchIngestOptions, dir string, s io3) error {
	ro, err := loadPrepared(dir)
	if err != nil {
		return err
	}
	if o.out != "" {
		ro.out = o.out
	}
	results := o.results
	if len(results) == 0 {
		if results = batch.ResultFiles(dir); len(results) == 0 {
			return usagef("no results in %s: pass --results or run 'flexrec batch collect %s'", dir, dir)
		}
	}
	log := newLogger(s.err, "text")
	su, err := ro.setup(ctx)
	if err != nil {
		return err
	}
	codec, err := ro.codec(log)
	if err != nil {
		return err
	}
	st, err := batch.Ingest(ctx, su.newRunner, codec, su.eps, batch.IngestOptions{Dir: dir, Results: results, Seed: ro.cfg.Seed,
		Run: rollout.RunOptions{Path: ro.out, Concurrency: 4, Fingerprint: su.fp, Logger: log}})
	if encErr := encodeJSON(s, st); encErr != nil && err == nil {
		err = encErr
	}
	var fe *rollout.FailedError
	if errors.As(err, &fe) && len(st.Failed) > 0 {
		return fmt.Errorf("batch ingest: %d requests without a usable answer, listed in %s; "+
			"'flexrec batch prepare --retry-failed --out %s' writes them: %w", len(st.Failed), filepath.Clean(st.FailedPath), dir, err)
	}
	return err
}
