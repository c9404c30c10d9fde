// Package webhooks is the edge that calls the device maker's HTTP
// endpoints: the dispatcher that delivers the webhook outbox, and the
// caller of pre-bind hooks. Both sign what they send with HMAC-SHA256.
package webhooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// The headers of every request.
const (
	HeaderSignature = "X-Nbpair-Signature" // sha256=<hex HMAC-SHA256 of the raw body>
	HeaderEventID   = "X-Nbpair-Event-Id"
	HeaderEventType = "X-Nbpair-Event-Type"
)

// Sign returns the signature header's value for body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether sig is body's signature under secret, in constant
// time: what a receiver does.
func Verify(secret, body []byte, sig string) bool {
	return hmac.Equal([]byte(sig), []byte(Sign(secret, body)))
}

// maxAnswer bounds what is read of an answer.
const maxAnswer = 4 << 10

// ErrNotAllowed is returned for a connection to an address outside the
// allow list.
var ErrNotAllowed = errors.New("address not in the webhook allow list")

// newClient returns the HTTP client of webhooks: it follows no redirects
// (a 3xx is a failure) and, with an allow list, connects only to
// addresses in it.
func newClient(allow []*net.IPNet) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if len(allow) > 0 {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip := net.ParseIP(host)
			for _, n := range allow {
				if ip != nil && n.Contains(ip) {
					return nil
				}
			}
			return fmt.Errorf("%w: %s", ErrNotAllowed, host)
		}
	}
	tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 8, IdleConnTimeout: 90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second, ResponseHeaderTimeout: 0, ForceAttemptHTTP2: true}
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// answer is what came back from a POST.
type answer struct {
	status int
	body   []byte // at most maxAnswer bytes
}

// post sends a signed JSON body and reads at most maxAnswer bytes of the
// answer.
func post(ctx context.Context, c *http.Client, url string, secret, body []byte, headers map[string]string) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "nbpair-webhooks")
	req.Header.Set(HeaderSignature, Sign(secret, body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so the connection can be reused
	return answer{status: resp.StatusCode, body: b}, err
}

// ok reports a 2xx status.
func ok(status int) bool { return status >= 200 && status < 300 }

// short is an error text for the delivery log: one line, at most 200 bytes.
func short(s string) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "")), " ")
	if len(s) > 200 {
		s = s[:200]
		for len(s) > 0 && s[len(s)-1]&0xC0 == 0x80 {
			s = s[:len(s)-1]
		}
	}
	return s
}
