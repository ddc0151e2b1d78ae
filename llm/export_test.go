package llm

import (
	"time"

	"github.com/cenkalti/backoff/v4"
)

// FakeTimer is a backoff timer that fires at once and records the waits
// asked of it, so retry tests run on a fake clock.
type FakeTimer struct {
	Waits *[]time.Duration
	c     chan time.Time
}

// Start records d and fires.
func (t *FakeTimer) Start(d time.Duration) {
	*t.Waits = append(*t.Waits, d)
	t.c = make(chan time.Time, 1)
	t.c <- time.Now()
}

// Stop does nothing.
func (t *FakeTimer) Stop() {}

// C returns the channel Start filled.
func (t *FakeTimer) C() <-chan time.Time { return t.c }

// UseFakeClock makes r wait on a FakeTimer recording into waits.
func UseFakeClock(r *Retry, waits *[]time.Duration) {
	r.newTimer = func() backoff.Timer { return &FakeTimer{Waits: waits} }
}
