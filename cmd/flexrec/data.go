package main

import (
	"context"
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/flexrec/flexrec/eval/dataset"
)

type dataStatsOptions struct {
	dataset string
	format  string
}

func newDataCmd(s io3) *cobra.Command {
	c := &cobra.Command{
		Use:   "data",
		Short: "Inspect datasets",
		Long: `Inspect the datasets flexrec reads.

Examples:
  flexrec data stats
  flexrec data stats --dataset ./ml-100k --format json`,
		Args: cobra.NoArgs,
	}
	c.AddCommand(newDataStatsCmd(s))
	return c
}

func newDataStatsCmd(s io3) *cobra.Command {
	o := &dataStatsOptions{}
	c := &cobra.Command{
		Use:   "stats",
		Short: "Summarise a dataset: users, items, interactions, density, values, time span",
		Long: `Load a dataset (validating every row) and summarise it: its detected layout,
users, items, interactions, density, interactions per user, the value
distribution (ratings or watch ratios), the time span, categories, and search
judgements or tags when present.

--dataset takes the built-in name ml-latest-small or a folder (or .zip) whose
layout is detected from its files.

Examples:
  flexrec data stats
  flexrec data stats --dataset ./ml-1m
  flexrec data stats --dataset ./KuaiRec/data --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDataStats(cmd.Context(), o, s) },
	}
	c.Flags().StringVar(&o.dataset, "dataset", dataset.BuiltinMLLatestSmall, "built-in dataset name, dataset folder or .zip")
	c.Flags().StringVar(&o.format, "format", "text", "output format: text or json")
	return c
}

func runDataStats(ctx context.Context, o *dataStatsOptions, s io3) error {
	if o.format != "text" && o.format != "json" {
		return usagef("--format %q: want text or json", o.format)
	}
	ds, err := dataset.Load(ctx, o.dataset)
	if err != nil {
		return err
	}
	st := dataset.Summarize(ds)
	if o.format == "json" {
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	return st.WriteText(s.out)
}
