// Command flexrec-testmodel writes flexrec's tiny test model, a GGUF file
// whose weights are a Markov-chain ranking policy over the short ids
// [1]..[N] (see package llm/testmodel), and an Ollama Modelfile for it.
// scripts/ollama-test-server.sh runs it; then `ollama create NAME -f
// Modelfile` loads the model into a server.
//
// Usage:
//
//	flexrec-testmodel -o model.gguf [-modelfile Modelfile] [-ids 30] [-seed 1]
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/flexrec/flexrec/llm/testmodel"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "flexrec-testmodel: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("flexrec-testmodel", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := testmodel.DefaultConfig()
	out := fs.String("o", "flexrec-tiny.gguf", "GGUF file to write")
	modelfile := fs.String("modelfile", "", "Modelfile to write (FROM the GGUF's absolute path); none when empty")
	fs.IntVar(&cfg.IDs, "ids", cfg.IDs, "number of short ids [1]..[N] the policy ranks (2-99)")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the hidden preference order")
	fs.Float64Var(&cfg.Swap, "swap", cfg.Swap, "chance per step of swapping the next two items")
	fs.Float64Var(&cfg.Noise, "noise", cfg.Noise, "chance per step of a defect (jump, bare separator, cut-off, stray text)")
	fs.Float64Var(&cfg.Prefix, "prefix", cfg.Prefix, "chance of the stray prefix \"Here is my ranking:\"")
	if err := fs.Parse(args); err != nil {
		return err
	}
	m, err := testmodel.New(cfg)
	if err != nil {
		return err
	}
	if err := writeAtomic(*out, m.WriteGGUF); err != nil {
		return err
	}
	if *modelfile == "" {
		return nil
	}
	abs, err := filepath.Abs(*out)
	if err != nil {
		return err
	}
	return writeAtomic(*modelfile, func(w io.Writer) error {
		_, err := io.WriteString(w, testmodel.Modelfile(abs))
		return err
	})
}

// writeAtomic writes path through a temporary file and a rename, so a
// reader never sees half a model.
func writeAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after a successful rename this fails harmlessly
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(f.Name(), path)
}
