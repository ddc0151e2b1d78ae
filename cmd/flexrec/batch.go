package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flexrec/flexrec/batch"
	"github.com/flexrec/flexrec/llm"
	"github.com/flexrec/flexrec/pipeline"
	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rl"
	"github.com/flexrec/flexrec/rl/critic"
	"github.com/flexrec/flexrec/rollout"
)

// prepareName is the file, in a batch folder, holding the rollout flags
// prepare was given, so ingest and --retry-failed render the same requests.
const prepareName = "prepare.json"

func newBatchCmd(s io3) *cobra.Command {
	c := &cobra.Command{
		Use:   "batch",
		Short: "Sample rollouts through batch inference (the OpenAI Batch API, vllm run-batch)",
		Long: `Sample rollouts offline, at batch prices, through the OpenAI Batch API or
any engine that reads its file format (vllm run-batch):

  prepare   write the requests as requests-NNNNN.jsonl (the same flags as rollout)
  submit    upload the files and create the batches (resumable)
  status    show the batches' progress
  collect   download the output and error files of finished batches
  ingest    turn the output files into rollouts.jsonl, identical to what
            'flexrec rollout' writes for the same answers

Requests without a usable answer are listed in DIR/failed.jsonl; 'batch
prepare --retry-failed --out DIR' writes just those into DIR/retry-N, and
ingest run again adds the episodes they complete.

Examples:
  flexrec batch prepare --episodes eps.jsonl --model gpt-4o-mini --out b/
  flexrec batch submit b/ && flexrec batch collect b/ --wait
  flexrec batch ingest b/
  vllm run-batch -i b/requests-00000.jsonl -o b/output-00000.jsonl --model M
  flexrec batch ingest b/ --results b/output-00000.jsonl`,
	}
	c.AddCommand(newBatchPrepareCmd(s), newBatchRemoteCmd(s, "submit"), newBatchRemoteCmd(s, "status"),
		newBatchRemoteCmd(s, "collect"), newBatchIngestCmd(s))
	return c
}

// rolloutFlagSet registers o's rollout flags on a set of their own, so a
// batch command can record which were given and replay them.
func rolloutFlagSet(o *rolloutOptions) *pflag.FlagSet {
	fs := pflag.NewFlagSet("rollout", pflag.ContinueOnError)
	o.addFlags(fs)
	// Batches speak the OpenAI format: openai is the only backend.
	fs.Lookup("backend").DefValue = "openai"
	o.backend.cfg.Kind = "openai"
	return fs
}

// savedArgs are the rollout flags given, as --name=value, paths made
// absolute so the folder can be ingested from anywhere.
func savedArgs(fs *pflag.FlagSet) ([]string, error) {
	var args []string
	var err error
	fs.VisitAll(func(fl *pflag.Flag) { // Visit would miss them: the command's set parsed them
		if !fl.Changed {
			return
		}
		v := fl.Value.String()
		if v != "" && (fl.Name == "episodes" || fl.Name == "critic" || fl.Name == "api-key-file") {
			if v, err = filepath.Abs(v); err != nil {
				return
			}
		}
		args = append(args, "--"+fl.Name+"="+v)
	})
	return args, err
}

// loadPrepared replays the rollout flags prepare saved in dir.
func loadPrepared(dir string) (*rolloutOptions, error) {
	data, err := os.ReadFile(filepath.Join(dir, prepareName))
	if err != nil {
		return nil, fmt.Errorf("batch: %w (flexrec batch prepare writes it)", err)
	}
	var saved struct {
		Args []string `json:"args"`
	}
	if err := json.Unmarshal(data, &saved); err != nil {
		return nil, fmt.Errorf("batch: read %s: %w", filepath.Join(dir, prepareName), err)
	}
	o := &rolloutOptions{cfg: rollout.DefaultConfig()}
	if err := rolloutFlagSet(o).Parse(saved.Args); err != nil {
		return nil, fmt.Errorf("batch: %s: %w", filepath.Join(dir, prepareName), err)
	}
	o.out = filepath.Join(dir, "rollouts.jsonl")
	return o, o.verify()
}

// rolloutSetup is what a rollout needs besides a backend, read once: the
// episodes, the critic and the fingerprint the records carry.
type rolloutSetup struct {
	eps  []prompt.Episode
	pred rl.Predictor
	fp   string
	o    *rolloutOptions
}

// setup reads what o names. The fingerprint is rollout's own, so batch
// and online records carry the same.
func (o *rolloutOptions) setup(ctx context.Context) (*rolloutSetup, error) {
	_, eps, err := o.readEpisodes(ctx)
	if err != nil {
		return nil, err
	}
	su := &rolloutSetup{eps: eps, o: o}
	if o.critic != "" {
		if su.pred, err = critic.LoadFile(o.critic); err != nil {
			return nil, err
		}
	}
	if su.fp, err = o.fingerprint(); err != nil {
		return nil, err
	}
	return su, nil
}

// newRunner builds the runner rollout would, over b.
func (su *rolloutSetup) newRunner(b llm.Backend) (*rollout.Runner, error) {
	info := rollout.BackendInfo{Name: su.o.backend.cfg.Kind, Model: su.o.backend.cfg.Model}
	return rollout.NewRunner(b, info, su.o.cfg, su.pred)
}

// codec opens the OpenAI backend whose request bodies and answer
// conversion the batch uses; it sends nothing.
func (o *rolloutOptions) codec(log *slog.Logger) (batch.Codec, error) {
	if o.backend.cfg.Kind != "openai" {
		return nil, usagef("--backend %s: batches need --backend openai (the OpenAI batch format)", o.backend.cfg.Kind)
	}
	b, err := pipeline.OpenServer(o.backend.cfg, log)
	if err != nil {
		return nil, err
	}
	return b.(*llm.OpenAI), nil
}

func encodeJSON(s io3, v any) error {
	enc := json.NewEncoder(s.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
