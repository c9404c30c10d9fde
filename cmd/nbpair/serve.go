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
	fs := newFlagSet("serve")
	cfg, err := loadConfig(fs, args)
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

// loadConfig builds the configuration as serve does from the file, the
// environment and the flags of fs (all settings, or only those named),
// and refuses positional arguments unless pos asks for them.
func loadConfig(fs *flag.FlagSet, args []string, only ...string) (config.Config, error) {
	cfg, pos, err := loadConfigArgs(fs, args, only...)
	if err == nil && len(pos) > 0 {
		return cfg, usagef(fs.Name(), "unexpected argument %q: %s takes only flags", pos[0], fs.Name())
	}
	return cfg, err
}

// loadConfigArgs is loadConfig that returns the positional arguments.
func loadConfigArgs(fs *flag.FlagSet, args []string, only ...string) (config.Config, []string, error) {
	c, err := config.Register(fs, args, os.Getenv, only...)
	if err != nil {
		return config.Config{}, nil, err
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return *c, nil, err
	}
	return *c, pos, c.Validate()
}

func runConfig(_ context.Context, args []string, stdout io.Writer) error {
	sub := ""
	if len(args) > 0 {
		sub = args[0]
	}
	switch sub {
	case "print-default":
		if err := parseNoArgs(newFlagSet("config print-default"), args[1:]); err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(config.Default())
	case "check":
		pos, err := parseExactly(newFlagSet("config check"), args[1:], 1, "one FILE")
		if err != nil {
			return err
		}
		fs := flag.NewFlagSet("config check", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		if _, err := config.Load(fs, []string{"--config", pos[0]}, func(string) string { return "" }); err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s: ok\n", pos[0])
		return err
	case "", "-h", "--help", "-help":
		fs := newFlagSet("config")
		if sub == "" {
			return usagef("config", "give print-default or check FILE")
		}
		return &helpRequest{fs}
	}
	return usagef("config", "unknown subcommand %q: give print-default or check FILE", sub)
}
