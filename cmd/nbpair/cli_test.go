package main

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// result is what a run of the real binary did.
type result struct {
	stdout, stderr string
	code           int
}

// runBinary runs nbpair with args and returns its output and exit status.
func runBinary(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("nbpair %s: %v", strings.Join(args, " "), err)
	}
	return result{stdout.String(), stderr.String(), code}
}

// helpNames are every command and subcommand that has help.
func helpNames() []string {
	var names []string
	for name := range helpTexts {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Every command and subcommand answers -h and "nbpair help" alike: exit 0,
// its help on standard output in the one layout, each flag with its real
// type, nothing on standard error.
func TestHelpOfEveryCommand(t *testing.T) {
	for _, c := range commands() {
		if _, ok := helpTexts[c.name]; !ok {
			t.Errorf("command %s has no help text", c.name)
		}
	}
	flagLine := regexp.MustCompile(`^  --?[a-z0-9-]+( \S+)?$`)
	for _, name := range helpNames() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			words := strings.Fields(name)
			dash := runBinary(t, append(words, "-h")...)
			long := runBinary(t, append(words, "--help")...)
			help := runBinary(t, append([]string{"help"}, words...)...)
			for _, r := range []result{dash, long, help} {
				if r.code != 0 || r.stderr != "" {
					t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
				}
			}
			if dash.stdout != help.stdout || dash.stdout != long.stdout {
				t.Errorf("-h, --help and 'nbpair help' differ:\n%s\n---\n%s", dash.stdout, help.stdout)
			}
			out := dash.stdout
			if !strings.HasPrefix(out, "Usage: nbpair "+name) || strings.Contains(out, "Usage of") {
				t.Errorf("help does not start with its synopsis:\n%s", out)
			}
			for line := range strings.SplitSeq(out, "\n") {
				if strings.HasPrefix(line, "  -") && !flagLine.MatchString(line) {
					t.Errorf("flag line %q is not '  --name TYPE'", line)
				}
				if strings.HasPrefix(line, "  -") && strings.HasSuffix(line, " value") {
					t.Errorf("flag line %q has no real type", line)
				}
			}
		})
	}
}

// Only a command's own flags are in its help, with their real types and
// defaults.
func TestHelpFlags(t *testing.T) {
	tests := map[string]struct {
		args      []string
		has, lack []string
	}{
		"serve": {args: []string{"serve", "-h"},
			has: []string{"  --http-addr string\n", "(default \":8080\")", "  --session-ttl duration\n", "  --coap-workers int\n", "  --config FILE\n"}},
		"migrate": {args: []string{"migrate", "-h"},
			has:  []string{"  --store string\n", "  --data-dir string\n", "up|status"},
			lack: []string{"--http-addr", "--coap-workers", "--session-ttl"}},
		"backup": {args: []string{"backup", "-h"},
			has:  []string{"  -o FILE\n", "  --data-dir string\n"},
			lack: []string{"--http-addr", "--log-level"}},
		"pair": {args: []string{"pair", "-h"},
			has:  []string{"  --timeout duration\n", "0 is the server's default", "  --home NAME\n", "  --code TEXT\n"},
			lack: []string{"(default 2m0s)", "(default 0s)"}},
		"audit": {args: []string{"audit", "-h"},
			has: []string{"  --action ACTION\n", "dtls-handshake", "  --limit int\n", "(default 50)"}},
		"fleet": {args: []string{"fleet", "-h"},
			has: []string{"  --sources all|N\n", "  --loss float\n", "  --dtls\n"}},
		"devices": {args: []string{"devices", "-h"},
			has: []string{"  --home NAME\n", "  --json\n", "  --server URL\n"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := runBinary(t, tc.args...)
			for _, want := range tc.has {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("help lacks %q:\n%s", want, r.stdout)
				}
			}
			for _, not := range tc.lack {
				if strings.Contains(r.stdout, not) {
					t.Errorf("help has %q:\n%s", not, r.stdout)
				}
			}
		})
	}
}

