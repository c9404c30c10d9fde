package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Exit codes, as Go servers' commands use them.
const (
	exitOK    = 0
	exitError = 1 // the command ran and failed
	exitUsage = 2 // the command line was wrong; nothing was done
)

// errUsage is matched by every usage error: errors.Is(err, errUsage).
var errUsage = errors.New("bad usage")

// usageError is a command line the command cannot run: a flag it does not
// have, a bad value, an argument missing or too many. main prints it with
// a pointer to the command's help and exits with exitUsage.
type usageError struct {
	cmd string // "pair", "batch import"
	msg string
}

func (e *usageError) Error() string { return e.msg }

// Is makes every usage error match errUsage.
func (e *usageError) Is(target error) bool { return target == errUsage }

// usagef returns a usage error of the command cmd.
func usagef(cmd, format string, args ...any) error {
	return &usageError{cmd: cmd, msg: fmt.Sprintf(format, args...)}
}

// helpRequest is -h or --help: the command's help is printed on standard
// output and nbpair exits 0. It unwraps to flag.ErrHelp.
type helpRequest struct{ fs *flag.FlagSet }

func (h *helpRequest) Error() string { return "help requested" }
func (h *helpRequest) Unwrap() error { return flag.ErrHelp }

// newFlagSet returns the flag set of a command (its name as the help
// registry knows it: "pair", "batch import"). The flag package prints
// nothing itself: parseArgs turns -h into a helpRequest and a bad flag
// into a usageError.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseArgs parses the flags in args wherever they are, before, between or
// after the positional arguments ("--" ends the flags), and returns the
// positional arguments.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		err := fs.Parse(args)
		switch {
		case errors.Is(err, flag.ErrHelp):
			return nil, &helpRequest{fs}
		case err != nil:
			return nil, usagef(fs.Name(), "%v", err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// parseExactly parses args and requires n positional arguments, named in
// what for the error ("a batch ID").
func parseExactly(fs *flag.FlagSet, args []string, n int, what string) ([]string, error) {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return nil, err
	}
	switch {
	case len(pos) == n:
		return pos, nil
	case n == 0:
		return nil, usagef(fs.Name(), "unexpected argument %q: %s takes only flags", pos[0], fs.Name())
	case len(pos) < n:
		return nil, usagef(fs.Name(), "give %s", what)
	}
	return nil, usagef(fs.Name(), "unexpected argument %q: give only %s (quote text with spaces)", pos[n], what)
}

// parseNoArgs parses args and refuses any positional argument.
func parseNoArgs(fs *flag.FlagSet, args []string) error {
	_, err := parseExactly(fs, args, 0, "")
	return err
}

// printHelp writes the help of the command whose flag set fs is: its
// synopsis, what it does, and its flags, each with its type and default.
func printHelp(w io.Writer, fs *flag.FlagSet) {
	h, ok := helpTexts[fs.Name()]
	if !ok {
		h = helpText{usage: "nbpair " + fs.Name() + " [flags]"}
	}
	fmt.Fprintf(w, "Usage: %s\n", strings.ReplaceAll(h.usage, "\n", "\n       "))
	if h.about != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(h.about))
	}
	var flags []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) { flags = append(flags, f) })
	if len(flags) > 0 {
		fmt.Fprintln(w, "\nFlags:")
		sort.Slice(flags, func(i, j int) bool { return flags[i].Name < flags[j].Name })
		for _, f := range flags {
			printFlag(w, f)
		}
	}
	fmt.Fprintf(w, "\nRun 'nbpair help' for every command.\n")
}

// printFlag writes one flag: "  --name TYPE" and its usage indented under
// it, with its default when that is not the zero value.
func printFlag(w io.Writer, f *flag.Flag) {
	typ, usage := flagType(f)
	dash := "--"
	if len(f.Name) == 1 {
		dash = "-"
	}
	line := "  " + dash + f.Name
	if typ != "" {
		line += " " + typ
	}
	if !isZeroDefault(f) {
		usage += fmt.Sprintf(" (default %s)", quoteDefault(f))
	}
	fmt.Fprintf(w, "%s\n        %s\n", line, strings.ReplaceAll(usage, "\n", "\n        "))
}

// flagType is the name of the flag's value for its help line (a name in
// backquotes in its usage, or its Go type: string, int, duration, …; none
// for a boolean) and the usage without the backquotes.
func flagType(f *flag.Flag) (typ, usage string) {
	typ, usage = flag.UnquoteUsage(f)
	if typ == "value" {
		if t, ok := f.Value.(interface{ Type() string }); ok {
			typ = t.Type()
		}
	}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		typ = ""
	}
	return typ, usage
}

func isZeroDefault(f *flag.Flag) bool {
	switch f.DefValue {
	case "", "0", "0s", "false", "[]":
		return true
	}
	return false
}

func quoteDefault(f *flag.Flag) string {
	if typ, _ := flagType(f); typ == "string" || strings.ContainsAny(f.DefValue, " \t") {
		return fmt.Sprintf("%q", f.DefValue)
	}
	return f.DefValue
}

// usage writes the list of commands.
func usage(w io.Writer) {
	fmt.Fprintln(w, "nbpair pairs NB-IoT devices with user accounts: the cloud, its tools and a device simulator.")
	fmt.Fprintln(w, "\nUsage: nbpair COMMAND [flags] [arguments]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'nbpair help COMMAND' (or 'nbpair COMMAND -h') for a command's flags.")
	fmt.Fprintln(w, "Flags may come before or after arguments. Exit status: 0 done, 1 failed, 2 bad usage.")
}

// runHelp is "nbpair help [COMMAND [SUBCOMMAND]]".
func runHelp(args []string, stdout io.Writer) error {
	args, err := parseArgs(newFlagSet("help"), args)
	if err != nil {
		return err
	}
	if len(args) == 0 {
		usage(stdout)
		return nil
	}
	if _, ok := findCommand(args[0]); !ok {
		return usagef("help", "unknown command %q", args[0])
	}
	if len(args) > 1 {
		if _, ok := helpTexts[args[0]+" "+args[1]]; !ok {
			return usagef("help", "unknown command %q", args[0]+" "+args[1])
		}
		return helpOf(args[0]+" "+args[1], stdout)
	}
	return helpOf(args[0], stdout)
}

// helpOf prints the help of a command by running it with -h, so that the
// flags printed are those it really has.
func helpOf(name string, stdout io.Writer) error {
	words := strings.Fields(name)
	c, _ := findCommand(words[0])
	args := append(words[1:], "-h")
	err := c.run(context.Background(), args, stdout) // -h returns before the context is used
	var h *helpRequest
	if errors.As(err, &h) {
		printHelp(stdout, h.fs)
		return nil
	}
	return err
}

// exitCode is the exit status of a command's error, and what to print.
func exitCode(err error) (int, string) {
	var ue *usageError
	switch {
	case err == nil:
		return exitOK, ""
	case errors.As(err, &ue) && ue.cmd == "":
		return exitUsage, fmt.Sprintf("nbpair: %s\nRun 'nbpair help' for the commands.", ue.msg)
	case errors.As(err, &ue):
		return exitUsage, fmt.Sprintf("nbpair %s: %s\nRun 'nbpair help %s' for usage.", ue.cmd, ue.msg, ue.cmd)
	case errors.Is(err, errUsage):
		return exitUsage, "nbpair: " + err.Error() + "\nRun 'nbpair help' for usage."
	}
	return exitError, "nbpair: " + err.Error()
}

// isTerminal is whether f is a terminal (a character
// device), where a progress line may redraw itself.
func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
