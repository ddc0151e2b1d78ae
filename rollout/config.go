package rollout

import (
	"fmt"

	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rank"
	"github.com/flexrec/flexrec/rl"
)

// Config controls sampling and scoring. Build it with DefaultConfig.
type Config struct {
	// Samples is G, the rollouts per episode, >= 1. Default 8 (method.md §5).
	Samples int `json:"samples" yaml:"samples"`
	// Seed is the base seed: rollout i of episode e uses
	// rollout.Seed(Seed, e.ID, i) for both the candidate shuffle and
	// sampling. 0 is a valid seed.
	Seed int64 `json:"seed" yaml:"seed"`
	// Model names the model on the backend.
	Model string `json:"model" yaml:"model"`
	// Temperature of sampling, >= 0. Default 1.0.
	Temperature float64 `json:"temperature" yaml:"temperature"`
	// TopP, when set, is nucleus sampling's p in (0, 1].
	TopP *float64 `json:"top_p,omitempty" yaml:"top_p,omitempty"`
	// MaxTokens caps each completion; 0 leaves the server's default.
	// Default 2048.
	MaxTokens int `json:"max_tokens" yaml:"max_tokens"`
	// TopLogprobs asks for that many alternatives per token, 0–20.
	TopLogprobs int `json:"top_logprobs" yaml:"top_logprobs"`
	// AllowMissingLogprobs goes on without token logprobs when a server
	// ignores the request (records then have no tokens and no token
	// advantages); otherwise that is an error. Default false.
	AllowMissingLogprobs bool `json:"allow_missing_logprobs" yaml:"allow_missing_logprobs"`
	// Schema asks for structured output (the candidate ids as a JSON array).
	Schema bool `json:"schema" yaml:"schema"`
	// Prompt are the rendering options (the shuffle is always on: each
	// rollout gets its own candidate order).
	Prompt prompt.Options `json:"-" yaml:"-"`
	// Repair is the repair policy: prompt-order (default) or score (the
	// critic's predicted gains order the missing items; needs a critic).
	Repair rank.Policy `json:"repair" yaml:"repair"`
	// RL are the reward and advantage settings.
	RL rl.Config `json:"rl" yaml:"rl"`
	// Needs are custom needs episodes may name, besides the built-in ones.
	Needs []prompt.Need `json:"needs,omitempty" yaml:"needs,omitempty"`
}

// DefaultConfig returns G = 8, temperature 1, 2048 max tokens, the
// prompt-order repair and rl.DefaultConfig.
func DefaultConfig() Config {
	return Config{
		Samples: 8, Temperature: 1, MaxTokens: 2048,
		Prompt: prompt.DefaultOptions(), Repair: rank.PromptOrder, RL: rl.DefaultConfig(),
	}
}

// Validate reports the first invalid field, naming it.
func (c Config) Validate() error {
	switch {
	case c.Samples < 1:
		return fmt.Errorf("rollout: samples %d, want >= 1", c.Samples)
	case c.Temperature < 0:
		return fmt.Errorf("rollout: temperature %v, want >= 0", c.Temperature)
	case c.TopP != nil && !(*c.TopP > 0 && *c.TopP <= 1):
		return fmt.Errorf("rollout: top_p %v, want in (0, 1]", *c.TopP)
	case c.TopLogprobs < 0 || c.TopLogprobs > 20:
		return fmt.Errorf("rollout: top_logprobs %d, want 0..20", c.TopLogprobs)
	case c.MaxTokens < 0:
		return fmt.Errorf("rollout: max_tokens %d, want >= 0", c.MaxTokens)
	case c.Repair == rank.Reject:
		return fmt.Errorf("rollout: repair policy reject would drop rollouts from a group; use prompt-order or score")
	}
	if _, err := rank.ParsePolicy(string(c.Repair)); err != nil {
		return fmt.Errorf("rollout: %w", err)
	}
	if err := c.Prompt.Validate(); err != nil {
		return err
	}
	return c.RL.Validate()
}

// need returns the need an episode names: a custom one first, then a
// built-in one.
func (c *Config) need(id string) (prompt.Need, error) {
	for _, n := range c.Needs {
		if n.ID == id {
			return n, nil
		}
	}
	return prompt.LookupNeed(id)
}
