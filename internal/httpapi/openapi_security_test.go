package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/config"
)

// stepMembers runs while alice's home holds the bound spare device: bob
// joins as a member, may see it but not change it, and leaves again.
func stepMembers(a *apiClient, w *world) {
	members := "/v1/homes/" + w.alice.home + "/members"
	a.do(post(w.alice.token, members, map[string]string{"username": "bob", "role": "member"}), http.StatusCreated, nil)
	a.fail(post(w.alice.token, members, map[string]string{"username": "bob", "role": "member"}), http.StatusConflict, 4009)
	a.fail(post(w.alice.token, members, map[string]string{"username": "bob"}), http.StatusBadRequest, 3721)
	a.fail(post(w.alice.token, members, map[string]string{"username": "bob", "role": "owner"}), http.StatusBadRequest, 3723)
	a.fail(post(w.alice.token, members, map[string]string{"username": "nobody", "role": "member"}), http.StatusNotFound, 4004)
	a.fail(post(w.bob.token, members, map[string]string{"username": "alice", "role": "admin"}), http.StatusForbidden, 3719)
	a.fail(post(w.bob.token, "/v1/homes/h_nosuchhome/members", map[string]string{"username": "alice", "role": "admin"}), http.StatusNotFound, 4004)
	var list struct {
		Members []struct{ Username, Role string }
	}
	a.do(get(w.bob.token, members), http.StatusOK, &list)
	if len(list.Members) != 2 || list.Members[0].Role != "owner" {
		a.t.Errorf("members: %+v", list.Members)
	}
	a.fail(get(w.bob.token, "/v1/homes/h_nosuchhome/members"), http.StatusNotFound, 4004)

	home := "/v1/homes/" + w.alice.home
	a.do(patch(w.alice.token, home, map[string]string{"name": "Alice's flat"}), http.StatusOK, nil)
	a.fail(patch(w.alice.token, home, map[string]string{}), http.StatusBadRequest, 3721)
	a.fail(patch(w.bob.token, home, map[string]string{"name": "Bob's now"}), http.StatusForbidden, 3719)
	a.fail(patch(w.bob.token, "/v1/homes/h_nosuchhome", map[string]string{"name": "x"}), http.StatusNotFound, 4004)

	device := "/v1/devices/" + w.spare.ID
	a.do(get(w.bob.token, device), http.StatusOK, nil)
	a.fail(patch(w.bob.token, device, map[string]string{"name": "Bob's meter"}), http.StatusForbidden, 3719)
	a.fail(del(w.bob.token, device), http.StatusForbidden, 3719)

	a.fail(del(w.bob.token, members+"/"+w.alice.uid), http.StatusForbidden, 3719)
	a.do(del(w.alice.token, members+"/"+w.bob.uid), http.StatusNoContent, nil)
	a.fail(del(w.alice.token, members+"/"+w.bob.uid), http.StatusNotFound, 4004)
}

// stepAudit reads what the earlier steps left in the audit log.
func stepAudit(a *apiClient, w *world) {
	var log struct {
		Entries []struct{ Action, Outcome string }
		Total   int
	}
	a.do(get(w.admin, "/v1/admin/audit?deviceId="+w.spare.ID), http.StatusOK, &log)
	seen := map[string]bool{}
	for _, e := range log.Entries {
		seen[e.Action+"/"+e.Outcome] = true
	}
	for _, want := range []string{"provision/ok", "bind/ok", "unbind/ok"} {
		if !seen[want] {
			a.t.Errorf("audit log of the spare device lacks %s: %+v", want, log.Entries)
		}
	}
	a.do(get(w.admin, "/v1/admin/audit?outcome=refused&limit=5"), http.StatusOK, nil)
	a.fail(get(w.admin, "/v1/admin/audit?limit=0"), http.StatusBadRequest, 3723)
}

func stepLogOutEverywhere(a *apiClient, w *world) {
	a.do(del(w.alice.token, "/v1/sessions"), http.StatusNoContent, nil)
	a.fail(get(w.alice.token, "/v1/homes"), http.StatusUnauthorized, 3720)
}

// TestOpenAPIRateLimited checks the 429 answers on a node with tight limits.
func TestOpenAPIRateLimited(t *testing.T) {
	n := apptest.Start(t, "", func(c *config.Config) { c.RateLimitPerUser, c.LoginFailures = 2, 1 })
	a := newAPIClient(t, n, loadSpec(t))
	creds := map[string]string{"username": "erin", "password": "correct horse battery"}
	a.do(post("", "/v1/users", creds), http.StatusCreated, nil)
	var se struct{ Token string }
	a.do(post("", "/v1/sessions", creds), http.StatusCreated, &se)
	label := map[string]string{"code": "https://elsewhere.example.com/nb/x"}
	for range 2 {
		a.fail(post(se.Token, "/v1/qrcode:parse", label), http.StatusBadRequest, 4100)
	}
	r := a.fail(post(se.Token, "/v1/qrcode:parse", label), http.StatusTooManyRequests, 4290)
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	a.fail(post(se.Token, "/v1/qrcode:scan", []byte("x")), http.StatusTooManyRequests, 4290)
	a.fail(post(se.Token, "/v1/activations", map[string]string{"type": "NB"}), http.StatusTooManyRequests, 4290)

	wrong := map[string]string{"username": "erin", "password": "wrong password"}
	a.fail(post("", "/v1/sessions", wrong), http.StatusUnauthorized, 4010)
	a.fail(post("", "/v1/sessions", wrong), http.StatusTooManyRequests, 4290)
	a.fail(post("", "/v1/sessions", creds), http.StatusTooManyRequests, 4290) // even the right password waits
}
