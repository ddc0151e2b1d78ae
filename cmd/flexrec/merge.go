package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/flexrec/flexrec/eval/dataset"
	"github.com/flexrec/flexrec/internal/shard"
	"github.com/flexrec/flexrec/pipeline"
)

type mergeOptions struct {
	episodes        string
	out             string
	allowIncomplete bool
}

func newMergeCmd(s io3) *cobra.Command {
	o := &mergeOptions{}
	c := &cobra.Command{
		Use:   "merge --out OUT (--episodes FILE ROLLOUTS... | RUN_DIR... | EVAL_DIR...)",
		Short: "Join the outputs of shards (--shard k/n) into one machine's",
		Long: `Join rollouts files written by 'flexrec rollout --shard k/n' (or 'batch ingest'
of a sharded prepare) into --out, byte for byte the file one unsharded run
writes: episodes in --episodes order (the whole episodes file every shard
read), rollouts 0..G-1, each record's checksum and job fingerprint verified
(every shard must have run the same job), duplicates (a shard run twice, an
overlap) kept once when identical and refused when not. Episodes without a
complete group are listed and refused unless --allow-incomplete; an
incomplete merged file can be completed by 'flexrec rollout' with the same
flags and --out.

Given the output folders of 'flexrec run --shard k/n' instead, it merges the
rollouts the same way (the episodes from the folders, which every shard must
hold alike, as job.json and the critic), copies the job's files, rebuilds the
exports from the merged rollouts, and computes the report from the shards'
parts (report/shard.json): the means and intervals of one machine's report.

Given the --out folders of 'flexrec eval --shard k/n', it computes the whole
evaluation's report from the shards' per-episode results into --out
(results.csv, results.json, report.html; Markdown on stdout): means, bootstrap
intervals and LLM statistics equal one machine's, timings aside.

Examples:
  for k in 0 1 2 3; do flexrec rollout --episodes eps.jsonl --shard $k/4 --out r$k.jsonl; done
  flexrec merge --episodes eps.jsonl --out rollouts.jsonl r0.jsonl r1.jsonl r2.jsonl r3.jsonl
  flexrec merge --out out/job out/shard-0 out/shard-1 out/shard-2 out/shard-3
  flexrec merge --out report ev-0 ev-1 ev-2 ev-3      # eval --shard k/4 --out ev-k`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runMerge(cmd.Context(), o, args, s) },
	}
	f := c.Flags()
	f.StringVar(&o.episodes, "episodes", "", "the whole episodes file the shards read (required)")
	f.StringVar(&o.out, "out", "", "merged rollouts file (required)")
	f.BoolVar(&o.allowIncomplete, "allow-incomplete", false, "write the complete groups even when episodes lack one")
	return c
}

func runMerge(ctx context.Context, o *mergeOptions, inputs []string, s io3) error {
	if fi, err := os.Stat(inputs[0]); err == nil && fi.IsDir() {
		if isEvalShard(inputs[0]) {
			if o.out == "" {
				return usagef("--out is required")
			}
			return runMergeEval(o, inputs, s)
		}
		return runMergeDirs(ctx, o, inputs, s)
	}
	if o.episodes == "" || o.out == "" {
		return usagef("--episodes and --out are required")
	}
	eps, err := dataset.ReadEpisodesFile(ctx, o.episodes)
	if err != nil {
		return err
	}
	st, err := shard.MergeRollouts(inputs, eps, o.out, o.allowIncomplete)
	if encErr := encodeJSON(s, st); encErr != nil && err == nil {
		err = encErr
	}
	if errors.Is(err, shard.ErrIncomplete) {
		return fmt.Errorf("merge: %w; run the missing shards, or pass --allow-incomplete", err)
	}
	return err
}

// runMergeDirs merges the output folders of 'flexrec run --shard'.
func runMergeDirs(ctx context.Context, o *mergeOptions, dirs []string, s io3) error {
	if o.out == "" {
		return usagef("--out is required")
	}
	if o.episodes != "" || o.allowIncomplete {
		return usagef("--episodes and --allow-incomplete are for rollouts files; run folders carry their episodes")
	}
	sum, err := pipeline.Merge(ctx, dirs, o.out, newLogger(s.err, "text"))
	if sum != nil {
		if encErr := encodeJSON(s, sum); encErr != nil && err == nil {
			err = encErr
		}
	}
	return err
}
