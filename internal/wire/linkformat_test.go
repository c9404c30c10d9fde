package wire

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParseLinkFormat(t *testing.T) {
	tests := map[string]struct {
		payload string
		want    []Link
		err     bool
	}{
		"Wakaama register payload": {
			payload: `</>;rt="oma.lwm2m";ct=11543,</1/0>,</3/0>,</33050/0>;ver=1.0`,
			want: []Link{
				{Target: "/", Params: []LinkParam{{"rt", "oma.lwm2m"}, {"ct", "11543"}}},
				{Target: "/1/0"}, {Target: "/3/0"},
				{Target: "/33050/0", Params: []LinkParam{{"ver", "1.0"}}},
			},
		},
		"Anjay register payload": {
			payload: `</1>;ver=1.1,</1/1>,</3/0>,</5>,</33050>;ver=1.0,</33050/0>`,
			want: []Link{
				{Target: "/1", Params: []LinkParam{{"ver", "1.1"}}}, {Target: "/1/1"}, {Target: "/3/0"},
				{Target: "/5"}, {Target: "/33050", Params: []LinkParam{{"ver", "1.0"}}}, {Target: "/33050/0"},
			},
		},
		"empty payload":            {payload: "", want: nil},
		"only whitespace":          {payload: " \r\n\t", want: nil},
		"single link":              {payload: "</3/0>", want: []Link{{Target: "/3/0"}}},
		"trailing comma tolerated": {payload: "</3/0>,", want: []Link{{Target: "/3/0"}}},
		"whitespace and newlines between links": {
			payload: "\n </1/0> ,\r\n\t</3/0>\n,</5/0>  \n",
			want:    []Link{{Target: "/1/0"}, {Target: "/3/0"}, {Target: "/5/0"}},
		},
		"parameter without value": {
			payload: "</3/0>;obs;ct=40",
			want:    []Link{{Target: "/3/0", Params: []LinkParam{{"obs", ""}, {"ct", "40"}}}},
		},
		"quoted parameter with escapes": {
			payload: `</x>;title="a \"quoted\" \\ value, with; separators"`,
			want:    []Link{{Target: "/x", Params: []LinkParam{{"title", `a "quoted" \ value, with; separators`}}}},
		},
		"empty quoted value": {
			payload: `</x>;title=""`,
			want:    []Link{{Target: "/x", Params: []LinkParam{{"title", ""}}}},
		},
		"absolute URI target": {
			payload: `<coap://[2001:db8::1]:5683/3/0>;if="sensor"`,
			want:    []Link{{Target: "coap://[2001:db8::1]:5683/3/0", Params: []LinkParam{{"if", "sensor"}}}},
		},
		"empty target is a link to the document itself (RFC 6690)": {
			payload: "<>",
			want:    []Link{{Target: ""}},
		},
		"exactly MaxLinks links": {
			payload: strings.Repeat("</1>,", MaxLinks-1) + "</1>",
			want:    repeatLink(Link{Target: "/1"}, MaxLinks),
		},

		"missing '<'":                     {payload: "/3/0>", err: true},
		"missing '<' on the second link":  {payload: "</1/0>,/3/0>", err: true},
		"unterminated target":             {payload: "</3/0", err: true},
		"unterminated quoted value":       {payload: `</3/0>;rt="oma`, err: true},
		"backslash at the end of a quote": {payload: `</3/0>;rt="oma\`, err: true},
		"junk after link":                 {payload: "</3/0>junk", err: true},
		"junk after parameter":            {payload: "</3/0>;ct=40 junk", err: true},
		"missing comma":                   {payload: "</1/0></3/0>", err: true},
		"double comma":                    {payload: "</1/0>,,</3/0>", err: true},
		"leading comma":                   {payload: ",</1/0>", err: true},
		"empty parameter name":            {payload: "</3/0>;=1", err: true},
		"empty parameter after ';'":       {payload: "</3/0>;", err: true},
		"empty unquoted value":            {payload: "</3/0>;ct=", err: true},
		"space in target":                 {payload: "</3 /0>", err: true},
		"comma in target":                 {payload: "</3,/0>", err: true},
		"quote in target":                 {payload: `</3"/0>`, err: true},
		"'<' in target":                   {payload: "<</3/0>", err: true},
		"oversize payload": {
			payload: "</1/0>," + strings.Repeat(" ", MaxLinkPayload),
			err:     true,
		},
		"too many links": {
			payload: strings.Repeat("</1>,", MaxLinks) + "</1>",
			err:     true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseLinkFormat([]byte(tc.payload))
			if tc.err {
				if !errors.Is(err, ErrBadLinkFormat) {
					t.Fatalf("ParseLinkFormat(%q) = %v, %v; want an error wrapping ErrBadLinkFormat", tc.payload, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseLinkFormat(%q): %v", tc.payload, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseLinkFormat(%q)\n got %+v\nwant %+v", tc.payload, got, tc.want)
			}
		})
	}
}

func TestParseLinkFormatPayloadLimit(t *testing.T) {
	link := "</1/0>"
	exact := link + strings.Repeat(" ", MaxLinkPayload-len(link))
	if _, err := ParseLinkFormat([]byte(exact)); err != nil {
		t.Errorf("payload of exactly MaxLinkPayload bytes: %v", err)
	}
	if _, err := ParseLinkFormat([]byte(exact + " ")); !errors.Is(err, ErrBadLinkFormat) {
		t.Errorf("payload of MaxLinkPayload+1 bytes: %v, want ErrBadLinkFormat", err)
	}
}

func TestLinkString(t *testing.T) {
	tests := map[string]struct {
		link Link
		want string
	}{
		"target only":      {Link{Target: "/3/0"}, "</3/0>"},
		"token value":      {Link{Target: "/", Params: []LinkParam{{"rt", "oma.lwm2m"}, {"ct", "11543"}}}, "</>;rt=oma.lwm2m;ct=11543"},
		"no value":         {Link{Target: "/3/0", Params: []LinkParam{{"obs", ""}}}, "</3/0>;obs"},
		"negative integer": {Link{Target: "/x", Params: []LinkParam{{"n", "-1"}}}, "</x>;n=-1"},
		"value needs quotes": {
			Link{Target: "/x", Params: []LinkParam{{"title", `a "b", c`}}},
			`</x>;title="a \"b\", c"`,
		},
		"control and non-ASCII bytes stay as they are": {
			Link{Target: "/x", Params: []LinkParam{{"t", "\x1b\u00e9\\n"}}},
			"</x>;t=\"\x1b\u00e9\\\\n\"",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.link.String(); got != tc.want {
				t.Errorf("String() = %s, want %s", got, tc.want)
			}
			back, err := ParseLinkFormat([]byte(tc.link.String()))
			if err != nil || len(back) != 1 || !reflect.DeepEqual(back[0], tc.link) {
				t.Errorf("re-parsing %s gave %+v, %v", tc.link.String(), back, err)
			}
		})
	}
}

