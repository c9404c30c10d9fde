package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// batchView is what the admin API answers for a batch.
type batchView struct {
	ID        string    `json:"id"`
	ProductID string    `json:"productId"`
	CreatedAt time.Time `json:"createdAt"`
	Devices   int       `json:"devices"`
	Created   int       `json:"created"`
	Existing  int       `json:"existing"`
}

func runBatch(ctx context.Context, args []string, stdout io.Writer) error {
	subs := map[string]func(context.Context, []string, io.Writer) error{
		"import": runBatchImport, "list": runBatchList, "export": runBatchExport, "labels": runBatchLabels,
	}
	return runSubcommand(ctx, "batch", subs, args, stdout)
}

// runSubcommand runs the subcommand of cmd that args start with; -h (or
// nothing) is cmd's help (or a usage error).
func runSubcommand(ctx context.Context, cmd string, subs map[string]func(context.Context, []string, io.Writer) error,
	args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usagef(cmd, "give a subcommand: %s", strings.Join(slices.Sorted(maps.Keys(subs)), ", "))
	}
	if run, ok := subs[args[0]]; ok {
		return run(ctx, args[1:], stdout)
	}
	if _, err := parseArgs(newFlagSet(cmd), args[:1]); err != nil {
		return err // -h, or a flag cmd does not have
	}
	return usagef(cmd, "unknown subcommand %q: give %s", args[0], strings.Join(slices.Sorted(maps.Keys(subs)), ", "))
}

func runBatchImport(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("batch import")
	server, tokenFile := adminFlags(fs)
	product := fs.String("product", "", "product `ID` of the devices (default: the default product)")
	asJSON := fs.Bool("json", false, "print the API's JSON answer")
	pos, err := parseExactly(fs, args, 1, "one CSV file")
	if err != nil {
		return err
	}
	file := pos[0]
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	c, err := newAdminClient(*server, *tokenFile)
	if err != nil {
		return err
	}
	path := "/v1/admin/batches"
	if *product != "" {
		path += "?productId=" + url.QueryEscape(*product)
	}
	resp, err := c.send(ctx, "POST", path, "text/csv", bytes.NewReader(data))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if *asJSON {
		_, err := fmt.Fprintf(stdout, "%s\n", raw)
		return err
	}
	var b batchView
	if err := json.Unmarshal(raw, &b); err != nil {
		return err
	}
	note := "new"
	if resp.StatusCode == http.StatusOK {
		note = "imported before: nothing was created now"
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "batch\t%s (%s)\nproduct\t%s\ncreated at\t%s\ndevices\t%d (%d created, %d existing)\n",
		b.ID, note, b.ProductID, b.CreatedAt.Local().Format(time.DateTime), b.Devices, b.Created, b.Existing)
	fmt.Fprintf(tw, "next\tnbpair batch export %s -o factory.csv; nbpair batch labels %s -o labels.png\n", b.ID, b.ID)
	return tw.Flush()
}

func runBatchList(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("batch list")
	server, tokenFile := adminFlags(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	c, err := newAdminClient(*server, *tokenFile)
	if err != nil {
		return err
	}
	var list struct {
		Batches []batchView `json:"batches"`
	}
	if err := c.do(ctx, "GET", "/v1/admin/batches", nil, &list); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BATCH\tPRODUCT\tCREATED AT\tDEVICES\tCREATED\tEXISTING")
	for _, b := range list.Batches {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\n", b.ID, b.ProductID, b.CreatedAt.Local().Format(time.DateTime), b.Devices, b.Created, b.Existing)
	}
	return tw.Flush()
}

func runBatchExport(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("batch export")
	server, tokenFile := adminFlags(fs)
	out := fs.String("o", "-", "`FILE` to write the factory CSV to (mode 0600: it holds the devices' keys), - for standard output")
	pos, err := parseExactly(fs, args, 1, "one batch ID")
	if err != nil {
		return err
	}
	id := pos[0]
	c, err := newAdminClient(*server, *tokenFile)
	if err != nil {
		return err
	}
	resp, err := c.send(ctx, "GET", "/v1/admin/batches/"+url.PathEscape(id)+"/factory.csv", "", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if *out == "-" {
		_, err := io.Copy(stdout, resp.Body)
		return err
	}
	n, err := writePrivate(*out, resp.Body)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote the factory CSV of %s to %s (%d bytes); it holds the devices' PSKs: keep it safe\n", id, *out, n)
	return nil
}

func runBatchLabels(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("batch labels")
	server, tokenFile := adminFlags(fs)
	out := fs.String("o", "labels.png", "`FILE` to write the sheet to; with several pages, page N goes to FILE-N.png")
	page := fs.Int("page", 0, "only page `N` (from 1); 0 for every page")
	pos, err := parseExactly(fs, args, 1, "one batch ID")
	if err != nil {
		return err
	}
	id := pos[0]
	c, err := newAdminClient(*server, *tokenFile)
	if err != nil {
		return err
	}
	first, last := max(*page, 1), *page
	for p := first; last == 0 || p <= last; p++ {
		total, file, err := c.labelPage(ctx, id, p, *out, *page != 0)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote page %d of %d to %s\n", p, total, file)
		if last == 0 {
			last = total
		}
	}
	return nil
}

// labelPage downloads one page of a batch's labels into file (or
// FILE-N.png when the batch has several pages and not one page was asked
// for) and returns the number of pages and the file written.
func (c *adminClient) labelPage(ctx context.Context, id string, page int, file string, onePage bool) (int, string, error) {
	resp, err := c.send(ctx, "GET", fmt.Sprintf("/v1/admin/batches/%s/labels.png?page=%d", url.PathEscape(id), page), "", nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	total, err := strconv.Atoi(resp.Header.Get("X-Total-Pages"))
	if err != nil {
		return 0, "", fmt.Errorf("the server did not say how many pages the labels have: %w", err)
	}
	if total > 1 && !onePage {
		ext := filepath.Ext(file)
		file = fmt.Sprintf("%s-%d%s", strings.TrimSuffix(file, ext), page, ext)
	}
	_, err = writePrivate(file, resp.Body)
	return total, file, err
}

// writePrivate writes r to a file readable by its owner only.
func writePrivate(name string, r io.Reader) (int64, error) {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, r)
	return n, errors.Join(err, f.Chmod(0o600), f.Close()) // also when it existed
}

// send makes a request with a raw body and returns the response of a
// success; an error answer becomes an error.
func (c *adminClient) send(ctx context.Context, method, path, contentType string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	var ae apiError
	if err := json.NewDecoder(resp.Body).Decode(&ae); err != nil || ae.Code == 0 {
		return nil, fmt.Errorf("%s %s: HTTP %s", method, path, resp.Status)
	}
	return nil, &ae
}
