package sqlite_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/store/sqlite"
)

// Writes on both lanes racing Close each return (committed before the
// close, or refused after it): none is left waiting and none panics.
func TestWritesRacingClose(t *testing.T) {
	for round := range 5 {
		s, err := sqlite.Open(t.Context(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		const writers = 64
		var wg sync.WaitGroup
		start := make(chan struct{})
		returned := make(chan error, writers*20)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for i := range 20 {
					ctx := context.Background()
					if w%2 == 0 { // the urgent lane
						returned <- s.CreateActivation(ctx, pairing.Activation{ID: fmt.Sprintf("act-%d-%d", w, i)})
					} else {
						returned <- s.AppendAudit(ctx, pairing.AuditEntry{At: time.Now(), Action: pairing.AuditParse, Outcome: pairing.OutcomeOK, Actor: "user"})
					}
				}
			}()
		}
		close(start)
		time.Sleep(time.Duration(round) * time.Millisecond)
		closed := make(chan error, 1)
		go func() { closed <- s.Close() }()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Fatalf("round %d: writes racing Close still wait after a minute", round)
		}
		if err := <-closed; err != nil {
			t.Errorf("round %d: Close: %v", round, err)
		}
		close(returned)
		n := 0
		for range returned {
			n++
		}
		if n != writers*20 {
			t.Errorf("round %d: %d of %d writes returned", round, n, writers*20)
		}
	}
}
