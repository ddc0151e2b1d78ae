package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/flexrec/flexrec/export"
)

// exports writes each of the job's export formats from dir/rollouts.jsonl
// into dir/exports/<format>/, each with its manifest.json. Exports are
// deterministic functions of the rollouts, so a resumed job rewrites them
// whole.
func exports(ctx context.Context, job Job, dir string, log *slog.Logger) ([]string, error) {
	in := filepath.Join(dir, "rollouts.jsonl")
	var written []string
	for _, name := range job.Exports {
		cfg := export.DefaultConfig()
		cfg.Format = export.Format(name)
		if err := cfg.Validate(); err != nil {
			return written, fmt.Errorf("pipeline: exports: %w", err)
		}
		out := filepath.Join(dir, "exports", name)
		if err := os.MkdirAll(out, 0o755); err != nil {
			return written, fmt.Errorf("pipeline: %w", err)
		}
		if err := exportOne(ctx, cfg, in, out, log); err != nil {
			return written, err
		}
		log.Info("export written", "format", name, "dir", out)
		written = append(written, out)
	}
	return written, nil
}

func exportOne(ctx context.Context, cfg export.Config, in, out string, log *slog.Logger) error {
	f, err := os.Open(in)
	if err != nil {
		return fmt.Errorf("pipeline: export %s: %w", cfg.Format, err)
	}
	defer f.Close()
	_, err = export.Export(ctx, cfg, []export.Input{{Name: "rollouts.jsonl", R: f}}, out, log)
	return err
}
