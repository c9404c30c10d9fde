package bustest_test

import (
	"context"
	"testing"

	"github.com/nbpair/nbpair/internal/events"
	"github.com/nbpair/nbpair/internal/events/bustest"
)

func TestInProcessBus(t *testing.T) {
	bustest.Run(t, func(t *testing.T) []bustest.Node {
		b := events.New(4, 16)
		t.Cleanup(func() { _ = b.Close(context.Background()) })
		return []bustest.Node{b}
	})
}
