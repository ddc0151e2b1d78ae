package llm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
)

// cacheVersion changes when the key or the stored layout does.
const cacheVersion = 1

// CacheConfig configures Cache.
type CacheConfig struct {
	// Dir holds the cache files; created with mode 0700 when missing.
	Dir string
	// Namespace keeps servers apart in the key: the backend kind and base
	// URL (never a key). Empty means the wrapped backend's String.
	Namespace string
	// Logger receives records of unreadable or unwritable entries; nil
	// discards them.
	Logger *slog.Logger
}

// Cache is a Backend decorator that stores each response on disk under a
// SHA-256 of the canonical request (see CacheKey), so a rerun of the same
// requests costs nothing. Entries are written atomically (a temporary file
// renamed into place); an unreadable entry counts as a miss and is
// rewritten. Without a seed a cached request returns its first draw. The
// cache never holds an API key. It is safe for concurrent use, also by
// several processes sharing Dir.
type Cache struct {
	next         Backend
	dir, ns      string
	log          *slog.Logger
	hits, misses atomic.Int64
}

// NewCache wraps next, creating cfg.Dir.
func NewCache(next Backend, cfg CacheConfig) (*Cache, error) {
	if cfg.Dir == "" {
		return nil, fmt.Errorf("llm: cache needs a directory")
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("llm: cache: %w", err)
	}
	ns := cfg.Namespace
	if ns == "" {
		ns = describe(next)
	}
	return &Cache{next: next, dir: cfg.Dir, ns: ns, log: loggerOr(cfg.Logger)}, nil
}

// String names the wrapped backend.
func (c *Cache) String() string { return describe(c.next) }

// CacheKey returns the hex SHA-256 of the canonical JSON of the namespace
// and every request field that shapes the answer: model, messages, n,
// sampling parameters, seed, max tokens, stop, logprobs settings, schema,
// think and AllowMissingLogprobs. Map keys are sorted by encoding/json.
func CacheKey(namespace string, req *Request) (string, error) {
	raw, err := json.Marshal(struct {
		V            int      `json:"v"`
		Namespace    string   `json:"ns"`
		Request      *Request `json:"req"`
		AllowMissing bool     `json:"allow_missing"`
	}{cacheVersion, namespace, req, req.AllowMissingLogprobs})
	if err != nil {
		return "", fmt.Errorf("llm: cache key: %w", err)
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:]), nil
}

// Sample returns the stored response for req, or calls the wrapped backend
// and stores its response. A failure to store is logged, not returned.
func (c *Cache) Sample(ctx context.Context, req *Request) (*Response, error) {
	key, err := CacheKey(c.ns, req)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(c.dir, key[:2], key+".json")
	if resp, ok := c.load(path); ok {
		c.hits.Add(1)
		return resp, nil
	}
	c.misses.Add(1)
	resp, err := c.next.Sample(ctx, req)
	if err != nil {
		return nil, err
	}
	if err := c.store(path, resp); err != nil {
		c.log.Warn("llm: cannot store cache entry", "path", path, "err", err)
	}
	return resp, nil
}

// Stats returns the hits and misses so far.
func (c *Cache) Stats() (hits, misses int64) { return c.hits.Load(), c.misses.Load() }

func (c *Cache) load(path string) (*Response, bool) {
	raw, err := os.ReadFile(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.log.Warn("llm: cannot read cache entry", "path", path, "err", err)
		}
		return nil, false
	}
	var resp Response
	if err := json.Unmarshal(raw, &resp); err != nil || len(resp.Samples) == 0 {
		c.log.Warn("llm: corrupt cache entry, refetching", "path", path, "err", err)
		return nil, false
	}
	resp.Cached = true
	return &resp, true
}

// store writes resp to path through a temporary file in the same folder
// and a rename, so readers see the old entry, none, or the whole new one.
func (c *Cache) store(path string, resp *Response) error {
	raw, err := json.Marshal(resp)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // fails harmlessly once renamed
	if _, err := f.Write(raw); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
