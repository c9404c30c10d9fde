package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
)

// Caller calls pre-bind hooks; it implements pairing.BindHookCaller.
type Caller struct {
	client *http.Client
}

// NewCaller returns a caller that connects only to allow, when it is not
// empty.
func NewCaller(allow []*net.IPNet) *Caller { return &Caller{client: newClient(allow)} }

var _ pairing.BindHookCaller = (*Caller)(nil)

// hookAnswer is the JSON a pre-bind hook answers.
type hookAnswer struct {
	Allow  *bool  `json:"allow"`
	Reason string `json:"reason"`
}

// CallBindHook posts the signed body and reads {"allow", "reason"} from a
// 2xx answer within timeout; anything else is an error.
func (c *Caller) CallBindHook(ctx context.Context, url string, secret []byte, timeout time.Duration, body []byte) (pairing.HookAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	a, err := post(ctx, c.client, url, secret, body, map[string]string{HeaderEventType: pairing.EventTypeBindCheck})
	switch {
	case ctx.Err() != nil:
		return pairing.HookAnswer{}, fmt.Errorf("no answer within %v", timeout)
	case err != nil:
		return pairing.HookAnswer{}, fmt.Errorf("%s", short(err.Error()))
	case !ok(a.status):
		return pairing.HookAnswer{}, fmt.Errorf("the hook answered HTTP %d", a.status)
	}
	var ans hookAnswer
	dec := json.NewDecoder(bytes.NewReader(a.body))
	if err := dec.Decode(&ans); err != nil || ans.Allow == nil {
		return pairing.HookAnswer{}, fmt.Errorf("the hook's answer is not JSON with \"allow\": true or false")
	}
	return pairing.HookAnswer{Allow: *ans.Allow, Reason: ans.Reason}, nil
}
