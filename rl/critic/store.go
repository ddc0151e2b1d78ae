package critic

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/flexrec/flexrec/mf"
)

// file is the one JSON format of every kind. An ensemble stores its
// members; a KNN critic stores its training pairs and is rebuilt on load
// (deterministically, from the same pairs and config).
type file struct {
	Version  int           `json:"version"`
	Kind     string        `json:"kind"`
	Config   Config        `json:"config"`
	Variance VarianceModel `json:"variance"`
	Range    [2]float64    `json:"range"`
	Models   []*mf.Model   `json:"models,omitempty"`
	Pairs    []mf.Rating   `json:"pairs,omitempty"`
	Hurdle   *hurdleFile   `json:"hurdle,omitempty"`
}

// Save writes c as one JSON document: {"version":1, "kind":..., "config":
// ..., "variance":{"scale","noise"}, "range":[lo,hi], "models" (the
// ensemble's MF models) or "pairs" (a KNN critic's training pairs), and for
// a Hurdle "hurdle":{"weights","item_counts","user_counts","calibration"}}. It errors
// for a Critic not made by this package.
func Save(w io.Writer, c Critic) error {
	f := file{Version: 1, Kind: c.Kind(), Variance: c.Variance()}
	if h, ok := c.(*Hurdle); ok {
		cal := h.cal
		f.Hurdle = &hurdleFile{Weights: h.w, Items: h.items, Users: h.users, Calibration: &cal}
		c = h.inner
	}
	switch c := c.(type) {
	case *Ensemble:
		f.Config, f.Range, f.Models = c.cfg, [2]float64{c.lo, c.hi}, c.models
	case *KNN:
		f.Config, f.Range, f.Pairs = c.cfg, [2]float64{c.lo, c.hi}, c.data
	default:
		return fmt.Errorf("critic: save: unsupported critic type %T", c)
	}
	if err := json.NewEncoder(w).Encode(f); err != nil {
		return fmt.Errorf("critic: save: %w", err)
	}
	return nil
}

// Load reads a critic written by Save (a *Hurdle when the file has a
// hurdle part). Errors name what is wrong: bad JSON, a version other than
// 1, an unknown kind, an invalid config, variance model, range or hurdle,
// or a kind without its models or pairs.
func Load(r io.Reader) (Critic, error) {
	var f file
	inner, err := f.decode(r)
	if err != nil || f.Hurdle == nil {
		return inner, err
	}
	if err := f.Hurdle.check(); err != nil {
		return nil, err
	}
	h := &Hurdle{inner: inner, w: f.Hurdle.Weights, items: f.Hurdle.Items, users: f.Hurdle.Users, cal: IdentityCalibration()}
	if c := f.Hurdle.Calibration; c != nil {
		if !(c.VarScale > 0) || math.IsInf(c.VarScale, 0) || math.IsNaN(c.A+c.B+c.Shift) || math.IsInf(c.A+c.B+c.Shift, 0) {
			return nil, fmt.Errorf("critic: load: hurdle calibration %+v, want finite values and var_scale > 0", *c)
		}
		h.cal = *c
	}
	if h.items == nil {
		h.items = map[string]float64{}
	}
	if h.users == nil {
		h.users = map[string]float64{}
	}
	return h, nil
}

// decode reads the file and builds the inner critic.
func (f *file) decode(r io.Reader) (Critic, error) {
	if err := json.NewDecoder(r).Decode(f); err != nil {
		return nil, fmt.Errorf("critic: load: %w", err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("critic: load: version %d, want 1", f.Version)
	}
	if f.Kind != f.Config.Kind {
		return nil, fmt.Errorf("critic: load: kind %q but config kind %q", f.Kind, f.Config.Kind)
	}
	if err := f.Config.Validate(); err != nil {
		return nil, fmt.Errorf("critic: load: %w", err)
	}
	vm := f.Variance
	if !(vm.Scale >= 0 && vm.Noise > 0) || math.IsInf(vm.Scale+vm.Noise, 0) {
		return nil, fmt.Errorf("critic: load: variance model %+v, want scale >= 0 and noise > 0, finite", vm)
	}
	if lo, hi := f.Range[0], f.Range[1]; !(lo <= hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return nil, fmt.Errorf("critic: load: range [%v, %v], want finite lo <= hi", lo, hi)
	}
	return f.build()
}

// build makes the inner critic of a checked file.
func (f *file) build() (Critic, error) {
	if f.Kind != KindEnsemble {
		if len(f.Pairs) == 0 {
			return nil, fmt.Errorf("critic: load: %s critic without pairs", f.Kind)
		}
		return newKNN(f.Pairs, f.Config, f.Variance), nil
	}
	if len(f.Models) < 2 {
		return nil, fmt.Errorf("critic: load: ensemble with %d models, want >= 2", len(f.Models))
	}
	for k, m := range f.Models {
		if m == nil {
			return nil, fmt.Errorf("critic: load: ensemble model %d is null", k)
		}
	}
	return &Ensemble{cfg: f.Config, vm: f.Variance, lo: f.Range[0], hi: f.Range[1], models: f.Models}, nil
}

// LoadFile reads a critic saved by Save from path; errors name the file.
func LoadFile(path string) (Critic, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("critic: %w", err)
	}
	defer f.Close()
	c, err := Load(f)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return c, nil
}
