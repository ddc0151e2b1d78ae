package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/flexrec/flexrec/prompt"
)

type needsOptions struct {
	file   string
	format string
}

func newNeedsCmd(s io3) *cobra.Command {
	o := &needsOptions{}
	c := &cobra.Command{
		Use:   "needs",
		Short: "List the built-in needs, or check a file of custom needs",
		Long: `List the built-in needs (interest, explore, trend, search) with their gain
rules, or load and validate custom needs from a YAML or JSON file.

Examples:
  flexrec needs
  flexrec needs --file my-needs.yaml --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runNeeds(cmd.Context(), o, s) },
	}
	c.Flags().StringVar(&o.file, "file", "", "YAML or JSON file of custom needs to load and validate")
	c.Flags().StringVar(&o.format, "format", "table", "output format: table or json")
	return c
}

func runNeeds(_ context.Context, o *needsOptions, s io3) error {
	needs := prompt.BuiltinNeeds()
	if o.file != "" {
		var err error
		if needs, err = prompt.LoadNeeds(o.file); err != nil {
			return err
		}
	}
	switch o.format {
	case "json":
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		return enc.Encode(needs)
	case "table":
		w := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tNAME\tGAIN RULE\tTHRESHOLD\tINSTRUCTION")
		for _, n := range needs {
			fmt.Fprintf(w, "%s\t%s\t%s\t%g\t%s\n", n.ID, n.Name, n.Gain.Rule, n.Threshold, n.Instruction)
		}
		return w.Flush()
	}
	return usagef("--format %q: want table or json", o.format)
}
