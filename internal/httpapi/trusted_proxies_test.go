package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/config"
)

// logInVia posts a login through c with extra headers, as a reverse proxy
// (or someone posing as one) would send it.
func logInVia(t *testing.T, c *http.Client, n *apptest.Node, headers map[string]string, username, password string) int {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"username": username, "password": password})
	req, _ := http.NewRequest("POST", "http://"+n.HTTPAddr()+"/v1/sessions", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Behind a trusted proxy (127.0.0.2 here) the forwarded address is the
// client's: it is what the audit log records and what the login throttle
// counts, so one client's failures do not hold back another behind the
// same proxy. From anyone else the headers are ignored, so they cannot
// dodge the throttle or write the audit log's addresses.
func TestTrustedProxies(t *testing.T) {
	n := apptest.Start(t, "", apptest.QuietLogs, func(c *config.Config) { c.TrustedProxies = []string{"127.0.0.2/32"} })
	alice := signUpUsers(t, n, "alice", 1)[0]
	proxy, stranger := from("127.0.0.2"), from("127.0.0.3")
	xff := func(a string) map[string]string { return map[string]string{"X-Forwarded-For": a} }

	for _, tt := range []struct {
		name    string
		via     *http.Client
		headers map[string]string
		audited string // the audit log's address, or its prefix when it ends in ':'
	}{
		{"X-Forwarded-For from the proxy", proxy, xff("203.0.113.7"), "203.0.113.7"},
		{"a chain: the nearest untrusted hop", proxy, xff("198.51.100.99, 203.0.113.8, 127.0.0.2"), "203.0.113.8"},
		{"Forwarded from the proxy", proxy, map[string]string{"Forwarded": `for="[2001:db8::5]:4711";proto=https`}, "2001:db8::5"},
		{"an unreadable hop: the last known", proxy, xff("garbage, 127.0.0.2"), "127.0.0.2"},
		{"X-Forwarded-For from a stranger", stranger, xff("203.0.113.9"), "127.0.0.3:"},
		{"Forwarded from a stranger", stranger, map[string]string{"Forwarded": "for=203.0.113.10"}, "127.0.0.3:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if status := logInVia(t, tt.via, n, tt.headers, "nobody", "wrong password"); status != http.StatusUnauthorized {
				t.Fatalf("HTTP %d, want 401", status)
			}
			got := lastRefusedLogin(t, n).RemoteAddr
			if got != tt.audited && !(strings.HasSuffix(tt.audited, ":") && strings.HasPrefix(got, tt.audited)) {
				t.Errorf("audited from %q, want %q", got, tt.audited)
			}
		})
	}

	// A client guessing behind the proxy is throttled; alice, behind the
	// same proxy, is not.
	guesser := xff("203.0.113.50")
	throttled := false
	for range 8 {
		throttled = logInVia(t, proxy, n, guesser, alice, "guess") == http.StatusTooManyRequests || throttled
	}
	if !throttled {
		t.Error("eight wrong passwords from one client behind the proxy were never throttled")
	}
	if status := logInVia(t, proxy, n, xff("198.51.100.1"), alice, "correct horse battery"); status != http.StatusCreated {
		t.Errorf("alice behind the same proxy: HTTP %d, want 201", status)
	}
	// A stranger writing a new X-Forwarded-For each time is still one
	// source.
	throttled = false
	for i := range 8 {
		throttled = logInVia(t, stranger, n, xff("203.0.113."+string(rune('1'+i))), alice, "guess") == http.StatusTooManyRequests || throttled
	}
	if !throttled {
		t.Error("a stranger changing X-Forwarded-For dodged the throttle")
	}
}
