package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/apptest"
)

// Two nodes on one PostgreSQL share the request rate limits: a user's QR
// parses, alternating between the nodes, are accepted no more than the
// limit allows in the time they took (per node in memory, each node would
// accept the whole limit: twice as many), and so are the requests of
// several users from one address.
func TestRateLimitsAcrossNodes(t *testing.T) {
	const perUser, perAddr = 10, 15
	c := newCluster(t)
	limits := []string{"--rate-limit-per-user", "10", "--rate-limit-per-addr", "15"}
	nodes := []*clusterNode{c.addNode(t, "A", limits...), c.addNode(t, "B", limits...)}
	code := map[string]string{"code": "https://pair.example.com/nb/" + strings.Repeat("0", 32)}
	// allowed is what a limit of n a minute accepts at most in elapsed.
	allowed := func(n int, elapsed time.Duration) int { return n + int(elapsed/(time.Minute/time.Duration(n))) }
	start := time.Now()

	// parse sends requests alternating between the nodes and counts, per
	// node, those the limits let through (answered anything but 429).
	parse := func(token string, requests int) (accepted [2]int) {
		for i := range requests {
			status := apptest.Call(t, nodes[i%2].http, token, "POST", "/v1/qrcode:parse", code, nil)
			if status != http.StatusTooManyRequests {
				accepted[i%2]++
			}
		}
		return accepted
	}

	alice := newAppUser(t, nodes[0], "alice")
	token := alice.c.Token()
	got := parse(token, 4*perUser)
	total := got[0] + got[1]
	t.Logf("one user, %d requests alternating between A and B: %d accepted by A, %d by B", 4*perUser, got[0], got[1])
	if max := allowed(perUser, time.Since(start)); total < perUser || total > max {
		t.Errorf("one user's alternating requests: %d accepted (A %d, B %d); want %d..%d", total, got[0], got[1], perUser, max)
	}
	if got[0] == 0 || got[1] == 0 {
		t.Errorf("one node accepted none of the user's requests (A %d, B %d): the requests did not alternate", got[0], got[1])
	}

	// Six more users from the same address, each under its own limit:
	// the address's limit, shared too, holds them all.
	fromAddr := total
	for i := range 6 {
		u := newAppUser(t, nodes[i%2], "user"+string(rune('a'+i)))
		got := parse(u.c.Token(), perUser/2)
		fromAddr += got[0] + got[1]
	}
	t.Logf("one address, seven users: %d accepted", fromAddr)
	if max := allowed(perAddr, time.Since(start)); fromAddr < perAddr || fromAddr > max {
		t.Errorf("one address's requests: %d accepted; want %d..%d", fromAddr, perAddr, max)
	}
}