func TestLinkParam(t *testing.T) {
	l := Link{Target: "/3/0", Params: []LinkParam{{"ver", "1.1"}, {"obs", ""}, {"ver", "9"}}}
	tests := map[string]struct {
		name  string
		value string
		ok    bool
	}{
		"first of a repeated parameter": {"ver", "1.1", true},
		"parameter without value":       {"obs", "", true},
		"absent":                        {"ct", "", false},
		"names are case-sensitive":      {"VER", "", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			v, ok := l.Param(tc.name)
			if v != tc.value || ok != tc.ok {
				t.Errorf("Param(%q) = %q, %v; want %q, %v", tc.name, v, ok, tc.value, tc.ok)
			}
		})
	}
}

func TestObjectLinks(t *testing.T) {
	tests := map[string]struct {
		payload string
		want    []ObjectLink
		paths   []string
		err     bool
	}{
		"Wakaama payload": {
			payload: `</>;rt="oma.lwm2m";ct=11543,</1/0>,</3/0>,</33050/0>;ver=1.0`,
			want: []ObjectLink{
				{Object: 1, Instance: 0}, {Object: 3, Instance: 0}, {Object: 33050, Instance: 0, Version: "1.0"},
			},
			paths: []string{"/1/0", "/3/0", "/33050/0"},
		},
		"objects without instances": {
			payload: `</1>;ver=1.1,</33050>,</3/0>`,
			want:    []ObjectLink{{Object: 1, Instance: -1, Version: "1.1"}, {Object: 33050, Instance: -1}, {Object: 3, Instance: 0}},
			paths:   []string{"/1", "/33050", "/3/0"},
		},
		"alternate root path": {
			payload: `</lwm2m>;rt="oma.lwm2m",</lwm2m/1/0>,</lwm2m/3/0>,</other/5/0>,</7/0>`,
			want:    []ObjectLink{{Object: 1, Instance: 0}, {Object: 3, Instance: 0}},
			paths:   []string{"/1/0", "/3/0"},
		},
		"alternate root path with a trailing slash": {
			payload: `</lwm2m/>;rt="oma.lwm2m",</lwm2m/3/0>`,
			want:    []ObjectLink{{Object: 3, Instance: 0}},
		},
		"highest instance": {
			payload: `</3/65534>,</65535>`,
			want:    []ObjectLink{{Object: 3, Instance: 65534}, {Object: 65535, Instance: -1}},
		},
		"non-object links are skipped": {
			payload: `<coap://example.com/3/0>,<3/0>,</>;ct=40,<>`,
			want:    nil,
		},
		"empty payload": {payload: "", want: nil},

		"non-numeric object":     {payload: `</1/0>,</device/0>`, err: true},
		"object too large":       {payload: `</65536/0>`, err: true},
		"negative object":        {payload: `</-1>`, err: true},
		"instance 65535":         {payload: `</3/65535>`, err: true},
		"non-numeric instance":   {payload: `</3/x>`, err: true},
		"empty instance":         {payload: `</3/>`, err: true},
		"resource path":          {payload: `</3/0/1>`, err: true},
		"non-numeric under root": {payload: `</lwm2m>;rt="oma.lwm2m",</lwm2m/x>`, err: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			links, err := ParseLinkFormat([]byte(tc.payload))
			if err != nil {
				t.Fatalf("ParseLinkFormat(%q): %v", tc.payload, err)
			}
			got, err := ObjectLinks(links)
			if tc.err {
				if !errors.Is(err, ErrBadLinkFormat) {
					t.Fatalf("ObjectLinks(%q) = %+v, %v; want an error wrapping ErrBadLinkFormat", tc.payload, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ObjectLinks(%q): %v", tc.payload, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ObjectLinks(%q)\n got %+v\nwant %+v", tc.payload, got, tc.want)
			}
			if tc.paths != nil {
				var paths []string
				for _, o := range got {
					paths = append(paths, o.Path())
				}
				if !reflect.DeepEqual(paths, tc.paths) {
					t.Errorf("paths %q, want %q", paths, tc.paths)
				}
			}
		})
	}
}

