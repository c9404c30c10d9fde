package wire

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Limits on a Register or Update payload.
const (
	MaxLinkPayload = 4096
	MaxLinks       = 256
)

// ErrBadLinkFormat is wrapped by every error ParseLinkFormat returns.
var ErrBadLinkFormat = errors.New("bad link format")

// Link is one link-value of CoRE link format (RFC 6690): a target and its
// parameters in the order they were given.
type Link struct {
	Target string
	Params []LinkParam
}

// LinkParam is one link parameter; Value is unquoted and empty when the
// parameter had no value.
type LinkParam struct {
	Name, Value string
}

// Param returns the value of the named parameter and whether it was present.
func (l Link) Param(name string) (string, bool) {
	for _, p := range l.Params {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}

// quotedEscaper escapes a quoted-string of RFC 6690 (not Go's escapes).
var quotedEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// String renders the link in link format.
func (l Link) String() string {
	var b strings.Builder
	b.WriteByte('<')
	b.WriteString(l.Target)
	b.WriteByte('>')
	for _, p := range l.Params {
		b.WriteByte(';')
		b.WriteString(p.Name)
		if p.Value != "" {
			b.WriteByte('=')
			if _, err := strconv.Atoi(p.Value); err == nil || isToken(p.Value) {
				b.WriteString(p.Value)
			} else {
				b.WriteString(`"` + quotedEscaper.Replace(p.Value) + `"`)
			}
		}
	}
	return b.String()
}

// ParseLinkFormat parses a CoRE link format document. Whitespace around the
// commas that separate links is tolerated, as many LwM2M clients send it.
func ParseLinkFormat(payload []byte) ([]Link, error) {
	if len(payload) > MaxLinkPayload {
		return nil, fmt.Errorf("%w: payload is %d bytes, at most %d", ErrBadLinkFormat, len(payload), MaxLinkPayload)
	}
	p := linkParser{s: string(payload)}
	var links []Link
	for {
		p.skipSpace()
		if p.done() {
			break
		}
		if len(links) == MaxLinks {
			return nil, fmt.Errorf("%w: more than %d links", ErrBadLinkFormat, MaxLinks)
		}
		l, err := p.link()
		if err != nil {
			return nil, err
		}
		links = append(links, l)
		p.skipSpace()
		if p.done() {
			break
		}
		if !p.consume(',') {
			return nil, p.errorf("expected ',' between links")
		}
	}
	return links, nil
}

type linkParser struct {
	s   string
	pos int
}

func (p *linkParser) done() bool { return p.pos >= len(p.s) }

func (p *linkParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w at byte %d: %s", ErrBadLinkFormat, p.pos, fmt.Sprintf(format, args...))
}

func (p *linkParser) skipSpace() {
	for !p.done() && strings.IndexByte(" \t\r\n", p.s[p.pos]) >= 0 {
		p.pos++
	}
}

func (p *linkParser) consume(c byte) bool {
	if !p.done() && p.s[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

func (p *linkParser) link() (Link, error) {
	var l Link
	if !p.consume('<') {
		return l, p.errorf("expected '<'")
	}
	end := strings.IndexByte(p.s[p.pos:], '>')
	if end < 0 {
		return l, p.errorf("unterminated '<'")
	}
	l.Target = p.s[p.pos : p.pos+end]
	if strings.ContainsAny(l.Target, "<,; \t\r\n\"") {
		return l, p.errorf("invalid character in target %q", l.Target)
	}
	p.pos += end + 1
	for p.consume(';') {
		param, err := p.param()
		if err != nil {
			return l, err
		}
		l.Params = append(l.Params, param)
	}
	return l, nil
}

func (p *linkParser) param() (LinkParam, error) {
	start := p.pos
	for !p.done() && isTokenChar(p.s[p.pos]) && p.s[p.pos] != '=' {
		p.pos++
	}
	prm := LinkParam{Name: p.s[start:p.pos]}
	if prm.Name == "" {
		return prm, p.errorf("empty parameter name")
	}
	if !p.consume('=') {
		return prm, nil
	}
	if p.consume('"') {
		var b strings.Builder
		for {
			if p.done() {
				return prm, p.errorf("unterminated quoted string")
			}
			c := p.s[p.pos]
			p.pos++
			if c == '"' {
				break
			}
			if c == '\\' && !p.done() {
				c = p.s[p.pos]
				p.pos++
			}
			b.WriteByte(c)
		}
		prm.Value = b.String()
		return prm, nil
	}
	start = p.pos
	for !p.done() && isTokenChar(p.s[p.pos]) {
		p.pos++
	}
	prm.Value = p.s[start:p.pos]
	if prm.Value == "" {
		return prm, p.errorf("parameter %s has an empty value", prm.Name)
	}
	return prm, nil
}

// isTokenChar is the ptoken alphabet of RFC 6690 less the characters that
// delimit links and parameters.
func isTokenChar(c byte) bool {
	return c > 0x20 && c < 0x7f && strings.IndexByte(`",;<>\`, c) < 0
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

// ObjectLink is a link of an LwM2M Register payload that names an object or
// an object instance.
type ObjectLink struct {
	Object   uint16
	Instance int // -1 when the link names the object only
	Version  string
}

// Path renders the link's path ("/3/0" or "/33050").
func (o ObjectLink) Path() string {
	if o.Instance < 0 {
		return "/" + strconv.Itoa(int(o.Object))
	}
	return "/" + strconv.Itoa(int(o.Object)) + "/" + strconv.Itoa(o.Instance)
}

// ObjectLinks reads the objects a client announces in its Register payload.
// It understands an alternate root path (</lwm2m>;rt="oma.lwm2m"), skips
// links it does not understand, and fails only on a path that claims to be an
// object but is not one.
func ObjectLinks(links []Link) ([]ObjectLink, error) {
	root := "/"
	for _, l := range links {
		if rt, _ := l.Param("rt"); rt == "oma.lwm2m" {
			root = strings.TrimSuffix(l.Target, "/") + "/"
		}
	}
	var out []ObjectLink
	for _, l := range links {
		rest, ok := strings.CutPrefix(l.Target, root)
		if !ok || rest == "" {
			continue
		}
		o, err := parseObjectPath(rest)
		if err != nil {
			return nil, fmt.Errorf("%w: link %q: %v", ErrBadLinkFormat, l.Target, err)
		}
		o.Version, _ = l.Param("ver")
		out = append(out, o)
	}
	return out, nil
}

func parseObjectPath(rest string) (ObjectLink, error) {
	o := ObjectLink{Instance: -1}
	objStr, instStr, hasInst := strings.Cut(rest, "/")
	obj, err := strconv.ParseUint(objStr, 10, 16)
	if err != nil {
		return o, fmt.Errorf("object ID %q is not a number 0..65535", objStr)
	}
	o.Object = uint16(obj)
	if hasInst {
		inst, err := strconv.ParseUint(instStr, 10, 16)
		if err != nil || inst == 65535 {
			return o, fmt.Errorf("instance ID %q is not a number 0..65534", instStr)
		}
		o.Instance = int(inst)
	}
	return o, nil
}

// HasObject reports whether the object is among the links.
func HasObject(objs []ObjectLink, id uint16) bool {
	for _, o := range objs {
		if o.Object == id {
			return true
		}
	}
	return false
}
