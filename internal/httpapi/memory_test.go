package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"testing"

	"github.com/nbpair/nbpair/internal/apptest"
)

// procStatus reads one "Name: N kB" line of /proc/self/status, in bytes.
func procStatus(t testing.TB, name string) int64 {
	t.Helper()
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status (%v): resident memory cannot be measured here", err)
	}
	m := regexp.MustCompile(`(?m)^` + name + `:\s+(\d+) kB$`).FindSubmatch(raw)
	if m == nil {
		t.Fatalf("no %s in /proc/self/status", name)
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}

// residentBytes is this process's resident memory now, after a GC that
// gives freed memory back to the system, so that what stays is what is
// held.
func residentBytes(t testing.TB) int64 {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	return procStatus(t, "VmRSS")
}

// resetPeak sets this process's resident-memory high-water mark to its
// resident memory now (Linux: writing 5 to /proc/self/clear_refs), so that
// peakBytes then tells the most held since.
func resetPeak(t testing.TB) {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the peak of resident memory (%v)", err)
	}
}

// peakBytes is the resident-memory high-water mark since resetPeak.
func peakBytes(t testing.TB) int64 { return procStatus(t, "VmHWM") }

const mib = 1 << 20

// decodeBody decodes a JSON body into v, ignoring what is not JSON.
func decodeBody(r io.Reader, v any) { json.NewDecoder(r).Decode(v) }

// signUpToken signs a user up and logs them in, and returns the token.
func signUpToken(t testing.TB, n *apptest.Node, name string) string {
	t.Helper()
	creds := map[string]string{"username": name, "password": "correct horse battery"}
	if code := n.Call(t, "", "POST", "/v1/users", creds, nil); code != http.StatusCreated {
		t.Fatalf("sign up %s: HTTP %d", name, code)
	}
	var se struct{ Token string }
	if code := n.Call(t, "", "POST", "/v1/sessions", creds, &se); code != http.StatusCreated {
		t.Fatalf("log in %s: HTTP %d", name, code)
	}
	return se.Token
}