func TestHasObject(t *testing.T) {
	objs := []ObjectLink{{Object: 1, Instance: 0}, {Object: PairingObjectID, Instance: -1}}
	tests := map[string]struct {
		id   uint16
		want bool
	}{
		"instance listed":   {1, true},
		"object only":       {PairingObjectID, true},
		"absent":            {3, false},
		"zero is no object": {0, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := HasObject(objs, tc.id); got != tc.want {
				t.Errorf("HasObject(%d) = %v, want %v", tc.id, got, tc.want)
			}
		})
	}
}

// FuzzParseLinkFormat checks that what the parser accepts stays within the
// limits, renders back to link format that parses to the same links, and
// that ObjectLinks only returns paths it can render.
func FuzzParseLinkFormat(f *testing.F) {
	for _, s := range []string{
		`</>;rt="oma.lwm2m";ct=11543,</1/0>,</3/0>,</33050/0>;ver=1.0`,
		`</lwm2m>;rt="oma.lwm2m",</lwm2m/1/0>,</lwm2m/3/0>`,
		"\n </1/0> ,\r\n\t</3/0>\n,</5/0>  \n",
		`</x>;title="a \"quoted\" \\ value, with; separators";obs`,
		`</3/65535>`,
		`<>,</1>;ct=`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		links, err := ParseLinkFormat(payload)
		if err != nil {
			if !errors.Is(err, ErrBadLinkFormat) {
				t.Fatalf("error %v does not wrap ErrBadLinkFormat", err)
			}
			return
		}
		if len(payload) > MaxLinkPayload || len(links) > MaxLinks {
			t.Fatalf("accepted %d bytes holding %d links", len(payload), len(links))
		}
		var rendered []string
		for _, l := range links {
			rendered = append(rendered, l.String())
		}
		doc := strings.Join(rendered, ",")
		back, err := ParseLinkFormat([]byte(doc))
		if err != nil {
			t.Fatalf("re-parsing %q (from %q): %v", doc, payload, err)
		}
		if len(back) != len(links) {
			t.Fatalf("re-parsing %q gave %d links, want %d", doc, len(back), len(links))
		}
		for i := range links {
			if back[i].Target != links[i].Target {
				t.Errorf("link %d: target %q became %q", i, links[i].Target, back[i].Target)
			}
			if !reflect.DeepEqual(paramsOrNil(back[i].Params), paramsOrNil(links[i].Params)) {
				t.Errorf("link %d: params %q became %q (rendered %s)", i, links[i].Params, back[i].Params, rendered[i])
			}
		}
		objs, err := ObjectLinks(links)
		if err != nil {
			if !errors.Is(err, ErrBadLinkFormat) {
				t.Fatalf("ObjectLinks error %v does not wrap ErrBadLinkFormat", err)
			}
			return
		}
		for _, o := range objs {
			if o.Instance < -1 || o.Instance > 65534 {
				t.Errorf("object link %+v has instance out of range", o)
			}
			if p := o.Path(); !strings.HasPrefix(p, "/"+strconv.Itoa(int(o.Object))) {
				t.Errorf("path %q of %+v", p, o)
			}
		}
	})
}

func paramsOrNil(p []LinkParam) []LinkParam {
	if len(p) == 0 {
		return nil
	}
	return p
}

func repeatLink(l Link, n int) []Link {
	out := make([]Link, n)
	for i := range out {
		out[i] = l
	}
	return out
}
