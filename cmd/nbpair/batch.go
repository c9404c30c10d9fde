package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nbpair/nbpair/activator"
)

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
	b, created, err := c.ImportBatch(ctx, *product, bytes.NewReader(data))
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, b)
	}
	note := "new"
	if !created {
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
	batches, err := c.Batches(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BATCH\tPRODUCT\tCREATED AT\tDEVICES\tCREATED\tEXISTING")
	for _, b := range batches {
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
	csv, err := c.FactoryCSV(ctx, id)
	if err != nil {
		return err
	}
	defer csv.Close()
	if *out == "-" {
		_, err := io.Copy(stdout, csv)
		return err
	}
	n, err := writePrivate(*out, csv)
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
		total, file, err := labelPage(ctx, c, id, p, *out, *page != 0)
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
func labelPage(ctx context.Context, c *activator.Admin, id string, page int, file string, onePage bool) (int, string, error) {
	sheet, err := c.BatchLabels(ctx, id, page)
	if err != nil {
		return 0, "", err
	}
	if sheet.Pages > 1 && !onePage {
		ext := filepath.Ext(file)
		file = fmt.Sprintf("%s-%d%s", strings.TrimSuffix(file, ext), page, ext)
	}
	_, err = writePrivate(file, bytes.NewReader(sheet.PNG))
	return sheet.Pages, file, err
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
