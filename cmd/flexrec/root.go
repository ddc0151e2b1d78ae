package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/flexrec/flexrec/export"
	"github.com/flexrec/flexrec/pipeline"
)

// usageError marks an error in the command line itself (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usage error (exit code 2).
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// isUsage reports whether err is something the user typed wrong, on the
// command line or in a config file (exit code 2).
func isUsage(err error) bool {
	var u usageError
	var ce *pipeline.ConfigError
	return errors.As(err, &u) || errors.As(err, &ce) || strings.HasPrefix(err.Error(), "unknown command") ||
		strings.HasPrefix(err.Error(), "unknown flag") || strings.HasPrefix(err.Error(), "unknown shorthand") ||
		strings.Contains(err.Error(), "flag needs an argument") || strings.HasPrefix(err.Error(), "invalid argument")
}

// io3 carries a command's standard streams, so run functions never touch os.
type io3 struct {
	in       io.Reader
	out, err io.Writer
}

const exitCodesHelp = `
Exit codes: 0 success, 1 error, 2 bad command line, 130 interrupted.`

func newRootCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	s := io3{in: stdin, out: stdout, err: stderr}
	root := &cobra.Command{
		Use:   "flexrec",
		Short: "Need-aware LLM recommendation and the RL signal to improve it",
		Long: `flexrec turns any hosted or local LLM into a need-aware recommender
(interest, explore, trend, search) and produces FlexRec's reinforcement-learning
signal: causal swap item rewards, an uncertainty-aware critic and token-level
advantages, exported for TRL, verl and OpenRLHF.` + exitCodesHelp,
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       export.Version(),
	}
	root.SetVersionTemplate("flexrec {{.Version}}\n")
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	for _, c := range []*cobra.Command{
		// Each command lives in its own file: new<Name>Cmd(s io3).
		newNeedsCmd(s),
		newPromptCmd(s),
		newRunCmd(s),
		newRolloutCmd(s),
		newBatchCmd(s),
		newMergeCmd(s),
		newExportCmd(s),
		newEpisodesCmd(s),
		newDataCmd(s),
		newEvalCmd(s),
		newRewardCmd(s),
		newCriticCmd(s),
		newTestbedCmd(s),
		newParseCmd(s),
		newRankCmd(s),
		newServeCmd(s),
		newDocsCmd(s),
		newVersionCmd(s),
	} {
		c.Long += exitCodesHelp
		root.AddCommand(c)
	}
	return root
}
