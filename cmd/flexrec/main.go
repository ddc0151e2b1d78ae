// Command flexrec turns any hosted or local LLM into a need-aware
// recommender and produces the reinforcement-learning signal to improve it.
// Each subcommand is a thin layer over one package; run `flexrec --help`.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes, listed in every command's help.
const (
	exitOK       = 0
	exitError    = 1
	exitUsage    = 2
	exitCanceled = 130
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first signal cancels ctx: jobs finish what is in flight and
		// flush. Restoring the default handling lets a second one end the
		// process at once, e.g. when a server hangs.
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line and maps its error to an exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		fmt.Fprintln(stderr, "flexrec: interrupted; partial results were flushed and the same command resumes them")
		return exitCanceled
	case isUsage(err):
		path := root.CommandPath()
		if c, _, ferr := root.Find(args); ferr == nil {
			path = c.CommandPath()
		}
		fmt.Fprintf(stderr, "flexrec: %v\nRun '%s --help' for usage.\n", err, path)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "flexrec: %v\n", err)
		return exitError
	}
}
