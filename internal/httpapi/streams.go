package httpapi

import (
	"fmt"
	"net/http"
	"sync"
	"time"
)

// StreamLimits bound the requests that stay open for long: long-polls
// (GET /v1/activations/{id}?wait=) and event streams. They are exempt from
// the server's read and write timeouts, so these are their bounds.
type StreamLimits struct {
	Max      int           // open at once on this node; 0: 1024
	PerUser  int           // open at once for one user; 0: 8
	Duration time.Duration // the longest an event stream stays open; 0: 10 minutes
}

// streams counts the open long-polls and event streams.
type streams struct {
	limits StreamLimits

	mu      sync.Mutex
	open    int            // guarded by mu
	perUser map[string]int // guarded by mu; only users with one open, so at most limits.Max keys
}

func newStreams(l StreamLimits) *streams {
	if l.Max <= 0 {
		l.Max = 1024
	}
	if l.PerUser <= 0 {
		l.PerUser = 8
	}
	if l.Duration <= 0 {
		l.Duration = 10 * time.Minute
	}
	return &streams{limits: l, perUser: map[string]int{}}
}

// streamRetryAfter is the Retry-After of a refused stream, in seconds.
const streamRetryAfter = 5

// acquire takes a place for uid's stream, or says why there is none.
func (s *streams) acquire(uid string) (func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case uid != "" && s.perUser[uid] >= s.limits.PerUser: // admin streams ("") have caps of their own
		return nil, rateLimited{streamRetryAfter * time.Second}.apiError(
			fmt.Sprintf("long-polls and event streams open at once (at most %d a user)", s.limits.PerUser))
	case s.open >= s.limits.Max:
		return nil, apiError(codeBusy, fmt.Sprintf("the server holds as many long-polls and event streams as it may; try again in %d s", streamRetryAfter))
	}
	s.open++
	if uid != "" {
		s.perUser[uid]++
	}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.open--
		if uid == "" {
			return
		}
		if s.perUser[uid]--; s.perUser[uid] == 0 {
			delete(s.perUser, uid)
		}
	}, nil
}

// stream admits a long-lived answer of at most d: it takes a place (or
// answers 429 or 503 with Retry-After), and lifts the server's read and
// write deadlines from the connection for d and a little more. The read
// deadline must go too: when it passes, the server cancels the request.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, d time.Duration) (func(), error) {
	release, err := s.streams.acquire(userID(r.Context()))
	if err != nil {
		w.Header().Set("Retry-After", fmt.Sprint(streamRetryAfter))
		return nil, err
	}
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Time{})
	rc.SetWriteDeadline(time.Now().Add(d + 10*time.Second))
	return release, nil
}
