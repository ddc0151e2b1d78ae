package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/flexrec/flexrec/eval"
	"github.com/flexrec/flexrec/eval/dataset"
	"github.com/flexrec/flexrec/internal/folderlock"
	"github.com/flexrec/flexrec/internal/shard"
	"github.com/flexrec/flexrec/prompt"
)

// MergeSummary says what Merge wrote.
type MergeSummary struct {
	// Rollouts are the rollouts' merge counts.
	Rollouts shard.MergeStats `json:"rollouts"`
	// Exports lists the export folders rebuilt from the merged rollouts.
	Exports []string `json:"exports"`
	// Report is the report folder computed from the shards' parts; empty
	// when the job skips the report.
	Report string `json:"report,omitempty"`
}

// sharedFiles are the files every shard of a job writes alike (the whole
// job's, not the shard's) and a merge copies once.
var sharedFiles = []string{"job.json", "episodes.jsonl", "heldout.jsonl", "critic.json"}

// Merge joins the output folders of a job's shards (Options.Shard) into
// out as one unsharded run writes it: job.json, the episode files and
// the critic (which every shard must hold byte for byte alike, else the
// shards ran different jobs), rollouts.jsonl merged by
// shard.MergeRollouts (ordered, deduplicated, checksums and job
// fingerprints verified), the exports rebuilt from the merged rollouts,
// and the report computed from the shards' parts (eval.MergeShards: the
// means and intervals of one machine's report; the header's rollout
// figures from the merged rollouts). Errors name the shard folder and
// the file.
func Merge(ctx context.Context, dirs []string, out string, log *slog.Logger) (_ *MergeSummary, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("pipeline: merge: no shard folders")
	}
	lock, err := folderlock.Acquire(out)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	defer func() {
		if rerr := lock.Release(); rerr != nil && err == nil {
			err = rerr
		}
	}()
	var jf jobFile
	if err := copyShared(dirs, out, &jf); err != nil {
		return nil, err
	}
	eps, err := dataset.ReadEpisodesFile(ctx, filepath.Join(out, "episodes.jsonl"))
	if err != nil {
		return nil, err
	}
	inputs := make([]string, len(dirs))
	for i, d := range dirs {
		inputs[i] = filepath.Join(d, "rollouts.jsonl")
	}
	sum := &MergeSummary{}
	if sum.Rollouts, err = shard.MergeRollouts(inputs, eps, filepath.Join(out, "rollouts.jsonl"), false); err != nil {
		return sum, err
	}
	if sum.Rollouts.Fingerprint != jf.Fingerprint {
		return sum, fmt.Errorf("pipeline: merge: the rollouts' fingerprint %s is not job.json's %s", sum.Rollouts.Fingerprint, jf.Fingerprint)
	}
	if sum.Exports, err = exports(ctx, jf.Job, out, log); err != nil {
		return sum, err
	}
	sum.Report, err = mergeReport(dirs, out, sum.Rollouts)
	return sum, err
}

// copyShared checks that every shard holds the same shared files and
// copies them into out; job.json is decoded into jf.
func copyShared(dirs []string, out string, jf *jobFile) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	for _, name := range sharedFiles {
		first, err := os.ReadFile(filepath.Join(dirs[0], name))
		if errors.Is(err, os.ErrNotExist) && name == "critic.json" {
			continue // dense jobs train no critic
		}
		if err != nil {
			return fmt.Errorf("pipeline: merge: %w", err)
		}
		for _, d := range dirs[1:] {
			other, err := os.ReadFile(filepath.Join(d, name))
			if err != nil {
				return fmt.Errorf("pipeline: merge: %w", err)
			}
			if !bytes.Equal(first, other) {
				return fmt.Errorf("pipeline: merge: %s differs from %s: the shards ran different jobs",
					filepath.Join(d, name), filepath.Join(dirs[0], name))
			}
		}
		if name == "job.json" {
			if err := json.Unmarshal(first, jf); err != nil {
				return fmt.Errorf("pipeline: merge: %s: %w", filepath.Join(dirs[0], name), err)
			}
		}
		if err := writeFile(filepath.Join(out, name), first); err != nil {
			return err
		}
	}
	return nil
}

// reportShardName is a sharded job's part of the report, in dir/report.
const reportShardName = "shard.json"

// evaluate runs the report's evaluation: all of test, or, for a shard,
// its episodes with what eval.MergeShards needs (part; rep is then the
// shard's own report).
func evaluate(ctx context.Context, rankers []eval.Ranker, test []prompt.Episode, cfg eval.Config, sh shard.Spec) (rep *eval.Report, part *eval.Shard, err error) {
	if sh.N == 0 {
		rep, err = eval.Evaluate(ctx, rankers, test, cfg)
		return rep, nil, err
	}
	part, err = eval.EvaluateShard(ctx, rankers, test, func(e *prompt.Episode) bool { return sh.Has(e.ID) }, cfg)
	if err != nil {
		return nil, nil, err
	}
	return part.Report, part, nil
}

// writeReportShard writes a shard's part of the report.
func writeReportShard(dir string, part *eval.Shard) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	data, err := json.Marshal(part)
	if err != nil {
		return fmt.Errorf("pipeline: encode the report shard: %w", err)
	}
	return writeFile(filepath.Join(dir, reportShardName), append(data, '\n'))
}

// mergeReport computes the whole report from the shards' parts into
// out/report, with the header's rollout figures of the merged rollouts;
// it writes nothing when no shard has a part (eval.skip).
func mergeReport(dirs []string, out string, st shard.MergeStats) (string, error) {
	var parts []*eval.Shard
	for _, d := range dirs {
		data, err := os.ReadFile(filepath.Join(d, "report", reportShardName))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("pipeline: merge: %w", err)
		}
		var p eval.Shard
		if err := json.Unmarshal(data, &p); err != nil {
			return "", fmt.Errorf("pipeline: merge: %s: %w", filepath.Join(d, "report", reportShardName), err)
		}
		parts = append(parts, &p)
	}
	if len(parts) == 0 {
		return "", nil
	}
	if len(parts) < len(dirs) {
		return "", fmt.Errorf("pipeline: merge: %d of %d shards have a report part", len(parts), len(dirs))
	}
	rep, err := eval.MergeShards(parts)
	if err != nil {
		return "", err
	}
	if m := rep.Meta.Rollouts; m != nil {
		m.Episodes, m.Rollouts = st.Episodes, st.Rollouts
		m.PromptTokens, m.CompletionTokens = st.PromptTokens, st.CompletionTokens
		if st.Rollouts > 0 {
			m.InvalidRate = float64(st.Invalid) / float64(st.Rollouts)
		}
		m.Cost = sumRolloutCost(parts)
	}
	path := filepath.Join(out, "report")
	return path, eval.WriteDir(path, rep)
}

// sumRolloutCost adds up the shards' rollout cost; nil when one has none.
func sumRolloutCost(parts []*eval.Shard) *float64 {
	var sum float64
	for _, p := range parts {
		m := p.Report.Meta.Rollouts
		if m == nil || m.Cost == nil {
			return nil
		}
		sum += *m.Cost
	}
	return &sum
}
