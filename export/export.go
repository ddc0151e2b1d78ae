package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"

	"github.com/flexrec/flexrec/export/internal/jsonl"
	"github.com/flexrec/flexrec/internal/atomicfile"
	"github.com/flexrec/flexrec/rollout"
)

// Input is one rollouts JSON Lines stream.
type Input struct {
	// Name identifies the input in errors and in the manifest: a file
	// name, or "stdin".
	Name string
	// R is the stream; Export reads it to the end and does not close it.
	R io.Reader
}

// output is one file of an export: committed (published under its name)
// when the export succeeds, aborted (its temporary file removed) when not.
type output interface {
	commit() error
	abort()
	fileInfo() FileInfo
}

func (o *outFile) fileInfo() FileInfo { return o.info }

// formatWriter turns groups into rows of one format.
type formatWriter interface {
	// group writes one complete group. An error that is a *LineError
	// comes before anything of the group was written.
	group(g *group) error
	outputs() []output
}

// Export reads the rollout records of inputs, in order, and writes
// cfg.Format's files and ManifestName into dir (created if missing). It
// streams: memory holds one episode group, one Parquet row group and
// the footer of one Parquet shard, whatever the input size. Each file is written under a temporary name
// and renamed when complete; any old manifest is removed first and the
// new one written last, so an interrupted export leaves no manifest.
//
// The records of an episode must be contiguous and form a whole group
// (rollouts 0..G-1); other groups are skipped and counted. A line that is
// not a record fails the export with a *LineError naming input and line,
// unless cfg.SkipInvalid, which skips and counts it instead. log (nil:
// none) gets a warning for each skipped line or group. Export checks ctx
// between groups; when it is done, Export returns its error and removes
// what it wrote.
func Export(ctx context.Context, cfg Config, inputs []Input, dir string, log *slog.Logger) (*Manifest, error) {
	return export(ctx, cfg, inputs, dir, log, atomicCreate)
}

func export(ctx context.Context, cfg Config, inputs []Input, dir string, log *slog.Logger, create createFunc) (*Manifest, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := prepareDir(dir); err != nil {
		return nil, err
	}
	st := newStats()
	w, err := newFormatWriter(cfg, dir, create, st)
	if err != nil {
		return nil, err
	}
	m, err := run(ctx, cfg, inputs, w, st, log)
	if err != nil {
		abortAll(w.outputs())
		return nil, err
	}
	m.Counts.ValidationEpisodes = st.valEpisodes
	outs, err := withExtras(cfg, dir, create, m, w.outputs())
	if err != nil {
		abortAll(outs)
		return nil, err
	}
	for _, o := range outs {
		if err := o.commit(); err != nil {
			abortAll(outs)
			return nil, err
		}
		m.Files = append(m.Files, o.fileInfo())
		m.Counts.Rows += o.fileInfo().Rows
	}
	return m, writeManifest(dir, m)
}

func newFormatWriter(cfg Config, dir string, create createFunc, st *stats) (formatWriter, error) {
	if cfg.ValFraction > 0 {
		return newSplitWriter(cfg, dir, create, st)
	}
	return newOneWriter(cfg, dir, create, st)
}

// newOneWriter returns the writer of one split.
func newOneWriter(cfg Config, dir string, create createFunc, st *stats) (formatWriter, error) {
	switch cfg.Format {
	case Native:
		return newNativeWriter(cfg, dir, create)
	case TRLPreference, OpenRLHF:
		return newPrefWriter(cfg, dir, create, st)
	case TRLKTO:
		return newKTOWriter(cfg, dir, create, st)
	case TRLGRPO:
		return newGRPOWriter(cfg, dir, create)
	case Verl:
		return newVerlWriter(cfg, dir, create)
	}
	return nil, fmt.Errorf("export: unknown format %q", cfg.Format) // Validate rules this out
}

// run reads every input through w and returns the manifest without its
// files.
func run(ctx context.Context, cfg Config, inputs []Input, w formatWriter, st *stats, log *slog.Logger) (*Manifest, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the readers of an input left half-read
	m := &Manifest{
		SchemaVersion: SchemaVersion, RecordSchemaVersion: rollout.SchemaVersion, FlexrecVersion: Version(),
		Format: cfg.Format, Config: manifestConfig(cfg), Inputs: []InputInfo{}, Files: []FileInfo{},
		Fields: Fields(cfg.Format), SkipReasons: maps.Clone(skipReasons),
	}
	var g group
	for _, in := range inputs {
		src := jsonl.NewReader(ctx, in.Name, in.R, cfg.InputHash.newHash())
		gr := &grouper{src: src, skip: cfg.SkipInvalid, st: st, log: log}
		for {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			ok, err := gr.next(ctx, &g)
			if err != nil {
				return nil, err
			}
			if !ok {
				break
			}
			if err := writeGroup(&g, w, cfg, st, log); err != nil {
				return nil, err
			}
		}
		info := InputInfo{Name: in.Name, Bytes: src.Bytes(), Lines: src.Line()}
		if cfg.InputHash == CRC32C {
			info.CRC32C = src.Sum()
		} else {
			info.SHA256 = src.Sum()
		}
		m.Inputs = append(m.Inputs, info)
	}
	m.Counts = Counts{Lines: st.lines, Records: st.records, Episodes: st.episodes, Rollouts: st.rollouts,
		Pairs: st.pairs, Skipped: st.skipped}
	m.Seeds, m.RewardSwitches = st.seeds(), st.switches
	m.Lengths = st.lengths.result()
	m.TrainerSettings = m.Lengths.settings()
	return m, nil
}

// writeGroup writes one group, or skips and counts it.
func writeGroup(g *group, w formatWriter, cfg Config, st *stats, log *slog.Logger) error {
	if !g.complete() {
		st.skip(skipIncomplete, g.size())
		log.Warn("skipped incomplete group", "input", g.input, "line", g.lineNos[0], "episode", string(g.id),
			"records", g.size(), "group_size", g.heads[0].group)
		return nil
	}
	err := w.group(g)
	var le *LineError
	if err != nil && cfg.SkipInvalid && errors.As(err, &le) {
		st.skip(skipInvalidGroup, g.size())
		log.Warn("skipped group with an invalid record", "err", err)
		return nil
	}
	if err == nil {
		st.exported(g)
	}
	return err
}

// prepareDir creates dir, removes an old manifest (from now on the folder
// holds no finished export until the new manifest is written) and the
// temporary files of a killed export.
func prepareDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := os.Remove(filepath.Join(dir, ManifestName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("export: %w", err)
	}
	return removeOrphans(dir)
}

func writeManifest(dir string, m *Manifest) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("export: manifest: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, ManifestName), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

func abortAll(outs []output) {
	for _, o := range outs {
		o.abort()
	}
}
