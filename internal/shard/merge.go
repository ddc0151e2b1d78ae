package shard

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/flexrec/flexrec/internal/atomicfile"
	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rollout"
)

// MergeStats says what MergeRollouts found and wrote.
type MergeStats struct {
	// Inputs is the number of files read; Records the records read.
	Inputs, Records int
	// Duplicates counts records found more than once (identical copies).
	Duplicates int
	// Episodes and Rollouts are what the merged file holds; Invalid counts
	// its rollouts whose answer needed repair, PromptTokens and
	// CompletionTokens add up their usage.
	Episodes, Rollouts, Invalid    int
	PromptTokens, CompletionTokens int
	// Missing lists the episodes without a complete group, in order.
	Missing []string `json:",omitempty"`
	// Fingerprint is the job fingerprint every record carries.
	Fingerprint string
}

// ErrIncomplete is returned by MergeRollouts when episodes lack a
// complete group and incomplete merges were not allowed.
var ErrIncomplete = errors.New("shard: episodes without a complete group (a shard is missing or unfinished)")

// MergeRollouts joins rollouts files (the shards' outputs, in any order,
// overlapping or not) into out, ordered as one unsharded run over eps
// orders them: episodes in eps order, rollouts 0..G-1. Every record is
// verified on the way: its checksum (a record without one is refused),
// its job fingerprint (all records and every input's .meta.json sidecar
// must agree), its episode (one of eps) and its place in its group. A
// record found twice must be identical and is kept once. Episodes
// without a complete group are listed in MergeStats.Missing; unless
// allowIncomplete, that is ErrIncomplete and nothing is written. out and
// out.meta.json are written atomically, as rollout.Run writes them, so a
// merged file can be resumed (completed) by rollout.Run.
func MergeRollouts(inputs []string, eps []prompt.Episode, out string, allowIncomplete bool) (MergeStats, error) {
	st := MergeStats{Inputs: len(inputs)}
	index := make(map[string]int, len(eps))
	for i := range eps {
		index[eps[i].ID] = i
	}
	groups := make([][][]byte, len(eps))
	facts := make([][]recFacts, len(eps))
	for _, in := range inputs {
		if err := st.read(in, index, groups, facts); err != nil {
			return st, err
		}
	}
	var buf []byte
	for i := range eps {
		if !complete(groups[i]) {
			st.Missing = append(st.Missing, eps[i].ID)
			continue
		}
		st.Episodes++
		for k, line := range groups[i] {
			buf = append(buf, line...)
			st.Rollouts++
			f := facts[i][k]
			st.Invalid += f.invalid
			st.PromptTokens += f.prompt
			st.CompletionTokens += f.completion
		}
	}
	if len(st.Missing) > 0 && !allowIncomplete {
		return st, fmt.Errorf("%w: %d of %d episodes, the first %q", ErrIncomplete, len(st.Missing), len(eps), st.Missing[0])
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return st, fmt.Errorf("shard: %w", err)
	}
	if err := atomicfile.WriteFile(out, buf, 0o644); err != nil {
		return st, err
	}
	side, _ := json.Marshal(sidecar{Schema: rollout.SchemaVersion, Fingerprint: st.Fingerprint}) // plain struct: cannot fail
	return st, atomicfile.WriteFile(out+".meta.json", side, 0o644)
}

// sidecar is rollout.Run's .meta.json.
type sidecar struct {
	Schema      int    `json:"schema_version"`
	Fingerprint string `json:"fingerprint"`
}

func complete(g [][]byte) bool {
	if len(g) == 0 {
		return false
	}
	for _, line := range g {
		if line == nil {
			return false
		}
	}
	return true
}

// recFacts are the counts a merged record adds to MergeStats.
type recFacts struct{ invalid, prompt, completion int }

// read adds one input's records to groups.
func (st *MergeStats) read(path string, index map[string]int, groups [][][]byte, facts [][]recFacts) error {
	if err := st.checkSidecar(path); err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("shard: %w", err)
	}
	defer f.Close()
	n := 0
	for rec, err := range rollout.Scan(f, path) {
		if err != nil {
			return fmt.Errorf("shard: %w", err)
		}
		n++
		if err := st.place(rec, fmt.Sprintf("%s:%d", path, n), index, groups, facts); err != nil {
			return err
		}
	}
	return nil
}

// place checks one record and puts it in its group.
func (st *MergeStats) place(rec *rollout.Record, where string, index map[string]int, groups [][][]byte, facts [][]recFacts) error {
	st.Records++
	if rec.Checksum == "" || rec.JobFingerprint == "" {
		return fmt.Errorf("shard: %s: record without a checksum or job fingerprint: not written by rollout.Run", where)
	}
	if st.Fingerprint == "" {
		st.Fingerprint = rec.JobFingerprint
	}
	if rec.JobFingerprint != st.Fingerprint {
		return fmt.Errorf("shard: %s: job fingerprint %s, want %s: the shards ran different jobs", where, rec.JobFingerprint, st.Fingerprint)
	}
	i, ok := index[rec.EpisodeID]
	if !ok {
		return fmt.Errorf("shard: %s: episode %q is not among the episodes", where, rec.EpisodeID)
	}
	if rec.Group < 1 || rec.Rollout < 0 || rec.Rollout >= rec.Group || (groups[i] != nil && len(groups[i]) != rec.Group) {
		return fmt.Errorf("shard: %s: episode %q rollout %d of a group of %d does not fit its group", where, rec.EpisodeID, rec.Rollout, rec.Group)
	}
	line, err := rollout.AppendRecord(nil, rec)
	if err != nil {
		return err
	}
	if groups[i] == nil {
		groups[i], facts[i] = make([][]byte, rec.Group), make([]recFacts, rec.Group)
	}
	if old := groups[i][rec.Rollout]; old != nil {
		if string(old) != string(line) {
			return fmt.Errorf("shard: %s: episode %q rollout %d differs from an earlier copy", where, rec.EpisodeID, rec.Rollout)
		}
		st.Duplicates++
		return nil
	}
	groups[i][rec.Rollout] = line
	facts[i][rec.Rollout] = recFacts{prompt: rec.Usage.PromptTokens, completion: rec.Usage.CompletionTokens}
	if !rec.Parse.Valid {
		facts[i][rec.Rollout].invalid = 1
	}
	return nil
}

// checkSidecar compares an input's .meta.json, when there is one, with
// the fingerprint seen so far.
func (st *MergeStats) checkSidecar(path string) error {
	data, err := os.ReadFile(path + ".meta.json")
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("shard: %w", err)
	}
	var m sidecar
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("shard: read %s.meta.json: %w", path, err)
	}
	if m.Schema != rollout.SchemaVersion {
		return fmt.Errorf("shard: %s.meta.json: schema %d, want %d", path, m.Schema, rollout.SchemaVersion)
	}
	if st.Fingerprint != "" && m.Fingerprint != st.Fingerprint {
		return fmt.Errorf("shard: %s.meta.json: job fingerprint %s, want %s: the shards ran different jobs", path, m.Fingerprint, st.Fingerprint)
	}
	st.Fingerprint = m.Fingerprint
	return nil
}
