package wire

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRegisterQuery(t *testing.T) {
	const ep = "urn:imei:868000000000001"
	tests := map[string]struct {
		params []string
		want   RegisterQuery
		err    bool
	}{
		"LwM2M 1.0 queue mode in the binding": {
			params: []string{"ep=" + ep, "lt=300", "lwm2m=1.0", "b=UQ"},
			want:   RegisterQuery{Endpoint: ep, Lifetime: 300, Version: "1.0", Binding: "U", QueueMode: true},
		},
		"LwM2M 1.1 queue mode as its own parameter": {
			params: []string{"ep=" + ep, "lt=60", "lwm2m=1.1", "b=U", "Q"},
			want:   RegisterQuery{Endpoint: ep, Lifetime: 60, Version: "1.1", Binding: "U", QueueMode: true},
		},
		"Q before the binding": {
			params: []string{"Q", "b=U", "ep=" + ep},
			want:   RegisterQuery{Endpoint: ep, Lifetime: DefaultLifetime, Version: "1.0", Binding: "U", QueueMode: true},
		},
		"LwM2M 1.2": {
			params: []string{"ep=" + ep, "lwm2m=1.2"},
			want:   RegisterQuery{Endpoint: ep, Lifetime: DefaultLifetime, Version: "1.2", Binding: "U"},
		},
		"defaults when only ep is sent": {
			params: []string{"ep=" + ep},
			want:   RegisterQuery{Endpoint: ep, Lifetime: 86400, Version: "1.0", Binding: "U"},
		},
		"several transports": {
			params: []string{"ep=" + ep, "b=UN"},
			want:   RegisterQuery{Endpoint: ep, Lifetime: DefaultLifetime, Version: "1.0", Binding: "UN"},
		},
		"option values are taken as sent (CoAP already decoded them)": {
			params: []string{"ep=" + ep, "sms=+4915112345678", "pid=prod_thermo"},
			want: RegisterQuery{Endpoint: ep, Lifetime: DefaultLifetime, Version: "1.0", Binding: "U",
				SMS: "+4915112345678", ProductID: "prod_thermo"},
		},
		"unknown parameters are ignored": {
			params: []string{"ep=" + ep, "et=sensor", "d=domain", "x"},
			want:   RegisterQuery{Endpoint: ep, Lifetime: DefaultLifetime, Version: "1.0", Binding: "U"},
		},
		"a percent sign is a character, not an escape": {
			params: []string{"ep=urn%3Aimei"},
			want:   RegisterQuery{Endpoint: "urn%3Aimei", Lifetime: DefaultLifetime, Version: "1.0", Binding: "U"},
		},
		"lifetime at the limits": {
			params: []string{"ep=" + ep, "lt=1"},
			want:   RegisterQuery{Endpoint: ep, Lifetime: MinLifetime, Version: "1.0", Binding: "U"},
		},
		"longest lifetime": {
			params: []string{"ep=" + ep, "lt=31536000"},
			want:   RegisterQuery{Endpoint: ep, Lifetime: MaxLifetime, Version: "1.0", Binding: "U"},
		},
		"longest endpoint": {
			params: []string{"ep=" + strings.Repeat("e", MaxEndpointLen)},
			want:   RegisterQuery{Endpoint: strings.Repeat("e", MaxEndpointLen), Lifetime: DefaultLifetime, Version: "1.0", Binding: "U"},
		},
		"as many parameters as allowed": {
			params: append([]string{"ep=" + ep}, repeatParam("Q", maxQueryParams-1)...),
			want:   RegisterQuery{Endpoint: ep, Lifetime: DefaultLifetime, Version: "1.0", Binding: "U", QueueMode: true},
		},

		"missing ep":                 {params: []string{"lt=60", "b=U"}, err: true},
		"no parameters":              {params: nil, err: true},
		"empty ep":                   {params: []string{"ep=", "lt=60"}, err: true},
		"ep without value":           {params: []string{"ep"}, err: true},
		"ep too long":                {params: []string{"ep=" + strings.Repeat("e", MaxEndpointLen+1)}, err: true},
		"ep with a space":            {params: []string{"ep=urn:imei: 1"}, err: true},
		"ep with a control char":     {params: []string{"ep=urn\x00imei"}, err: true},
		"ep with a DEL":              {params: []string{"ep=dev\x7f"}, err: true},
		"ep not ASCII":               {params: []string{"ep=g\u00e9rard"}, err: true},
		"ep not UTF-8":               {params: []string{"ep=dev\xff"}, err: true},
		"control char in ep":         {params: []string{"ep=urn\x00imei"}, err: true},
		"empty parameter name":       {params: []string{"ep=" + ep, "=60"}, err: true},
		"empty parameter":            {params: []string{"ep=" + ep, ""}, err: true},
		"lt not numeric":             {params: []string{"ep=" + ep, "lt=sixty"}, err: true},
		"lt empty":                   {params: []string{"ep=" + ep, "lt="}, err: true},
		"lt fractional":              {params: []string{"ep=" + ep, "lt=1.5"}, err: true},
		"lt zero":                    {params: []string{"ep=" + ep, "lt=0"}, err: true},
		"lt negative":                {params: []string{"ep=" + ep, "lt=-60"}, err: true},
		"lt above the limit":         {params: []string{"ep=" + ep, "lt=31536001"}, err: true},
		"lt absurd":                  {params: []string{"ep=" + ep, "lt=99999999999"}, err: true},
		"lt beyond int64":            {params: []string{"ep=" + ep, "lt=99999999999999999999999"}, err: true},
		"unsupported LwM2M version":  {params: []string{"ep=" + ep, "lwm2m=2.0"}, err: true},
		"LwM2M version empty":        {params: []string{"ep=" + ep, "lwm2m="}, err: true},
		"LwM2M version with a space": {params: []string{"ep=" + ep, "lwm2m=1.1 "}, err: true},
		"binding lower case":         {params: []string{"ep=" + ep, "b=u"}, err: true},
		"binding unknown letter":     {params: []string{"ep=" + ep, "b=UX"}, err: true},
		"binding empty":              {params: []string{"ep=" + ep, "b="}, err: true},
		"binding only Q":             {params: []string{"ep=" + ep, "b=Q"}, err: true},
		"binding too long":           {params: []string{"ep=" + ep, "b=UUUUUUUUU"}, err: true},
		"too many parameters":        {params: append([]string{"ep=" + ep}, repeatParam("Q", maxQueryParams)...), err: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseRegisterQuery(tc.params)
			if tc.err {
				if !errors.Is(err, ErrBadQuery) {
					t.Fatalf("ParseRegisterQuery(%q) = %+v, %v; want an error wrapping ErrBadQuery", tc.params, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRegisterQuery(%q): %v", tc.params, err)
			}
			if got != tc.want {
				t.Errorf("ParseRegisterQuery(%q)\n got %+v\nwant %+v", tc.params, got, tc.want)
			}
		})
	}
}

func TestParseUpdateQuery(t *testing.T) {
	tests := map[string]struct {
		params []string
		want   UpdateQuery
		queue  *bool // want.QueueMode, compared by value
		err    bool
	}{
		"empty update":            {params: nil, want: UpdateQuery{}},
		"lifetime":                {params: []string{"lt=120"}, want: UpdateQuery{Lifetime: 120}},
		"binding leaves no queue": {params: []string{"b=U"}, want: UpdateQuery{Binding: "U"}, queue: boolPtr(false)},
		"1.0 queue in binding":    {params: []string{"b=UQ"}, want: UpdateQuery{Binding: "U"}, queue: boolPtr(true)},
		"Q alone":                 {params: []string{"Q"}, queue: boolPtr(true)},
		"binding then Q":          {params: []string{"b=U", "Q"}, want: UpdateQuery{Binding: "U"}, queue: boolPtr(true)},
		"sms":                     {params: []string{"sms=+4915112345678"}, want: UpdateQuery{SMS: "+4915112345678"}},
		"Q then binding":          {params: []string{"Q", "b=U"}, want: UpdateQuery{Binding: "U"}, queue: boolPtr(true)},
		"ep is not an update parameter": {
			params: []string{"ep=whatever", "lt=60"}, want: UpdateQuery{Lifetime: 60},
		},
		"all":                  {params: []string{"lt=60", "b=UQ", "sms=1"}, want: UpdateQuery{Lifetime: 60, Binding: "U", SMS: "1"}, queue: boolPtr(true)},
		"lt zero":              {params: []string{"lt=0"}, err: true},
		"lt not numeric":       {params: []string{"lt=x"}, err: true},
		"lt absurd":            {params: []string{"lt=99999999999"}, err: true},
		"bad binding":          {params: []string{"b=Z"}, err: true},
		"binding only Q":       {params: []string{"b=Q"}, err: true},
		"empty parameter name": {params: []string{"=1"}, err: true},
		"too many parameters":  {params: repeatParam("lt=60", maxQueryParams+1), err: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseUpdateQuery(tc.params)
			if tc.err {
				if !errors.Is(err, ErrBadQuery) {
					t.Fatalf("ParseUpdateQuery(%q) = %+v, %v; want an error wrapping ErrBadQuery", tc.params, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseUpdateQuery(%q): %v", tc.params, err)
			}
			if (got.QueueMode == nil) != (tc.queue == nil) || (got.QueueMode != nil && *got.QueueMode != *tc.queue) {
				t.Errorf("ParseUpdateQuery(%q): queue mode %s, want %s", tc.params, fmtBoolPtr(got.QueueMode), fmtBoolPtr(tc.queue))
			}
			got.QueueMode = nil
			if got != tc.want {
				t.Errorf("ParseUpdateQuery(%q)\n got %+v\nwant %+v", tc.params, got, tc.want)
			}
		})
	}
}

func TestIMEIFromEndpoint(t *testing.T) {
	tests := map[string]struct {
		ep   string
		imei string
		ok   bool
	}{
		"IMEI URN":          {ep: "urn:imei:868000000000001", imei: "868000000000001", ok: true},
		"Luhn not enforced": {ep: "urn:imei:123456789012345", imei: "123456789012345", ok: true},
		"14 digits":         {ep: "urn:imei:86800000000000", ok: false},
		"16 digits":         {ep: "urn:imei:8680000000000012", ok: false},
		"letter in IMEI":    {ep: "urn:imei:86800000000000a", ok: false},
		"IMEISV":            {ep: "urn:imeisv:8680000000000101", ok: false},
		"upper-case prefix": {ep: "URN:IMEI:868000000000001", ok: false},
		"no prefix":         {ep: "868000000000001", ok: false},
		"other URN":         {ep: "urn:uuid:00000000-0000-0000-0000-000000000000", ok: false},
		"prefix only":       {ep: "urn:imei:", ok: false},
		"empty":             {ep: "", ok: false},
		"trailing space":    {ep: "urn:imei:868000000000001 ", ok: false},
		"non-ASCII digit":   {ep: "urn:imei:86800000000000\u0661", ok: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			imei, ok := IMEIFromEndpoint(tc.ep)
			if imei != tc.imei || ok != tc.ok {
				t.Errorf("IMEIFromEndpoint(%q) = %q, %v; want %q, %v", tc.ep, imei, ok, tc.imei, tc.ok)
			}
			if ok && EndpointForIMEI(imei) != tc.ep {
				t.Errorf("EndpointForIMEI(%q) = %q, want %q", imei, EndpointForIMEI(imei), tc.ep)
			}
		})
	}
}

func TestValidIMEI(t *testing.T) {
	tests := map[string]struct {
		s    string
		want bool
	}{
		"15 digits":     {"868000000000001", true},
		"all zeros":     {"000000000000000", true},
		"14 digits":     {"86800000000000", false},
		"16 digits":     {"8680000000000011", false},
		"letter":        {"86800000000000x", false},
		"sign":          {"+68000000000001", false},
		"space":         {"868000000 00001", false},
		"empty":         {"", false},
		"multibyte":     {"86800000000000\u0661", false},
		"15 bytes utf8": {"8680000000000\u00e9", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := ValidIMEI(tc.s); got != tc.want {
				t.Errorf("ValidIMEI(%q) = %v, want %v", tc.s, got, tc.want)
			}
		})
	}
}

