package fleet

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progressEvery is the interval of the progress line: at most 4 a second.
const progressEvery = 250 * time.Millisecond

// showProgress prints a live line "name [####....] done/total rate/s" to
// w (the rate over the last second) until the returned stop is called, which prints the
// last line and ends it. A nil w shows nothing.
func showProgress(w io.Writer, name string, total int, rec *recorder) (stop func()) {
	if w == nil {
		return func() {}
	}
	start := time.Now()
	done, quit := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(progressEvery)
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
				fmt.Fprintf(w, "\r%s\r%s\n", blank, progressLine(name, n, total, float64(n)/time.Since(start).Seconds(), "avg"))
				return
			case now := <-t.C:
				n := rec.done.Load()
				window = append(window, sample{now, n})
				if len(window) > 5 {
					window = window[1:]
				}
				old := window[0]
				rate := float64(n-old.n) / now.Sub(old.at).Seconds()
				fmt.Fprintf(w, "\r%s", progressLine(name, n, total, rate, "now"))
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
