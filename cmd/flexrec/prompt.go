package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/flexrec/flexrec/prompt"
)

type promptOptions struct {
	episode  string
	need     string
	seed     int64
	history  int
	maxText  int
	template string
	noShuf   bool
	schema   bool
}

func newPromptCmd(s io3) *cobra.Command {
	o := &promptOptions{}
	c := &cobra.Command{
		Use:   "prompt",
		Short: "Render the ranking prompt of one episode",
		Long: `Render the chat messages for one episode (a line of 'flexrec episodes', from
--episode or stdin) and print them as JSON with the mapping from short ids
[1]..[N] to the episode's candidates ("order": the item shown as [k+1] is
candidates[order[k]]).

Examples:
  flexrec episodes --dataset ml-latest-small --need explore --limit 1 | flexrec prompt --seed 3
  flexrec prompt --episode ep.json --template my-template.yaml --schema`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runPrompt(cmd.Context(), o, s) },
	}
	f := c.Flags()
	f.StringVar(&o.episode, "episode", "", "file holding the episode as one JSON line (default: stdin)")
	f.StringVar(&o.need, "need", "", "need id or needs file (default: the episode's need)")
	f.Int64Var(&o.seed, "seed", 0, "seed of the candidate shuffle for this rollout")
	f.IntVar(&o.history, "history", prompt.DefaultOptions().HistoryBudget, "most history items shown, most recent first")
	f.IntVar(&o.maxText, "max-text", prompt.DefaultMaxTextLen, "cap on each item text, in characters")
	f.StringVar(&o.template, "template", "", "YAML or JSON file overriding the system and user templates")
	f.BoolVar(&o.noShuf, "no-shuffle", false, "list candidates in the episode's order")
	f.BoolVar(&o.schema, "schema", false, "include the structured-output JSON schema")
	return c
}

func runPrompt(_ context.Context, o *promptOptions, s io3) error {
	ep, err := readOneEpisode(o.episode, s.in)
	if err != nil {
		return err
	}
	needID := o.need
	if needID == "" {
		needID = ep.Need
	}
	need, err := prompt.ResolveNeed(needID)
	if err != nil {
		return err
	}
	opts := prompt.DefaultOptions()
	opts.HistoryBudget, opts.MaxTextLen, opts.Shuffle = o.history, o.maxText, !o.noShuf
	if o.template != "" {
		if opts.Template, err = prompt.LoadTemplate(o.template); err != nil {
			return err
		}
	}
	r, err := prompt.Render(ep, &need, opts, o.seed)
	if err != nil {
		return err
	}
	out := struct {
		*prompt.Rendered
		Episode string         `json:"episode"`
		Need    string         `json:"need"`
		Seed    int64          `json:"seed"`
		Schema  map[string]any `json:"json_schema,omitempty"`
	}{Rendered: r, Episode: ep.ID, Need: need.ID, Seed: o.seed}
	if o.schema {
		out.Schema = r.JSONSchema()
	}
	enc := json.NewEncoder(s.out)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// readOneEpisode reads the first non-empty line of path (stdin when empty)
// as an episode.
func readOneEpisode(path string, stdin io.Reader) (*prompt.Episode, error) {
	r, name := stdin, "stdin"
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("read episode: %w", err)
		}
		defer f.Close()
		r, name = f, path
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		ep, err := prompt.ParseEpisode(sc.Bytes())
		if err != nil {
			return nil, fmt.Errorf("read episode %s:%d: %w", name, line, err)
		}
		return ep, nil
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read episode %s: %w", name, err)
	}
	return nil, fmt.Errorf("read episode %s: no episode", name)
}