// A wrong command line exits 2 with the problem and where the help is,
// on standard error, and does nothing.
func TestUsageErrorsExit2(t *testing.T) {
	tests := map[string]struct {
		args []string
		says string
	}{
		"no command":              {args: nil, says: "no command given"},
		"unknown command":         {args: []string{"frobnicate"}, says: `unknown command "frobnicate"`},
		"unknown flag":            {args: []string{"pair", "--bogus"}, says: "flag provided but not defined: -bogus"},
		"bad flag value":          {args: []string{"pair", "--timeout", "soon"}, says: `invalid value "soon" for flag -timeout`},
		"negative timeout":        {args: []string{"pair", "--home", "Flat", "--code", "x", "--timeout", "-1s"}, says: "--timeout must not be negative"},
		"pair without a label":    {args: []string{"pair", "--home", "Flat"}, says: "--qr-image FILE or --code TEXT"},
		"unknown audit action":    {args: []string{"audit", "--action", "nonsense"}, says: `unknown --action "nonsense": give one of provision,`},
		"unknown audit outcome":   {args: []string{"audit", "--outcome", "meh"}, says: "ok, refused, dropped"},
		"audit limit":             {args: []string{"audit", "--limit", "0"}, says: "--limit must be 1 to 1000"},
		"serve with an argument":  {args: []string{"serve", "now"}, says: `unexpected argument "now"`},
		"two devices":             {args: []string{"devices", "a", "b"}, says: `unexpected argument "b"`},
		"devices and --home":      {args: []string{"devices", "a", "--home", "Flat"}, says: "not both"},
		"remove nothing":          {args: []string{"remove"}, says: "give one DEVICE"},
		"batch without a sub":     {args: []string{"batch"}, says: "give a subcommand: export, import, labels, list"},
		"batch unknown sub":       {args: []string{"batch", "print"}, says: `unknown subcommand "print"`},
		"batch export no ID":      {args: []string{"batch", "export"}, says: "give one batch ID"},
		"qr without a sub":        {args: []string{"qr"}, says: "give a subcommand: decode, encode"},
		"qr encode two texts":     {args: []string{"qr", "encode", "a", "b"}, says: `unexpected argument "b"`},
		"migrate without up":      {args: []string{"migrate"}, says: "give up or status"},
		"migrate bad flag":        {args: []string{"migrate", "--http-addr", ":1", "up"}, says: "flag provided but not defined: -http-addr"},
		"backup without -o":       {args: []string{"backup"}, says: "-o FILE"},
		"config without a sub":    {args: []string{"config"}, says: "print-default or check FILE"},
		"provision without IMEI":  {args: []string{"provision"}, says: "--imei is required"},
		"device without IMEI":     {args: []string{"device"}, says: "--imei is required"},
		"rotate-psk deadline 0":   {args: []string{"device-admin", "rotate-psk", "--deadline", "0", "dev"}, says: "--deadline must be positive"},
		"fleet bad baseline":      {args: []string{"fleet", "--baseline", "nope"}, says: `baseline "nope"`},
		"signup without username": {args: []string{"signup"}, says: "--username NAME"},
		"help of nothing":         {args: []string{"help", "frobnicate"}, says: `unknown command "frobnicate"`},
		"version with arguments":  {args: []string{"version", "now"}, says: `unexpected argument "now"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := runBinary(t, tc.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.says) || !strings.Contains(r.stderr, "nbpair help") {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 saying %q and where the help is", r.code, r.stderr, tc.says)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		r := runBinary(t, args...)
		if r.code != 0 || !regexp.MustCompile(`^nbpair \S+, (commit [0-9a-f]{7,}|commit unknown).*, go1\.\d+`).MatchString(r.stdout) {
			t.Errorf("nbpair %s: exit %d, %q", args[0], r.code, r.stdout)
		}
	}
	if r := runBinary(t, "--help"); r.code != 0 || !strings.Contains(r.stdout, "version") || !strings.Contains(r.stdout, "remove") {
		t.Errorf("nbpair --help: exit %d:\n%s", r.code, r.stdout)
	}
}

// parseArgs takes flags before, between and after the arguments; "--"
// ends them.
func TestParseArgs(t *testing.T) {
	tests := map[string]struct {
		args []string
		pos  []string
		json bool
		o    string
	}{
		"flags first":      {args: []string{"--json", "-o", "f", "a"}, pos: []string{"a"}, json: true, o: "f"},
		"flags after":      {args: []string{"a", "--json"}, pos: []string{"a"}, json: true},
		"flags between":    {args: []string{"a", "-o", "f", "b", "--json"}, pos: []string{"a", "b"}, json: true, o: "f"},
		"double dash ends": {args: []string{"a", "--", "--json", "-o"}, pos: []string{"a", "--json", "-o"}},
		"none":             {args: nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			fs := newFlagSet("test")
			asJSON := fs.Bool("json", false, "")
			o := fs.String("o", "", "")
			pos, err := parseArgs(fs, tc.args)
			if err != nil || !slices.Equal(pos, tc.pos) || *asJSON != tc.json || *o != tc.o {
				t.Errorf("got %q, json %v, o %q, %v", pos, *asJSON, *o, err)
			}
		})
	}
}
