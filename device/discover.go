package device

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/mux"
)

// maxAttributeQueries bounds the Uri-Query options of a Write-Attributes.
const maxAttributeQueries = 8

// maxAttributeSeconds bounds pmin and pmax (a little over 68 years).
const maxAttributeSeconds = 1<<31 - 1

// attributes are the notification attributes (LwM2M 1.1 Core 5.1.2) the
// server wrote on one path; -1 means unset.
type attributes struct {
	pmin, pmax int64
}

var noAttributes = attributes{pmin: -1, pmax: -1}

// String renders the attributes as link-format parameters: ";pmin=10".
func (a attributes) String() string {
	var b strings.Builder
	if a.pmin >= 0 {
		b.WriteString(";pmin=" + strconv.FormatInt(a.pmin, 10))
	}
	if a.pmax >= 0 {
		b.WriteString(";pmax=" + strconv.FormatInt(a.pmax, 10))
	}
	return b.String()
}

// errAttributes is wrapped by every error of parseAttributes.
var errAttributes = errors.New("bad Write-Attributes query")

// parseAttributes applies the Uri-Query of a Write-Attributes to a:
// "pmin=10" sets, "pmin" alone unsets. The device supports pmin and pmax;
// any other attribute is refused.
func parseAttributes(a attributes, queries []string) (attributes, error) {
	if len(queries) > maxAttributeQueries {
		return a, fmt.Errorf("%w: more than %d attributes", errAttributes, maxAttributeQueries)
	}
	for _, q := range queries {
		name, value, hasValue := strings.Cut(q, "=")
		var field *int64
		switch name {
		case "pmin":
			field = &a.pmin
		case "pmax":
			field = &a.pmax
		default:
			return a, fmt.Errorf("%w: attribute %.32q is not supported (pmin and pmax are)", errAttributes, name)
		}
		if !hasValue {
			*field = -1
			continue
		}
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil || n < 0 || n > maxAttributeSeconds {
			return a, fmt.Errorf("%w: %s=%.32q is not a number of seconds", errAttributes, name, value)
		}
		*field = n
	}
	return a, nil
}

// serveWriteAttributes answers a Write-Attributes (PUT with Uri-Query and
// no payload) on an object, an instance or a resource.
func (c *Client) serveWriteAttributes(w mux.ResponseWriter, r *mux.Message, p objectPath) {
	if _, _, ok := c.lookup(p); !ok {
		reply(w, codes.NotFound, "no such object instance or resource "+p.String())
		return
	}
	queries, err := r.Options().Queries()
	if err != nil {
		reply(w, codes.BadRequest, "cannot read the Uri-Query: "+err.Error())
		return
	}
	if err := c.obs.writeAttributes(p, queries); err != nil {
		reply(w, codes.BadRequest, err.Error())
		return
	}
	_ = w.SetResponse(codes.Changed, message.TextPlain, nil)
	c.obs.wake()
}

// serveDiscover answers a Discover (GET with Accept link-format) with the
// object's instances and resources and the attributes written on them, as
// LwM2M 1.1 Core 5.4.2 describes: on an object the object's attributes, on
// an instance the instance's and its resources', on a resource its own.
func (c *Client) serveDiscover(w mux.ResponseWriter, p objectPath) {
	defs, def, ok := c.lookup(p)
	if !ok {
		reply(w, codes.NotFound, "no such object instance or resource "+p.String())
		return
	}
	var links []string
	link := func(q objectPath, withAttrs bool) {
		s := "<" + q.String() + ">"
		if withAttrs {
			s += c.obs.attributesOf(q).String()
		}
		links = append(links, s)
	}
	switch {
	case p.resource >= 0:
		link(objectPath{p.object, 0, int(def.id)}, true)
	default:
		link(p, true)
		if p.instance < 0 {
			link(objectPath{p.object, 0, -1}, false)
		}
		for _, d := range defs {
			link(objectPath{p.object, 0, int(d.id)}, p.instance >= 0)
		}
	}
	_ = w.SetResponse(codes.Content, formatLinkFormat, strings.NewReader(strings.Join(links, ",")))
}
