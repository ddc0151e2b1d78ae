package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/flexrec/flexrec/eval/dataset"
	"github.com/flexrec/flexrec/internal/shard"
)

type mergeOptions struct {
	episodes        string
	out             string
	allowIncomplete bool
}

func newMergeCmd(s io3) *cobra.Command {
	o := &mergeOptions{}
	c := &cobra.Command{
		Use:   "merge --episodes FILE --out FILE ROLLOUTS...",
		Short: "Join the rollouts of shards (--shard k/n) into one machine's file",
		Long: `Join rollouts files written by 'flexrec rollout --shard k/n' (or 'batch ingest'
of a sharded prepare) into --out, byte for byte the file one unsharded run
writes: episodes in --episodes order (the whole episodes file every shard
read), rollouts 0..G-1, each record's checksum and job fingerprint verified
(every shard must have run the same job), duplicates (a shard run twice, an
overlap) kept once when identical and refused when not. Episodes without a
complete group are listed and refused unless --allow-incomplete; an
incomplete merged file can be completed by 'flexrec rollout' with the same
flags and --out.

Examples:
  for k in 0 1 2 3; do flexrec rollout --episodes eps.jsonl --shard $k/4 --out r$k.jsonl; done
  flexrec merge --episodes eps.jsonl --out rollouts.jsonl r0.jsonl r1.jsonl r2.jsonl r3.jsonl`,
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
