package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nbpair/nbpair/activator"
)

// adminFlags adds --server and --token-file to fs.
func adminFlags(fs *flag.FlagSet) (server, tokenFile *string) {
	server = fs.String("server", "http://localhost:8080", "base `URL` of the nbpair server")
	tokenFile = fs.String("token-file", filepath.Join("nbpair-data", "admin.token"), "`FILE` holding the admin token (the server writes DATA_DIR/admin.token)")
	return server, tokenFile
}

// newAdminClient returns the SDK's admin client of server, with the token
// read from tokenFile.
func newAdminClient(server, tokenFile string) (*activator.Admin, error) {
	b, err := os.ReadFile(tokenFile)
	if err != nil {
		return nil, fmt.Errorf("admin token: %w (the server writes it to DATA_DIR/admin.token on first start)", err)
	}
	hc := &http.Client{Timeout: 30 * time.Second} // no admin call is long-lived
	return activator.NewAdminClient(server, strings.TrimSpace(string(b)), activator.WithHTTPClient(hc)), nil
}

// adminError is an error the admin API answered, as the admin commands
// print it: "Name (code): message".
type adminError struct{ err *activator.Error }

func (e *adminError) Error() string {
	if e.err.Code == 0 { // not the API's JSON error: a proxy's page, say
		if e.err.Message != "" {
			return fmt.Sprintf("HTTP %d %s: %s", e.err.HTTPStatus, http.StatusText(e.err.HTTPStatus), e.err.Message)
		}
		return fmt.Sprintf("HTTP %d %s", e.err.HTTPStatus, http.StatusText(e.err.HTTPStatus))
	}
	return fmt.Sprintf("%s (%d): %s", e.err.Name, e.err.Code, e.err.Message)
}

// Unwrap returns the SDK's error, for errors.Is with its sentinels.
func (e *adminError) Unwrap() error { return e.err }

// adminErr is err with the text of an admin command's error when it is
// the API's answer.
func adminErr(err error) error {
	var e *activator.Error
	if errors.As(err, &e) {
		return &adminError{e}
	}
	return err
}

// adminCommand is run with the errors of the admin API as the admin
// commands print them.
func adminCommand(run func(context.Context, []string, io.Writer) error) func(context.Context, []string, io.Writer) error {
	return func(ctx context.Context, args []string, stdout io.Writer) error {
		return adminErr(run(ctx, args, stdout))
	}
}
