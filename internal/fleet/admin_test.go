package fleet

import (
	"strings"
	"testing"
)

func TestParseMetrics(t *testing.T) {
	text := `# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 4.2e+07
nbpair_activations_total{outcome="paired"} 30
nbpair_activations_total{outcome="timeout"} 2
nbpair_http_requests_total{route="GET /v1/x {id}",status="200"} 5
broken_line
bad_value{a="b"} NaNx
`
	m, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"process_resident_memory_bytes":                                   42e6,
		`nbpair_activations_total{outcome="paired"}`:                      30,
		`nbpair_activations_total{outcome="timeout"}`:                     2,
		`nbpair_http_requests_total{route="GET /v1/x {id}",status="200"}`: 5,
	}
	if len(m) != len(want) {
		t.Errorf("got %d series %v, want %d", len(m), m, len(want))
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	f := serverFigures(map[string]float64{"process_cpu_seconds_total": 1, `nbpair_activations_total{outcome="paired"}`: 10},
		map[string]float64{"process_cpu_seconds_total": 3.5, `nbpair_activations_total{outcome="paired"}`: 40, "process_resident_memory_bytes": 7})
	if f.CPU != 2.5 || f.Paired != 30 || f.RSS != 7 {
		t.Errorf("figures %+v", f)
	}
}

func TestReadFactoryCSV(t *testing.T) {
	good := "imei,serial,pskIdentity,psk,id,nbId,qr\n350000000000000,,urn:imei:350000000000000,00ff,dev1,nb1,https://x/nb1\n"
	rows, err := readFactoryCSV(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].IMEI != "350000000000000" || rows[0].PSKIdentity != "urn:imei:350000000000000" ||
		string(rows[0].PSK) != "\x00\xff" || rows[0].DeviceID != "dev1" || rows[0].NbID != "nb1" {
		t.Errorf("rows %+v", rows)
	}
	for name, bad := range map[string]string{
		"empty":       "",
		"no nbId":     "imei,pskIdentity,psk,id\n1,2,00,4\n",
		"bad psk hex": "imei,pskIdentity,psk,id,nbId\n1,2,zz,4,5\n",
	} {
		if _, err := readFactoryCSV(strings.NewReader(bad)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
