package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/spf13/pflag"
)

type docsOptions struct {
	dir string
}

// newDocsCmd returns the hidden `flexrec docs` command, which writes the
// Markdown command reference (docs/cli) from the cobra tree, as restic's
// `generate` does.
func newDocsCmd(s io3) *cobra.Command {
	o := &docsOptions{}
	c := &cobra.Command{
		Use:   "docs",
		Short: "Write the Markdown command reference, one page per command",
		Long: `Write the Markdown command reference, one page per command, generated from
the command tree (the same text as --help). Pages of commands that no longer
exist are removed. The output carries no date, so the same tree gives the same
bytes; TestDocsUpToDate fails when the committed docs/cli is stale.

Examples:
  flexrec docs --dir docs/cli`,
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE:   func(cmd *cobra.Command, _ []string) error { return runDocs(cmd.Context(), o, s) },
	}
	c.Flags().StringVar(&o.dir, "dir", "docs/cli", "folder to write the pages into (created if missing)")
	return c
}

func runDocs(_ context.Context, o *docsOptions, s io3) error {
	pages, err := cliPages()
	if err != nil {
		return err
	}
	if err := writePages(o.dir, pages); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "wrote %d pages to %s\n", len(pages), o.dir)
	return nil
}

// machineDefaults names the flags whose default depends on the machine
// (GOMAXPROCS), with the text the reference shows instead of this
// machine's number, so that the pages are the same everywhere.
var machineDefaults = map[string]string{"workers": "GOMAXPROCS"}

// cliPages renders the reference of a fresh command tree: file name (as
// cobra/doc names it, e.g. flexrec_data_stats.md) to page.
func cliPages() (map[string][]byte, error) {
	root := newRootCmd(strings.NewReader(""), io.Discard, io.Discard)
	root.InitDefaultCompletionCmd() // Execute adds it; the reference shows what users get
	procs := strconv.Itoa(runtime.GOMAXPROCS(0))
	pages := map[string][]byte{}
	var walk func(c *cobra.Command) error
	walk = func(c *cobra.Command) error {
		if !c.IsAvailableCommand() && c != root || c.IsAdditionalHelpTopicCommand() {
			return nil
		}
		c.DisableAutoGenTag = true // no "Auto generated ... on DATE" footer
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if text, ok := machineDefaults[f.Name]; ok && f.DefValue == procs {
				f.DefValue = text
			}
		})
		var buf bytes.Buffer
		if err := doc.GenMarkdownCustom(c, &buf, func(s string) string { return s }); err != nil {
			return fmt.Errorf("docs: %s: %w", c.CommandPath(), err)
		}
		pages[strings.ReplaceAll(c.CommandPath(), " ", "_")+".md"] = buf.Bytes()
		for _, sub := range c.Commands() {
			if err := walk(sub); err != nil {
				return err
			}
		}
		return nil
	}
	return pages, walk(root)
}

// writePages writes pages into dir and removes the other .md files there,
// so that dir holds exactly the reference of the current tree.
func writePages(dir string, pages map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("docs: %w", err)
	}
	old, err := filepath.Glob(filepath.Join(dir, "*.md"))
	if err != nil {
		return fmt.Errorf("docs: %w", err)
	}
	for _, path := range old {
		if _, keep := pages[filepath.Base(path)]; !keep {
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("docs: remove stale page: %w", err)
			}
		}
	}
	names := make([]string, 0, len(pages))
	for name := range pages {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(dir, name), pages[name], 0o644); err != nil {
			return fmt.Errorf("docs: %w", err)
		}
	}
	return nil
}
