package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/qr"
)

// Limits says how fast one user or one address may call the guarded routes
// (QR parse and scan, starting activations) and fail to log in, and what
// reading uploaded label photos may hold at once.
type Limits struct {
	PerUser int // requests a minute per user; 0 turns the limit off
	PerAddr int // requests a minute per source address
	// LoginFailures is how many failed logins of one username from one
	// source are free before each further one doubles the wait (0 turns
	// the login throttle off); LoginFailuresPerAddr the same for one source
	// over all usernames.
	LoginFailures        int
	LoginFailuresPerAddr int

	// TrustedProxies are the proxies whose forwarded client address
	// (Forwarded, else X-Forwarded-For) is believed, for rate limits, the
	// login throttle and the audit log; see ParseTrustedProxies.
	TrustedProxies []netip.Prefix

	// Streams bounds the long-polls and event streams open at once.
	Streams StreamLimits

	// Scan bounds the photos of POST /v1/qrcode:scan: each one's decoded
	// size, how many decode at once and how many more may wait.
	Scan qr.ReaderLimits

	// Shared, when set, makes the per-user and per-address limits shared
	// by every node of a cluster: it returns the limiter of n requests per
	// period for the keys of the limit called name. Nil: each node counts
	// in memory.
	Shared func(name string, n int, per time.Duration) Limiter
}

// Limiter decides whether one more request of a key may go now.
type Limiter interface {
	// Take spends one request of key; without one left it says how long
	// to wait.
	Take(ctx context.Context, key string) (ok bool, wait time.Duration, err error)
}

// requestLimit is one of the request limits: counted in memory, or by a
// shared Limiter with the in-memory count standing in while the shared
// one fails (each node then holds the limit on its own).
type requestLimit struct {
	shared Limiter // nil: in memory only
	local  *keyedLimiter
	log    *slog.Logger
}

func newRequestLimit(shared func(string, int, time.Duration) Limiter, name string, n int, per time.Duration, log *slog.Logger) *requestLimit {
	if n <= 0 {
		return nil
	}
	l := &requestLimit{local: newKeyedLimiter(n, per), log: log}
	if shared != nil {
		l.shared = shared(name, n, per)
	}
	return l
}

// take spends a request of key; without one it says how long to wait.
func (l *requestLimit) take(ctx context.Context, key string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	if l.shared != nil {
		ok, wait, err := l.shared.Take(ctx, key)
		if err == nil {
			return ok, wait
		}
		l.log.Warn("the shared rate limit failed; this node counts alone", "err", err)
	}
	return l.local.take(key)
}

// maxLimiterKeys caps the buckets of one keyedLimiter, whose keys (users,
// addresses) come from requests: about 200 bytes each, 25 MiB in all.
const maxLimiterKeys = 1 << 17

// keyedLimiter is a token bucket per key, forgetting keys idle for long,
// and one key when it holds maxLimiterKeys.
type keyedLimiter struct {
	every rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[string]*bucket // guarded by mu
	swept   time.Time          // guarded by mu
}

type bucket struct {
	l    *rate.Limiter
	seen time.Time
}

func newKeyedLimiter(n int, per time.Duration) *keyedLimiter {
	if n <= 0 {
		return nil
	}
	return &keyedLimiter{every: rate.Every(per / time.Duration(n)), burst: n, buckets: map[string]*bucket{}}
}

func (k *keyedLimiter) get(key string, now time.Time) *rate.Limiter {
	k.mu.Lock()
	defer k.mu.Unlock()
	if now.Sub(k.swept) > time.Minute {
		for key, b := range k.buckets { // a full bucket idle this long is as good as new
			if now.Sub(b.seen) > time.Duration(float64(k.burst)/float64(k.every)*float64(time.Second)) {
				delete(k.buckets, key)
			}
		}
		k.swept = now
	}
	b, ok := k.buckets[key]
	if !ok {
		if len(k.buckets) >= maxLimiterKeys {
			for old := range k.buckets { // full: forget one, the map's pick
				delete(k.buckets, old)
				break
			}
		}
		b = &bucket{l: rate.NewLimiter(k.every, k.burst)}
		k.buckets[key] = b
	}
	b.seen = now
	return b.l
}

// take spends a token of key; without one it says how long to wait.
func (k *keyedLimiter) take(key string) (bool, time.Duration) {
	if k == nil {
		return true, 0
	}
	now := time.Now()
	r := k.get(key, now).ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// rateLimited is the 429 answer, with Retry-After in whole seconds.
type rateLimited struct{ wait time.Duration }

func (e rateLimited) Error() string { return "rate limited" }

func (e rateLimited) apiError(what string) *Error {
	return apiError(codeRateLimited, fmt.Sprintf("too many %s; try again in %d s", what, e.seconds()))
}

func (e rateLimited) seconds() int { return int(math.Ceil(e.wait.Seconds())) }

// clientIP is the address of the client behind r (see clientAddrs).
func clientIP(r *http.Request) string {
	if ip, ok := r.Context().Value(clientIPKey{}).(string); ok {
		return ip
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// limited guards a user route with the per-user and per-address limits;
// every hit is audited.
func (s *Server) limited(h apiHandler) apiHandler {
	return func(w http.ResponseWriter, r *http.Request) error {
		uid := userID(r.Context())
		ok, wait := s.perUser.take(r.Context(), uid)
		if ok {
			ok, wait = s.perAddr.take(r.Context(), clientIP(r))
		}
		if !ok {
			s.svc.Audit(r.Context(), pairing.AuditEntry{Action: pairing.AuditRateLimited, Outcome: pairing.OutcomeRefused,
				Actor: "user", UserID: uid, Detail: r.Method + " " + r.URL.Path})
			return s.tooMany(w, rateLimited{wait}, "requests")
		}
		return h(w, r)
	}
}

func (s *Server) tooMany(w http.ResponseWriter, e rateLimited, what string) error {
	w.Header().Set("Retry-After", strconv.Itoa(e.seconds()))
	return e.apiError(what)
}
