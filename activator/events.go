package activator

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// sseIdle is how long the event stream may stay silent before the client
// takes it for dead; the server sends a keepalive comment every 15 s.
const sseIdle = 45 * time.Second

// errStreamEnded is why following by events gave way to long-polls when the
// server closed the stream before the activation finished.
var errStreamEnded = errors.New("the event stream ended before the activation finished")

// watchEvents follows the activation by GET /v1/activations/{id}/events
// until an "activation" event shows it finished. Any failure of the stream
// (not an SSE answer, a broken connection, a silence longer than sseIdle)
// is returned as an error that is not an *Error, so that the caller falls
// back to long-polls.
func (c *Client) watchEvents(ctx context.Context, id string) (activation, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	idle := time.AfterFunc(sseIdle, cancel)
	defer idle.Stop()
	resp, err := c.send(sctx, http.MethodGet, "/v1/activations/"+url.PathEscape(id)+"/events", nil, "text/event-stream")
	if err != nil {
		return activation{}, err
	}
	defer resp.Body.Close()
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		return activation{}, fmt.Errorf("activator: events of activation %s: answered with %q, not text/event-stream", id, mt)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 4096), maxAnswer)
	var ev sseEvent
	for sc.Scan() {
		idle.Reset(sseIdle)
		if !ev.add(sc.Text()) {
			continue
		}
		if ev.name == "activation" {
			var a activation
			if err := json.Unmarshal([]byte(ev.data()), &a); err != nil {
				return activation{}, fmt.Errorf("activator: events of activation %s: %w", id, err)
			}
			if a.finished() {
				return a, nil
			}
		}
		ev = sseEvent{}
	}
	err = sc.Err()
	if ctx.Err() != nil {
		return activation{}, fmt.Errorf("activator: following activation %s: %w", id, ctx.Err())
	} else if err == nil {
		err = errStreamEnded
	}
	return activation{}, fmt.Errorf("activator: events of activation %s: %w", id, err)
}

// sseEvent collects the lines of one server-sent event.
type sseEvent struct {
	name  string
	lines []string
}

// add takes one line of the stream and reports whether it ended the event
// (a blank line after at least one field).
func (e *sseEvent) add(line string) bool {
	if line == "" {
		return e.name != "" || e.lines != nil
	}
	if strings.HasPrefix(line, ":") { // a comment, such as ": keepalive"
		return false
	}
	field, value, _ := strings.Cut(line, ":")
	value = strings.TrimPrefix(value, " ")
	switch field {
	case "event":
		e.name = value
	case "data":
		e.lines = append(e.lines, value)
	}
	return false
}

func (e *sseEvent) data() string { return strings.Join(e.lines, "\n") }
