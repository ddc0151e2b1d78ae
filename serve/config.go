package serve

import (
	"fmt"
	"time"

	"github.com/flexrec/flexrec/rl"
)

// Config configures a Handler. Build it with DefaultConfig and check it
// with Validate.
type Config struct {
	// RL holds the reward settings every item is scored under: its item
	// reward rule (an item's item_reward overrides it), uncertainty kind
	// and format penalty; Cutoff is replaced by each item's cutoff.
	// Default rl.DefaultConfig(), what rollouts use by default.
	RL rl.Config
	// MaxBody is the largest request body in bytes, > 0. Default 64 MiB.
	MaxBody int64
	// Timeout bounds the scoring of one request, > 0; a request past it
	// gets a 503. Default 60 s.
	Timeout time.Duration
	// Token, when not empty, is the bearer token every request but
	// GET /healthz must carry (Authorization: Bearer TOKEN), compared in
	// constant time. Empty means no authentication (loopback use).
	Token string
	// Workers is how many goroutines score one large request, >= 1.
	// Default 1; `flexrec serve` sets GOMAXPROCS.
	Workers int
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{RL: rl.DefaultConfig(), MaxBody: 64 << 20, Timeout: 60 * time.Second, Workers: 1}
}

// Validate reports the first invalid field of c.
func (c Config) Validate() error {
	switch {
	case c.MaxBody <= 0:
		return fmt.Errorf("serve: config max body %d, want > 0", c.MaxBody)
	case c.Timeout <= 0:
		return fmt.Errorf("serve: config timeout %v, want > 0", c.Timeout)
	case c.Workers < 1:
		return fmt.Errorf("serve: config workers %d, want >= 1", c.Workers)
	}
	if err := c.RL.Validate(); err != nil {
		return fmt.Errorf("serve: config: %w", err)
	}
	return nil
}

// String prints c with the token replaced by a placeholder, so a config
// can be logged.
func (c Config) String() string {
	tok := "none"
	if c.Token != "" {
		tok = "<set>"
	}
	return fmt.Sprintf("serve.Config{item_reward: %s, uncertainty: %s, format_penalty: %v, max_body: %d, timeout: %v, workers: %d, token: %s}",
		c.RL.ItemReward, c.RL.Uncertainty, c.RL.FormatPenalty, c.MaxBody, c.Timeout, c.Workers, tok)
}
