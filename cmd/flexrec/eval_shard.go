package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/flexrec/flexrec/eval"
	"github.com/flexrec/flexrec/internal/atomicfile"
	"github.com/flexrec/flexrec/internal/shard"
	"github.com/flexrec/flexrec/prompt"
)

// evalShardName is the file eval --shard writes into --out.
const evalShardName = "shard.json"

// runShard evaluates --shard's episodes into --out/shard.json (with the
// whole episode order and every per-episode result) and prints the
// shard's own report.
func (o *evalOptions) runShard(ctx context.Context, rankers []eval.Ranker, eps []prompt.Episode, ec eval.Config, meta func(*eval.Report), s io3) error {
	sh, err := shard.Parse(o.shard)
	if err != nil {
		return usagef("--shard: %v", err)
	}
	if o.out == "" {
		return usagef("--shard needs --out: the shard's results go to OUT/%s for 'flexrec merge'", evalShardName)
	}
	res, err := eval.EvaluateShard(ctx, rankers, eps, func(e *prompt.Episode) bool { return sh.Has(e.ID) }, ec)
	if err != nil {
		return err
	}
	meta(res.Report)
	data, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("eval: encode shard: %w", err)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(o.out, evalShardName), append(data, '\n'), 0o644); err != nil {
		return err
	}
	if o.format == "json" {
		return eval.WriteJSON(s.out, res.Report)
	}
	return eval.WriteMarkdown(s.out, res.Report)
}

// isEvalShard reports whether dir holds an eval shard.
func isEvalShard(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, evalShardName))
	return err == nil
}

// runMergeEval merges eval shard folders into --out's report.
func runMergeEval(o *mergeOptions, dirs []string, s io3) error {
	var shards []*eval.Shard
	for _, d := range dirs {
		data, err := os.ReadFile(filepath.Join(d, evalShardName))
		if err != nil {
			return fmt.Errorf("merge: %w", err)
		}
		var sh eval.Shard
		if err := json.Unmarshal(data, &sh); err != nil {
			return fmt.Errorf("merge: read %s: %w", filepath.Join(d, evalShardName), err)
		}
		shards = append(shards, &sh)
	}
	rep, err := eval.MergeShards(shards)
	if err != nil {
		return err
	}
	if err := eval.WriteDir(o.out, rep); err != nil {
		return err
	}
	return eval.WriteMarkdown(s.out, rep)
}