// FuzzParseRegisterQuery feeds a query string split on '&', as a client's
// Uri-Query options, and checks that whatever is accepted respects the
// documented limits.
func FuzzParseRegisterQuery(f *testing.F) {
	for _, s := range []string{
		"ep=urn:imei:868000000000001&lt=60&lwm2m=1.1&b=U&Q",
		"ep=urn:imei:868000000000001&lt=300&lwm2m=1.0&b=UQ",
		"ep=dev&pid=prod_1&sms=%2B49",
		"ep=urn%3Aimei%3A1&lt=99999999999",
		"ep=&b=Q",
		"lt=0",
		"Q&b=UNST&ep=x&lwm2m=1.2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		params := strings.Split(s, "&")
		q, err := ParseRegisterQuery(params)
		if err != nil {
			if !errors.Is(err, ErrBadQuery) {
				t.Fatalf("error %v does not wrap ErrBadQuery", err)
			}
			return
		}
		if len(params) > maxQueryParams {
			t.Errorf("accepted %d parameters", len(params))
		}
		if q.Lifetime < MinLifetime || q.Lifetime > MaxLifetime {
			t.Errorf("lifetime %d outside %d..%d", q.Lifetime, MinLifetime, MaxLifetime)
		}
		if q.Endpoint == "" || len(q.Endpoint) > MaxEndpointLen {
			t.Errorf("endpoint of %d bytes", len(q.Endpoint))
		}
		for i := 0; i < len(q.Endpoint); i++ {
			if c := q.Endpoint[i]; c < 0x21 || c > 0x7e {
				t.Errorf("endpoint %q holds byte %#x", q.Endpoint, c)
			}
		}
		if q.Binding == "" || strings.Trim(q.Binding, "USNT") != "" {
			t.Errorf("binding %q", q.Binding)
		}
		switch q.Version {
		case "1.0", "1.1", "1.2":
		default:
			t.Errorf("version %q", q.Version)
		}
		if imei, ok := IMEIFromEndpoint(q.Endpoint); ok && EndpointForIMEI(imei) != q.Endpoint {
			t.Errorf("IMEI %q of endpoint %q does not map back", imei, q.Endpoint)
		}
		// The update parser must accept every update parameter the
		// register parser accepted.
		if _, err := ParseUpdateQuery(params); err != nil {
			t.Errorf("ParseUpdateQuery refused what ParseRegisterQuery took: %v", err)
		}
	})
}

func repeatParam(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func boolPtr(v bool) *bool { return &v }

func fmtBoolPtr(b *bool) string {
	switch {
	case b == nil:
		return "unset"
	case *b:
		return "true"
	}
	return "false"
}
