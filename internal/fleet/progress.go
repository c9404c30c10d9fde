package fleet

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progressEvery is the interval of the live progress line: at most 4 a
// second.
const progressEvery = 250 * time.Millisecond

// ProgressEvery is the interval of the plain progress lines written when
// the progress does not go to a terminal.
const ProgressEvery = 10 * time.Second

// showProgress prints the progress "name [####....] done/total rate/s" to
// w (the rate over the last second) until the returned stop is called,
// which prints the last line and ends it. Live, the line is redrawn in
// place; otherwise a plain line is written every ProgressEvery. A nil w
// shows nothing.
func showProgress(w io.Writer, live bool, name string, total int, rec *recorder) (stop func()) {
	if w == nil {
		return func() {}
	}
	every := progressEvery
	if !live {
		every = ProgressEvery
	}
	start := time.Now()
	done, quit := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		type sample struct {
			at time.Time
			n  int64
		}
		window := []sample{{start, 0}}
		for {
			select {
			case <-quit:
				n := rec.done.Load()
				last := progressLine(name, n, total, float64(n)/time.Since(start).Seconds(), "avg")
				if live {
					fmt.Fprintf(w, "\r%s\r%s\n", blank, last)
				} else {
					fmt.Fprintln(w, last)
				}
				return
			case now := <-t.C:
				n := rec.done.Load()
				window = append(window, sample{now, n})
				if len(window) > 5 {
					window = window[1:]
				}
				old := window[0]
				line := progressLine(name, n, total, float64(n-old.n)/now.Sub(old.at).Seconds(), "now")
				if live {
					fmt.Fprintf(w, "\r%s", line)
				} else {
					fmt.Fprintln(w, line)
				}
			}
		}
	}()
	return func() { close(quit); <-done }
}

// blank clears a progress line.
var blank = fmt.Sprintf("%-100s", "")

func progressLine(name string, n int64, total int, rate float64, which string) string {
	count, bar := fmt.Sprint(n), ""
	if total > 0 {
		count = fmt.Sprintf("%d/%d", n, total)
		full := int(min(n, int64(total)) * barWidth / int64(total))
		bar = " [" + strings.Repeat("#", full) + strings.Repeat(".", barWidth-full) + "]"
	}
	return fmt.Sprintf("%-28s%s %15s  %9.0f/s %s", name, bar, count, rate, which)
}

// barWidth is the width of the progress bar.
const barWidth = 20
