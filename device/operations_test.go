package device

import (
	"strings"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/nbpair/nbpair/internal/testkit"
	"github.com/nbpair/nbpair/internal/wire"
)

const (
	senmlJSON = wire.FormatSenMLJSON
	senmlCBOR = wire.FormatSenMLCBOR
	linkFmt   = 40
)

// TestReadFormats reads resources and instances in every format the
// device writes and decodes each answer with the codec the server uses.
func TestReadFormats(t *testing.T) {
	srv := startFakeServer(t)
	startDevice(t, srv, Config{})
	for _, format := range []int{senmlJSON, senmlCBOR} {
		code, cf, body := srv.send(codes.GET, "/3/0", format, nil)
		if code != codes.Content || cf != format {
			t.Fatalf("Read /3/0 accept %d = %v format %d", format, code, cf)
		}
		records := decodeSenML(t, format, body)
		got := map[string]string{}
		for _, r := range records {
			if r.StringValue != nil {
				got[r.Name] = *r.StringValue
			}
		}
		if got["/3/0/0"] != DefaultManufacturer || got["/3/0/2"] != testIMEI || got["/3/0/16"] != "U" {
			t.Errorf("Read /3/0 as %d = %v", format, got)
		}
		code, _, body = srv.send(codes.GET, "/1/0/1", format, nil)
		records = decodeSenML(t, format, body)
		if code != codes.Content || len(records) != 1 || records[0].Name != "/1/0/1" || records[0].Value == nil || *records[0].Value != 300 {
			t.Errorf("Read /1/0/1 as %d = %v %+v, want the lifetime 300", format, code, records)
		}
	}
	code, cf, body := srv.send(codes.GET, "/3/0/13", tlv, nil)
	entries, err := wire.DecodeTLV(body)
	if code != codes.Content || cf != tlv || err != nil || len(entries) != 1 {
		t.Fatalf("Read /3/0/13 as TLV = %v %d %v %v", code, cf, entries, err)
	}
	if now, _ := entries[0].Int(); time.Since(time.Unix(now, 0)).Abs() > time.Hour {
		t.Errorf("current time = %d, not now", now)
	}
}

func decodeSenML(t *testing.T, format int, body []byte) []wire.SenMLRecord {
	t.Helper()
	var records []wire.SenMLRecord
	var err error
	if format == senmlJSON {
		records, err = wire.DecodeSenMLJSON(body)
	} else {
		records, err = wire.DecodeSenMLCBOR(body)
	}
	if err != nil {
		t.Fatalf("decode SenML %d %q: %v", format, body, err)
	}
	return records
}

// TestWriteFormats writes the Pairing object in SenML JSON, SenML CBOR and
// TLV, as a whole instance and resource by resource.
func TestWriteFormats(t *testing.T) {
	boundAt := time.Unix(1_800_000_000, 0).UTC()
	want := wire.PairingState{DeviceID: "dev_1", State: wire.BindBound, OwnerUID: "u_1", HomeID: "h_1", BoundAt: boundAt}
	records := func(bn string) []wire.SenMLRecord {
		s := func(v string) *string { return &v }
		n := func(v float64) *float64 { return &v }
		return []wire.SenMLRecord{
			{Name: bn + "0", StringValue: s("dev_1")}, {Name: bn + "1", Value: n(1)},
			{Name: bn + "2", StringValue: s("u_1")}, {Name: bn + "3", StringValue: s("h_1")},
			{Name: bn + "4", Value: n(float64(boundAt.Unix()))},
		}
	}
	jsonBody, _ := wire.EncodeSenMLJSON(records("/33050/0/"))
	cborBody, _ := wire.EncodeSenMLCBOR(records("/33050/0/"))
	tests := map[string]struct {
		format int
		body   []byte
	}{
		"SenML JSON": {senmlJSON, jsonBody},
		"SenML CBOR": {senmlCBOR, cborBody},
		"TLV":        {tlv, wire.EncodePairingTLV(want)},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			srv := startFakeServer(t)
			d := startDevice(t, srv, Config{})
			if code, _, body := srv.send(codes.PUT, "/33050/0", tt.format, tt.body); code != codes.Changed {
				t.Fatalf("Write = %v %s", code, body)
			}
			if got := d.Pairing(); !samePairing(got, want) {
				t.Errorf("Pairing() = %+v, want %+v", got, want)
			}
		})
	}
	t.Run("SenML JSON resource", func(t *testing.T) {
		srv := startFakeServer(t)
		d := startDevice(t, srv, Config{})
		body := []byte(`[{"n":"/33050/0/2","vs":"u_9"}]`)
		if code, _, resp := srv.send(codes.PUT, "/33050/0/2", senmlJSON, body); code != codes.Changed {
			t.Fatalf("Write = %v %s", code, resp)
		}
		if got := d.Pairing().OwnerUID; got != "u_9" {
			t.Errorf("owner = %q, want u_9", got)
		}
	})
}

