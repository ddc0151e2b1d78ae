package pipeline

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
)

// unknownField matches yaml.v3's message for a key KnownFields rejects.
var unknownField = regexp.MustCompile(`line (\d+): field (\S+) not found in type (\S+)`)

// explainYAML rewrites yaml.v3's unknown-field errors in the config file's
// own terms: the file and line, the key's full path, and the nearest valid
// key ("did you mean rollout.samples?"). Other errors come back as they
// are, prefixed with the file.
func explainYAML(path string, err error) error {
	ms := unknownField.FindAllStringSubmatch(err.Error(), -1)
	if len(ms) == 0 {
		return fmt.Errorf("%s: %w", path, err)
	}
	sections := yamlSections(reflect.TypeFor[Job](), "")
	var lines []string
	for _, m := range ms {
		line, key, typ := m[1], m[2], m[3]
		sec := sections[typ]
		full := key
		if sec.prefix != "" {
			full = sec.prefix + "." + key
		}
		msg := fmt.Sprintf("%s:%s: unknown key %q", path, line, full)
		if near := nearest(key, sec.keys); near != "" {
			if sec.prefix != "" {
				near = sec.prefix + "." + near
			}
			msg += fmt.Sprintf(" (did you mean %q?)", near)
		} else if len(sec.keys) > 0 {
			msg += fmt.Sprintf(" (valid here: %s)", strings.Join(sec.keys, ", "))
		}
		lines = append(lines, msg)
	}
	return &ConfigError{Msg: strings.Join(lines, "; ")}
}

// ConfigError is a job file that does not describe a valid job: an unknown
// key or a value out of range, named as the file does.
type ConfigError struct {
	// Msg names the file, the line or key, and what is wrong.
	Msg string
}

// Error returns Msg.
func (e *ConfigError) Error() string { return e.Msg }

// section is one YAML mapping of the job file: its key path and keys.
type section struct {
	prefix string
	keys   []string
}

// yamlSections maps each struct type of the job file (by its Go name, as
// yaml.v3 reports it) to its YAML path and keys.
func yamlSections(t reflect.Type, prefix string) map[string]section {
	out := map[string]section{}
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return
		}
		sec := section{prefix: prefix}
		for f := range t.Fields() {
			tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if tag == "-" || !f.IsExported() {
				continue
			}
			if tag == "" {
				tag = strings.ToLower(f.Name)
			}
			sec.keys = append(sec.keys, tag)
			sub := tag
			if prefix != "" {
				sub = prefix + "." + tag
			}
			walk(f.Type, sub)
		}
		out[t.String()] = sec
	}
	walk(t, prefix)
	return out
}

// nearest returns the key closest to s by edit distance, if it is close
// enough to be a typo (at most a third of the key's length, and 3).
func nearest(s string, keys []string) string {
	best, bestD := "", 1<<30
	for _, k := range keys {
		if d := editDistance(strings.ToLower(s), k); d < bestD {
			best, bestD = k, d
		}
	}
	if bestD <= min(3, max(1, len(best)/3)) {
		return best
	}
	return ""
}

// editDistance is the Levenshtein distance of a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
