package lwm2m

import (
	"testing"

	"github.com/plgd-dev/go-coap/v3/message/codes"
)

func TestVerdictOf(t *testing.T) {
	for code, want := range map[codes.Code]verdict{
		codes.Changed:               accepted,
		codes.Created:               accepted,
		codes.NotAcceptable:         formatRefused,
		codes.UnsupportedMediaType:  formatRefused,
		codes.BadRequest:            formatRefused,
		codes.NotFound:              objectMissing,
		codes.MethodNotAllowed:      refused,
		codes.Unauthorized:          refused,
		codes.Forbidden:             refused,
		codes.RequestEntityTooLarge: refused,
		codes.InternalServerError:   transient,
		codes.ServiceUnavailable:    transient,
	} {
		if got := verdictOf(code); got != want {
			t.Errorf("%v: verdict %d, want %d", code, got, want)
		}
	}
}
