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

	"github.com/flexrec/flexrec/eval/dataset"
	"github.com/flexrec/flexrec/internal/folderlock"
	"github.com/flexrec/flexrec/internal/shard"
)

// MergeSummary says what Merge wrote.
type MergeSummary struct {
	// Rollouts are the rollouts' merge counts.
	Rollouts shard.MergeStats `json:"rollouts"`
	// Exports lists the export folders rebuilt from the merged rollouts.
	Exports []string `json:"exports"`
}

// sharedFiles are the files every shard of a job writes alike (the whole
// job's, not the shard's) and a merge copies once.
var sharedFiles = []string{"job.json", "episodes.jsonl", "heldout.jsonl", "critic.json"}

// Merge joins the output folders of a job's shards (Options.Shard) into
// out as one unsharded run writes it: job.json, the episode files and
// the critic (which every shard must hold byte for byte alike, else the
// shards ran different jobs), rollouts.jsonl merged by
// shard.MergeRollouts (ordered, deduplicated, checksums and job
// fingerprints verified), and the exports rebuilt from the merged
// rollouts. The report is not merged: shards write none, and a report
// needs the policy's requests (run the job unsharded with the merged
// folder as --out for it: the rollouts are found done). Errors name the
// shard folder and the file.
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
	sum.Exports, err = exports(ctx, jf.Job, out, log)
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
