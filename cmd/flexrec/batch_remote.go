package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/flexrec/flexrec/batch"
	"github.com/flexrec/flexrec/llm"
)

type batchRemoteOptions struct {
	verb       string
	baseURL    string
	apiKeyFile string
	wait       bool
	poll       time.Duration
}

var batchRemoteShort = map[string]string{
	"submit":  "Upload the request files and create their batches (resumable)",
	"status":  "Show the batches' status and request counts",
	"collect": "Download the output and error files of finished batches",
}

func newBatchRemoteCmd(s io3, verb string) *cobra.Command {
	o := &batchRemoteOptions{verb: verb}
	c := &cobra.Command{
		Use:   verb + " DIR",
		Short: batchRemoteShort[verb],
		Long: batchRemoteShort[verb] + `, through the OpenAI Files and
Batches APIs (completion window 24h). What was done is recorded in
DIR/batch-state.json, so the command run again after a kill does nothing
twice. The key comes from $OPENAI_API_KEY or --api-key-file and is never
written; the server from $OPENAI_BASE_URL or --base-url.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runBatchRemote(cmd.Context(), o, args[0], s) },
	}
	f := c.Flags()
	f.StringVar(&o.baseURL, "base-url", "", "API root (default $OPENAI_BASE_URL, then OpenAI's)")
	f.StringVar(&o.apiKeyFile, "api-key-file", "", "file holding the API key (default $OPENAI_API_KEY)")
	if verb == "collect" {
		f.BoolVar(&o.wait, "wait", false, "poll until every batch is finished and downloaded")
		f.DurationVar(&o.poll, "poll", 30*time.Second, "time between polls with --wait")
	}
	return c
}

func (o *batchRemoteOptions) remote() (*batch.Remote, error) {
	cfg := llm.OpenAIConfigFromEnvironment()
	if o.baseURL != "" {
		cfg.BaseURL = o.baseURL
	}
	if o.apiKeyFile != "" {
		key, err := llm.LoadAPIKey(o.apiKeyFile)
		if err != nil {
			return nil, err
		}
		cfg.APIKey = key
	}
	return batch.NewRemote(batch.RemoteConfig{BaseURL: cfg.BaseURL, APIKey: cfg.APIKey}), nil
}

func runBatchRemote(ctx context.Context, o *batchRemoteOptions, dir string, s io3) error {
	r, err := o.remote()
	if err != nil {
		return err
	}
	var st *batch.State
	switch o.verb {
	case "submit":
		st, err = r.Submit(ctx, dir)
	case "status":
		st, err = r.Status(ctx, dir)
	case "collect":
		st, err = o.collect(ctx, r, dir, s)
	}
	if st != nil {
		if encErr := encodeJSON(s, st); encErr != nil && err == nil {
			err = encErr
		}
	}
	return err
}

// collect downloads what is finished, polling with --wait until all is.
func (o *batchRemoteOptions) collect(ctx context.Context, r *batch.Remote, dir string, s io3) (*batch.State, error) {
	for {
		st, done, err := r.Collect(ctx, dir)
		if err != nil || done || !o.wait {
			return st, err
		}
		fmt.Fprintf(s.err, "batch collect: waiting for %d batches\n", unfinished(st))
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(o.poll):
		}
	}
}

func unfinished(st *batch.State) int {
	n := 0
	for _, f := range st.Files {
		if f.Output == "" && f.Errors == "" {
			n++
		}
	}
	return n
}
