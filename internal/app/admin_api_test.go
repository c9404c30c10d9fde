package app_test

import (
	"encoding/json"
	"github.com/nbpair/nbpair/internal/apptest"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestAdminAPIErrors(t *testing.T) {
	n := apptest.Start(t, "")
	existing := n.Provision(t, apptest.IMEI(70))
	base := "http://" + n.HTTPAddr()

	tests := []struct {
		name, method, path, body string
		token, contentType       string
		wantStatus, wantCode     int
	}{
		{"no token", "POST", "/v1/admin/devices", `{"imei":"868000000000071"}`, "-", "", 401, 3720},
		{"wrong token", "POST", "/v1/admin/devices", `{"imei":"868000000000071"}`, "not-the-token", "", 401, 3720},
		{"no body", "POST", "/v1/admin/devices", ``, "", "", 400, 3721},
		{"missing imei", "POST", "/v1/admin/devices", `{}`, "", "", 400, 3721},
		{"short imei", "POST", "/v1/admin/devices", `{"imei":"12345"}`, "", "", 400, 3723},
		{"imei with letters", "POST", "/v1/admin/devices", `{"imei":"86800000000007x"}`, "", "", 400, 3723},
		{"imei of the wrong type", "POST", "/v1/admin/devices", `{"imei":868000000000071}`, "", "", 400, 3724},
		{"unknown field", "POST", "/v1/admin/devices", `{"imei":"868000000000071","colour":"red"}`, "", "", 400, 3724},
		{"not JSON", "POST", "/v1/admin/devices", `imei=868000000000071`, "", "", 400, 3724},
		{"two JSON values", "POST", "/v1/admin/devices", `{"imei":"868000000000071"}{}`, "", "", 400, 3724},
		{"wrong content type", "POST", "/v1/admin/devices", `{"imei":"868000000000071"}`, "", "text/plain", 415, 4015},
		{"huge body", "POST", "/v1/admin/devices", `{"name":"` + strings.Repeat("x", 100<<10) + `"}`, "", "", 413, 4013},
		{"name too long", "POST", "/v1/admin/devices", `{"imei":"868000000000071","name":"` + strings.Repeat("x", 65) + `"}`, "", "", 400, 3723},
		{"unknown product", "POST", "/v1/admin/devices", `{"imei":"868000000000071","productId":"toaster"}`, "", "", 400, 3717},
		{"duplicate imei", "POST", "/v1/admin/devices", `{"imei":"` + existing.IMEI + `"}`, "", "", 409, 4009},
		{"unknown device", "GET", "/v1/admin/devices/dev_nosuchdevice", ``, "", "", 404, 4004},
		{"bad limit", "GET", "/v1/admin/devices?limit=0", ``, "", "", 400, 3723},
		{"missing product name", "POST", "/v1/admin/products", `{"id":"meter","name":""}`, "", "", 400, 3721},
		{"blank product name", "POST", "/v1/admin/products", `{"id":"meter","name":"  "}`, "", "", 400, 3723},
		{"bad product id", "POST", "/v1/admin/products", `{"id":"Meter 1","name":"Meter"}`, "", "", 400, 3723},
		{"existing product", "POST", "/v1/admin/products", `{"id":"default","name":"Again"}`, "", "", 409, 4009},
		{"unknown route", "GET", "/v1/nothing", ``, "", "", 404, 4004},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, base+tt.path, strings.NewReader(tt.body))
			switch tt.token {
			case "":
				req.Header.Set("Authorization", "Bearer "+n.Token)
			case "-":
			default:
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			var e struct {
				Code          int
				Name, Message string
			}
			if err := json.Unmarshal(b, &e); err != nil {
				t.Fatalf("error body %q is not the JSON error shape: %v", b, err)
			}
			if resp.StatusCode != tt.wantStatus || e.Code != tt.wantCode || e.Name == "" || e.Message == "" {
				t.Errorf("got %d %s, want %d with code %d", resp.StatusCode, b, tt.wantStatus, tt.wantCode)
			}
		})
	}

	var list struct{ Devices []apptest.Provisioned }
	n.API(t, "GET", "/v1/admin/devices", nil, &list)
	if len(list.Devices) != 1 || list.Devices[0].ID != existing.ID {
		t.Errorf("bad requests changed the devices: %+v", list.Devices)
	}
}

func TestAdminAPIListsAndPages(t *testing.T) {
	n := apptest.Start(t, "")
	for i := range 5 {
		n.Provision(t, apptest.IMEI(80+i))
	}
	var page struct {
		Devices []apptest.Provisioned
		Next    string
	}
	seen := map[string]bool{}
	for path := "/v1/admin/devices?limit=2"; ; path = "/v1/admin/devices?limit=2&after=" + page.Next {
		page.Devices, page.Next = nil, ""
		if code := n.API(t, "GET", path, nil, &page); code != 200 {
			t.Fatalf("GET %s: %d", path, code)
		}
		if len(page.Devices) == 0 {
			break
		}
		for _, d := range page.Devices {
			if seen[d.ID] {
				t.Fatalf("device %s on two pages", d.ID)
			}
			seen[d.ID] = true
		}
	}
	if len(seen) != 5 {
		t.Errorf("paging saw %d devices, want 5", len(seen))
	}
}
