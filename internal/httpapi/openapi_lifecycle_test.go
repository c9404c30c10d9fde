package httpapi_test

import (
	"net/http"
)

// stepLifecycle drives the routes of the account lifecycle, sharing and
// transfers with the bound device spare, which ends where it started: in
// alice's home.
func stepLifecycle(a *apiClient, w *world) {
	const pw = "correct horse battery"
	a.do(get(w.alice.token, "/v1/account"), http.StatusOK, nil)

	var se struct{ Token string }
	a.do(post("", "/v1/sessions", map[string]string{"username": "alice", "password": pw}), http.StatusCreated, &se)
	var list struct {
		Sessions []struct {
			ID      string
			Current bool
		}
	}
	a.do(get(se.Token, "/v1/sessions"), http.StatusOK, &list)
	var other string
	for _, s := range list.Sessions {
		if s.Current {
			other = s.ID
		}
	}
	a.do(del(w.alice.token, "/v1/sessions/"+other), http.StatusNoContent, nil)
	a.fail(del(w.alice.token, "/v1/sessions/"+other), http.StatusNotFound, 4004)

	a.fail(put(w.alice.token, "/v1/account/password", map[string]string{"currentPassword": "wrong password", "newPassword": pw + "!"}), http.StatusForbidden, 4400)
	a.fail(put(w.alice.token, "/v1/account/password", map[string]string{"currentPassword": pw}), http.StatusBadRequest, 3721)
	a.do(put(w.alice.token, "/v1/account/password", map[string]string{"currentPassword": pw, "newPassword": pw}), http.StatusNoContent, nil)

	shares := "/v1/devices/" + w.spare.ID + "/shares"
	a.do(post(w.alice.token, shares, map[string]string{"username": "bob", "access": "read"}), http.StatusCreated, nil)
	a.do(post(w.alice.token, shares, map[string]string{"username": "bob", "access": "control"}), http.StatusOK, nil)
	a.fail(post(w.alice.token, shares, map[string]string{"username": "alice", "access": "read"}), http.StatusBadRequest, 4401)
	a.fail(post(w.bob.token, shares, map[string]string{"username": "bob", "access": "read"}), http.StatusForbidden, 4402)
	a.fail(post(w.alice.token, shares, map[string]string{"username": "nobody", "access": "read"}), http.StatusNotFound, 4004)
	a.do(get(w.alice.token, shares), http.StatusOK, nil)
	a.fail(get(w.bob.token, shares), http.StatusForbidden, 4402)
	a.fail(get(w.alice.token, "/v1/devices/dev_nope/shares"), http.StatusNotFound, 4004)
	a.do(get(w.bob.token, "/v1/shared-devices"), http.StatusOK, nil)
	a.do(get(w.bob.token, "/v1/devices/"+w.spare.ID), http.StatusOK, nil)
	a.fail(del(w.bob.token, shares+"/"+w.alice.uid), http.StatusForbidden, 4402)
	a.fail(post(w.bob.token, "/v1/devices/"+w.spare.ID+"/transfers", map[string]any{"username": "bob"}), http.StatusForbidden, 4402)
	a.do(del(w.alice.token, shares+"/"+w.bob.uid), http.StatusNoContent, nil)
	a.fail(del(w.alice.token, shares+"/"+w.bob.uid), http.StatusNotFound, 4004)

	offer := "/v1/devices/" + w.spare.ID + "/transfers"
	var tr struct{ ID string }
	a.do(post(w.alice.token, offer, map[string]any{"username": "bob"}), http.StatusCreated, &tr)
	a.fail(post(w.alice.token, offer, map[string]any{"username": "bob"}), http.StatusConflict, 4404)
	a.fail(post(w.alice.token, offer, map[string]any{"username": "bob", "expiresIn": 1 << 30}), http.StatusBadRequest, 3723)
	a.fail(post(w.alice.token, "/v1/devices/dev_nope/transfers", map[string]any{"username": "bob"}), http.StatusNotFound, 4004)
	a.do(get(w.bob.token, "/v1/transfers"), http.StatusOK, nil)
	a.do(get(w.bob.token, "/v1/transfers/"+tr.ID), http.StatusOK, nil)
	a.fail(get(w.bob.token, "/v1/transfers/tr_nope"), http.StatusNotFound, 4004)
	a.fail(post(w.alice.token, "/v1/transfers/"+tr.ID+"/decline", nil), http.StatusForbidden, 3719)
	a.do(post(w.bob.token, "/v1/transfers/"+tr.ID+"/decline", nil), http.StatusOK, nil)
	a.fail(post(w.bob.token, "/v1/transfers/"+tr.ID+"/decline", nil), http.StatusConflict, 4406)
	a.fail(del(w.alice.token, "/v1/transfers/"+tr.ID), http.StatusConflict, 4406)

	a.do(post(w.alice.token, offer, map[string]any{"username": "bob", "expiresIn": 600}), http.StatusCreated, &tr)
	a.fail(del(w.bob.token, "/v1/transfers/"+tr.ID), http.StatusForbidden, 3719)
	a.do(del(w.alice.token, "/v1/transfers/"+tr.ID), http.StatusOK, nil)
	a.fail(post(w.bob.token, "/v1/transfers/"+tr.ID+"/accept", map[string]string{"spaceId": w.bob.home}), http.StatusConflict, 4406)

	a.do(post(w.alice.token, offer, map[string]any{"username": "bob"}), http.StatusCreated, &tr)
	a.fail(post(w.bob.token, "/v1/transfers/"+tr.ID+"/accept", map[string]string{}), http.StatusBadRequest, 3721)
	a.fail(post(w.bob.token, "/v1/transfers/"+tr.ID+"/accept", map[string]string{"spaceId": w.alice.home}), http.StatusForbidden, 3719)
	a.fail(post(w.bob.token, "/v1/transfers/tr_nope/accept", map[string]string{"spaceId": w.bob.home}), http.StatusNotFound, 4004)
	a.do(post(w.bob.token, "/v1/transfers/"+tr.ID+"/accept", map[string]string{"spaceId": w.bob.home}), http.StatusOK, nil)
	back := "/v1/devices/" + w.spare.ID + "/transfers"
	a.do(post(w.bob.token, back, map[string]any{"username": "alice"}), http.StatusCreated, &tr)
	a.do(post(w.alice.token, "/v1/transfers/"+tr.ID+"/accept", map[string]string{"spaceId": w.alice.home}), http.StatusOK, nil)

	var h struct{ ID string }
	a.do(post(w.alice.token, "/v1/homes", map[string]string{"name": "Holiday flat"}), http.StatusCreated, &h)
	a.fail(del(w.bob.token, "/v1/homes/"+h.ID), http.StatusNotFound, 4004)
	a.do(del(w.alice.token, "/v1/homes/"+h.ID), http.StatusNoContent, nil)

	creds := map[string]string{"username": "carol", "password": pw}
	a.do(post("", "/v1/users", creds), http.StatusCreated, nil)
	a.do(post("", "/v1/sessions", creds), http.StatusCreated, &se)
	a.fail(post(se.Token, "/v1/account:delete", map[string]string{"password": "wrong password"}), http.StatusForbidden, 4400)
	a.fail(post(se.Token, "/v1/account:delete", map[string]string{}), http.StatusBadRequest, 3721)
	a.do(post(se.Token, "/v1/account:delete", map[string]string{"password": pw}), http.StatusNoContent, nil)
	a.fail(get(se.Token, "/v1/account"), http.StatusUnauthorized, 3720)
}
