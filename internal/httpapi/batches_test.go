package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/pairing"
)

// stepBatches imports a batch twice, lists it, gets it, its factory CSV and
// its labels, and sends the import every kind of bad body.
func stepBatches(a *apiClient, w *world) {
	const path = "/v1/admin/batches"
	csv := []byte(fmt.Sprintf("imei,serial\r\n%s,SN-1\r\n%s,\r\n", apptest.IMEI(101), apptest.IMEI(102)))
	var b struct{ ID string }
	rep := a.do(post(w.admin, path+"?productId=meter", csv).as("text/csv"), http.StatusCreated, &b)
	if loc := rep.header.Get("Location"); loc != path+"/"+b.ID {
		a.t.Errorf("Location: %q", loc)
	}
	a.do(post(w.admin, path+"?productId=meter", csv).as("text/csv"), http.StatusOK, nil)
	a.do(get(w.admin, path), http.StatusOK, nil)
	a.do(get(w.admin, path+"/"+b.ID), http.StatusOK, nil)
	a.fail(get(w.admin, path+"/bat_nope"), http.StatusNotFound, 4004)

	if rep := a.do(get(w.admin, path+"/"+b.ID+"/factory.csv"), http.StatusOK, nil); !strings.HasPrefix(string(rep.body), "imei,serial,pskIdentity,psk,id,nbId,qr\n") {
		a.t.Errorf("factory CSV: %q", rep.body)
	}
	a.fail(get(w.admin, path+"/bat_nope/factory.csv"), http.StatusNotFound, 4004)
	if rep := a.do(get(w.admin, path+"/"+b.ID+"/labels.png?page=1"), http.StatusOK, nil); rep.header.Get("X-Total-Pages") != "1" {
		a.t.Errorf("X-Total-Pages: %q", rep.header.Get("X-Total-Pages"))
	}
	a.fail(get(w.admin, path+"/"+b.ID+"/labels.png?page=2"), http.StatusBadRequest, 3723)
	a.fail(get(w.admin, path+"/bat_nope/labels.png"), http.StatusNotFound, 4004)

	bad := []byte("imei\n" + apptest.IMEI(103) + "\n12345\n")
	a.fail(post(w.admin, path, bad).as("text/csv"), http.StatusBadRequest, 4201)
	a.fail(post(w.admin, path, []byte("serial\nx\n")).as("text/csv"), http.StatusBadRequest, 4200)
	a.fail(post(w.admin, path, []byte{}).as("text/csv"), http.StatusBadRequest, 4200)
	a.fail(post(w.admin, path+"?productId=nope", csv).as("text/csv"), http.StatusBadRequest, 3717)
	a.fail(post(w.admin, path+"?productId=No%20Such", csv).as("text/csv"), http.StatusBadRequest, 3723)
	a.fail(post(w.admin, path, csv).as("application/json"), http.StatusUnsupportedMediaType, 4015)
	a.fail(post(w.admin, path, csv).as("text/csv; charset=iso-8859-1"), http.StatusUnsupportedMediaType, 4015)
	huge := []byte("imei\n" + strings.Repeat(apptest.IMEI(104)+"\n", pairing.MaxBatchBytes/16+1))
	a.fail(post(w.admin, path, huge).as("text/csv"), http.StatusRequestEntityTooLarge, 4013)
}
