package main

import "flag"

// update rewrites this package's golden files instead of comparing with
// them: eval's JSON report (../../eval/testdata/cmd_eval_episodes.json) and
// the command reference (../../docs/cli). Run go test ./cmd/flexrec -update
// and review the diff.
var update = flag.Bool("update", false, "rewrite the golden files (eval's JSON report, docs/cli)")
