package bench

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress writes the line that shows a run is alive. On a terminal the line is redrawn
// in place; elsewhere (a CI log, a file) only finished steps are written, one per line,
// so the log is not flooded with carriage returns.
type progress struct {
	w   io.Writer
	tty bool

	mu    sync.Mutex
	width int
}

func newProgress(w io.Writer, tty bool) *progress {
	if w == nil {
		w = io.Discard
	}
	return &progress{w: w, tty: tty}
}

// update redraws the live line; it is a no-op off a terminal.
func (p *progress) update(line string) {
	if !p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", max(0, p.width-len(line))))
	p.width = len(line)
}

// done writes a finished step on a line of its own.
func (p *progress) done(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprintf(p.w, "\r%s%s\n", line, strings.Repeat(" ", max(0, p.width-len(line))))
		p.width = 0
		return
	}
	fmt.Fprintln(p.w, line)
}

// plainInterval spaces the lines of a long step off a terminal, where every redraw
// would add a line: seeding a million users reports a few times, a 5s scenario never.
const plainInterval = 10 * time.Second

// every shows line() each interval (each plainInterval off a terminal) until the
// returned stop is called.
func (p *progress) every(interval time.Duration, line func() string) (stop func()) {
	draw := p.update
	if !p.tty {
		interval, draw = plainInterval, p.done
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				draw(line())
			}
		}
	})
	return func() {
		close(quit)
		wg.Wait()
	}
}