func TestWriteRefused(t *testing.T) {
	tests := map[string]struct {
		path   string
		format int
		body   string
		want   codes.Code
	}{
		"SenML other resource":    {"/33050/0/2", senmlJSON, `[{"n":"/33050/0/3","vs":"x"}]`, codes.BadRequest},
		"SenML other object":      {"/33050/0", senmlJSON, `[{"n":"/3/0/0","vs":"x"}]`, codes.BadRequest},
		"SenML string as number":  {"/33050/0", senmlJSON, `[{"n":"/33050/0/1","vs":"1"}]`, codes.BadRequest},
		"SenML fraction":          {"/33050/0", senmlJSON, `[{"n":"/33050/0/1","v":1.5}]`, codes.BadRequest},
		"SenML unknown resource":  {"/33050/0", senmlJSON, `[{"n":"/33050/0/9","vs":"x"}]`, codes.BadRequest},
		"SenML not a path":        {"/33050/0", senmlJSON, `[{"n":"owner","vs":"x"}]`, codes.BadRequest},
		"SenML bad JSON":          {"/33050/0", senmlJSON, `[{"n":`, codes.BadRequest},
		"SenML CBOR garbage":      {"/33050/0", senmlCBOR, "\xff\x00", codes.BadRequest},
		"write executable":        {"/3/0/4", text, "1", codes.MethodNotAllowed},
		"link format is not data": {"/33050/0", linkFmt, "</1>", codes.UnsupportedMediaType},
		"payload over the bound":  {"/33050/0/2", text, strings.Repeat("x", maxWritePayload+1), codes.RequestEntityTooLarge},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			srv := startFakeServer(t)
			d := startDevice(t, srv, Config{})
			if code, _, body := srv.send(codes.PUT, tt.path, tt.format, []byte(tt.body)); code != tt.want {
				t.Errorf("PUT %s = %v %q, want %v", tt.path, code, body, tt.want)
			}
			if got := d.Pairing(); got != (wire.PairingState{}) {
				t.Errorf("Pairing() = %+v after a refused Write", got)
			}
		})
	}
}

func TestDiscover(t *testing.T) {
	srv := startFakeServer(t)
	startDevice(t, srv, Config{})
	steps := []struct {
		method codes.Code
		path   string
		format int
		body   string
		want   codes.Code
		links  string
	}{
		{codes.GET, "/1", linkFmt, "", codes.Content, "</1>,</1/0>,</1/0/0>,</1/0/1>,</1/0/7>,</1/0/8>"},
		{codes.PUT, "/33050?pmin=5", noFormat, "", codes.Changed, ""},
		{codes.PUT, "/33050/0/1?pmax=60&pmin=1", noFormat, "", codes.Changed, ""},
		{codes.GET, "/33050", linkFmt, "", codes.Content, "</33050>;pmin=5,</33050/0>,</33050/0/0>,</33050/0/1>,</33050/0/2>,</33050/0/3>,</33050/0/4>"},
		{codes.GET, "/33050/0", linkFmt, "", codes.Content, "</33050/0>,</33050/0/0>,</33050/0/1>;pmin=1;pmax=60,</33050/0/2>,</33050/0/3>,</33050/0/4>"},
		{codes.PUT, "/33050/0/1?pmin", noFormat, "", codes.Changed, ""},
		{codes.GET, "/33050/0/1", linkFmt, "", codes.Content, "</33050/0/1>;pmax=60"},
		{codes.PUT, "/33050/0/1?gt=5", noFormat, "", codes.BadRequest, ""},
		{codes.PUT, "/33050/0/1?pmax=-1", noFormat, "", codes.BadRequest, ""},
		{codes.PUT, "/33050/0/9?pmax=1", noFormat, "", codes.NotFound, ""},
		{codes.GET, "/5", linkFmt, "", codes.NotFound, ""},
		{codes.GET, "/3/0/99", linkFmt, "", codes.NotFound, ""},
	}
	for _, s := range steps {
		code, cf, body := srv.sendQuery(s.method, s.path, s.format)
		if code != s.want {
			t.Fatalf("%v %s = %v %q, want %v", s.method, s.path, code, body, s.want)
		}
		if s.links == "" {
			continue
		}
		if cf != linkFmt || string(body) != s.links {
			t.Errorf("Discover %s = format %d %q, want %q", s.path, cf, body, s.links)
		}
		if _, err := wire.ParseLinkFormat(body); err != nil {
			t.Errorf("Discover %s: the server's parser refuses %q: %v", s.path, body, err)
		}
	}
}

