package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// adminClient calls the admin API of a running server.
type adminClient struct {
	server, token string
	http          *http.Client
}

// adminFlags adds --server and --token-file to fs.
func adminFlags(fs *flag.FlagSet) (server, tokenFile *string) {
	server = fs.String("server", "http://localhost:8080", "base `URL` of the nbpair server")
	tokenFile = fs.String("token-file", filepath.Join("nbpair-data", "admin.token"), "`FILE` holding the admin token (the server writes DATA_DIR/admin.token)")
	return server, tokenFile
}

func newAdminClient(server, tokenFile string) (*adminClient, error) {
	b, err := os.ReadFile(tokenFile)
	if err != nil {
		return nil, fmt.Errorf("admin token: %w (the server writes it to DATA_DIR/admin.token on first start)", err)
	}
	return &adminClient{
		server: strings.TrimSuffix(server, "/"), token: strings.TrimSpace(string(b)),
		http: &http.Client{Timeout: 30 * time.Second},
	}, nil
}

// apiError is the API's error body.
type apiError struct {
	Code    int    `json:"code"`
	Name    string `json:"name"`
	Message string `json:"message"`
}

func (e *apiError) Error() string { return fmt.Sprintf("%s (%d): %s", e.Name, e.Code, e.Message) }

func (c *adminClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var ae apiError
		if err := json.NewDecoder(resp.Body).Decode(&ae); err != nil || ae.Code == 0 {
			return fmt.Errorf("%s %s: HTTP %s", method, path, resp.Status)
		}
		return &ae
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
