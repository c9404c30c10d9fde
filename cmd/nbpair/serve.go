package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/nbpair/nbpair/internal/app"
	"github.com/nbpair/nbpair/internal/config"
)

func runServe(ctx context.Context, args []string, _ io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg, err := config.Load(fs, args, os.Getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg, os.Stderr)
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel)) // Validate checked it
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func runConfig(_ context.Context, args []string, stdout io.Writer) error {
	switch {
	case len(args) == 1 && args[0] == "print-default":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(config.Default())
	case len(args) == 2 && args[0] == "check":
		fs := flag.NewFlagSet("config check", flag.ContinueOnError)
		if _, err := config.Load(fs, []string{"--config", args[1]}, func(string) string { return "" }); err != nil {
			return err
		}
		_, err := fmt.Fprintf(stdout, "%s: ok\n", args[1])
		return err
	}
	return fmt.Errorf("usage: nbpair config print-default | nbpair config check FILE")
}