func TestExecute(t *testing.T) {
	srv := startFakeServer(t)
	d := startDevice(t, srv, Config{})
	for _, path := range []string{PathReboot, PathFactoryReset} {
		if code, _, body := srv.send(codes.POST, path, text, []byte("arg")); code != codes.Changed {
			t.Fatalf("Execute %s = %v %q", path, code, body)
		}
	}
	testkit.Eventually(t, "reboot and factory reset events", func() bool {
		return d.events.count(EventRebootRequested) == 1 && d.events.count(EventFactoryResetRequested) == 1
	})
	if e, _ := d.events.last(EventRebootRequested); e.Arguments != "arg" {
		t.Errorf("reboot arguments = %q, want arg", e.Arguments)
	}
	updates := len(srv.seen(codes.POST, "/rd/"))
	if code, _, _ := srv.send(codes.POST, PathUpdateTrigger, noFormat, nil); code != codes.Changed {
		t.Fatalf("Execute %s = %v", PathUpdateTrigger, code)
	}
	testkit.Eventually(t, "the Update the trigger asks for", func() bool { return len(srv.seen(codes.POST, "/rd/")) > updates })
	for path, want := range map[string]codes.Code{"/3/0/0": codes.MethodNotAllowed, "/3/0/99": codes.NotFound, "/3": codes.MethodNotAllowed} {
		if code, _, _ := srv.send(codes.POST, path, noFormat, nil); code != want {
			t.Errorf("POST %s = %v, want %v", path, code, want)
		}
	}
	if code, _, _ := srv.send(codes.POST, PathReboot, text, []byte(strings.Repeat("a", maxExecuteArguments+1))); code != codes.BadRequest {
		t.Errorf("Execute with arguments over the bound = %v, want 4.00", code)
	}
	if n := d.events.count(EventRebootRequested); n != 1 {
		t.Errorf("%d reboot events, want 1 (the refused Execute is not one)", n)
	}
	if code, _, _ := srv.send(codes.GET, PathReboot, noFormat, nil); code != codes.MethodNotAllowed {
		t.Errorf("Read of an executable resource = %v, want 4.05", code)
	}
}

// TestServerRequestEvents checks that every answered request is reported
// with its operation, path, format and answer.
func TestServerRequestEvents(t *testing.T) {
	srv := startFakeServer(t)
	d := startDevice(t, srv, Config{})
	srv.send(codes.GET, "/3/0/0", noFormat, nil)
	srv.send(codes.GET, "/3/0", linkFmt, nil)
	srv.send(codes.PUT, "/33050/0/2", text, []byte("u_1"))
	srv.send(codes.GET, "/3/0", text, nil)
	want := []string{
		"server Read GET /3/0/0 text/plain -> 2.05 Content",
		"server Discover GET /3/0 link-format -> 2.05 Content",
		"server Write PUT /33050/0/2 text/plain -> 2.04 Changed",
		"server Read GET /3/0 -> 4.06 NotAcceptable",
	}
	testkit.Eventually(t, "four request events", func() bool { return d.events.count(EventServerRequest) == len(want) })
	var got []string
	for _, e := range d.events.all() {
		if e.Kind == EventServerRequest {
			got = append(got, e.String())
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("request events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
