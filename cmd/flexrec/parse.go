package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flexrec/flexrec/llm"
	"github.com/flexrec/flexrec/rank"
)

type parseOptions struct {
	n          int
	ids        string
	titlesFile string
	repair     string
	scores     string
	contract   string
	finish     string
	sample     bool
}

// parseConfig is what verify makes of the flags.
type parseConfig struct {
	cands  []rank.Candidate
	policy rank.Policy
	scores []float64
	json   bool
}

func newParseCmd(s io3) *cobra.Command {
	return newParseCmdRun(s, runParse)
}

// newParseCmdRun lets tests capture the parsed options instead of running.
func newParseCmdRun(s io3, runF func(context.Context, *parseOptions, io3) error) *cobra.Command {
	o := &parseOptions{}
	c := &cobra.Command{
		Use:   "parse",
		Short: "Read a model's answer as a ranking of the candidates and report what was wrong",
		Long: `Read a model's answer on stdin and print one JSON object on one line: the
permutation of the candidates it gives (repaired: missing ids appended under
--repair) and a report of what the model wrote.

The candidates are --n N (ids 1..N, the prompt's short ids) or --ids a,b,c;
--titles-file adds one title per line so answers that name titles instead of
ids can be read. The answer may reason first, use <think> blocks, numbered
lists, JSON or full-width brackets; the final ranking wins.

Fields: permutation (every id, best first), generated (the ids written, in
order, unknown and repeated ones included), unknown, ambiguous (titles naming
several candidates), duplicates, missing, truncated (the answer was cut),
format_ok (the answer kept the contract: one last line [a] > [b] > ...; with
--contract json, one JSON value), valid (format_ok and nothing to repair),
n_generated, policy, spans (byte range of each generated id, brackets
included) and, with --sample and tokens, tokens (per generated id the token
range [first, last) and its summed logprob). Lists are [] when empty.

With --repair reject an answer that needs repair prints its report and
exits 1.

Examples:
  echo 'I prefer [2]. Final: [3] > [1]' | flexrec parse --n 3
  flexrec parse --ids tt01,tt02,tt03 --titles-file titles.txt < answer.txt
  flexrec parse --n 30 --repair score --scores 0.1,0.7,... < answer.txt
  flexrec parse --n 30 --sample < sample.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runF(cmd.Context(), o, s) },
	}
	o.addFlags(c.Flags())
	return c
}

func (o *parseOptions) addFlags(f *pflag.FlagSet) {
	f.IntVar(&o.n, "n", 0, "number of candidates, ids 1..N")
	f.StringVar(&o.ids, "ids", "", "comma-separated candidate ids, in prompt order")
	f.StringVar(&o.titlesFile, "titles-file", "", "file with one candidate title per line, in candidate order")
	f.StringVar(&o.repair, "repair", string(rank.PromptOrder), "how to complete a partial answer: prompt-order, score or reject")
	f.StringVar(&o.scores, "scores", "", "comma-separated scores, one per candidate, for --repair score (highest first)")
	f.StringVar(&o.contract, "contract", "line", "output contract the prompt asked for: line ([a] > [b]) or json")
	f.StringVar(&o.finish, "finish-reason", "", "the sample's finish reason; length marks the answer cut")
	f.BoolVar(&o.sample, "sample", false, "stdin is one llm Sample as JSON (text, finish_reason, tokens)")
}

// verify turns the flags into the candidate set and repair settings.
func (o *parseOptions) verify() (*parseConfig, error) {
	cfg := &parseConfig{json: o.contract == "json"}
	if o.contract != "line" && o.contract != "json" {
		return nil, usagef("--contract %q: want line or json", o.contract)
	}
	var err error
	if cfg.cands, err = o.candidates(); err != nil {
		return nil, err
	}
	if cfg.policy, err = rank.ParsePolicy(o.repair); err != nil {
		return nil, usagef("--repair: %v", err)
	}
	if cfg.policy == rank.ByScore {
		if cfg.scores, err = parseScores(o.scores, len(cfg.cands)); err != nil {
			return nil, err
		}
	} else if o.scores != "" {
		return nil, usagef("--scores needs --repair score")
	}
	return cfg, nil
}

// candidates builds the candidate set from --n or --ids and --titles-file.
func (o *parseOptions) candidates() ([]rank.Candidate, error) {
	var ids []string
	switch {
	case (o.n != 0) == (o.ids != ""):
		return nil, usagef("give exactly one of --n and --ids")
	case o.n < 0 || o.n > 100000:
		return nil, usagef("--n %d: want 1..100000", o.n)
	case o.n > 0:
		for i := 1; i <= o.n; i++ {
			ids = append(ids, strconv.Itoa(i))
		}
	default:
		ids = strings.Split(o.ids, ",")
	}
	cands := make([]rank.Candidate, len(ids))
	seen := make(map[string]bool, len(ids))
	for i, id := range ids {
		id = strings.TrimSpace(id)
		if id == "" || seen[id] {
			return nil, usagef("--ids: id %d is empty or repeated (%q)", i+1, id)
		}
		seen[id], cands[i].ID = true, id
	}
	if o.titlesFile != "" {
		if err := readTitles(o.titlesFile, cands); err != nil {
			return nil, err
		}
	}
	return cands, nil
}

// readTitles sets the candidates' titles from a file of one title per line.
func readTitles(path string, cands []rank.Candidate) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("parse: read titles: %w", err)
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\r\n"), "\n")
	if len(lines) != len(cands) {
		return fmt.Errorf("parse: titles file %s: %d lines for %d candidates", path, len(lines), len(cands))
	}
	for i, l := range lines {
		cands[i].Title = strings.TrimSpace(l)
	}
	return nil
}

// parseScores reads --scores: n comma-separated numbers.
func parseScores(s string, n int) ([]float64, error) {
	fields := strings.Split(s, ",")
	if s == "" || len(fields) != n {
		return nil, usagef("--scores: want %d comma-separated numbers for --repair score, got %d", n, len(fields))
	}
	out := make([]float64, n)
	for i, f := range fields {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return nil, usagef("--scores: value %d: %v", i+1, err)
		}
		out[i] = v
	}
	return out, nil
}

// parseOutput is the printed object: the report, plus token ranges.
type parseOutput struct {
	rank.Report
	Tokens     []rank.ItemTokens `json:"tokens,omitempty"`
	AlignError string            `json:"align_error,omitempty"`
}

func runParse(_ context.Context, o *parseOptions, s io3) error {
	cfg, err := o.verify()
	if err != nil {
		return err
	}
	sample, err := readAnswer(s.in, o.sample)
	if err != nil {
		return err
	}
	if o.finish != "" {
		sample.FinishReason = o.finish
	}
	p := rank.Parser{JSON: cfg.json}
	res := p.ParseSample(sample, cfg.cands)
	repairErr := rank.Repair(res, cfg.policy, cfg.scores)
	out := parseOutput{Report: res.Report()}
	var alignErr error
	if len(sample.Tokens) > 0 {
		if out.Tokens, alignErr = rank.Align(res, sample.Tokens); alignErr != nil {
			out.AlignError = alignErr.Error()
		}
	}
	if err := json.NewEncoder(s.out).Encode(out); err != nil {
		return fmt.Errorf("parse: write: %w", err)
	}
	return errors.Join(repairErr, alignErr)
}

// readAnswer reads stdin as the answer text, or as an llm.Sample.
func readAnswer(in io.Reader, asSample bool) (*llm.Sample, error) {
	raw, err := io.ReadAll(io.LimitReader(in, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("parse: read stdin: %w", err)
	}
	if !asSample {
		return &llm.Sample{Text: string(raw)}, nil
	}
	var smp llm.Sample
	if err := json.Unmarshal(raw, &smp); err != nil {
		return nil, fmt.Errorf("parse: stdin: decode sample: %w", err)
	}
	return &smp, nil
}
