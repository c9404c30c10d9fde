package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
)

// buildInfo is what `nbpair version` prints: the module's version (a tag,
// a pseudo-version, or "(devel)" for a build from a work tree), the commit
// and its time, whether the tree had changes, and the Go version.
func buildInfo() (version, commit, when string, modified bool, goVersion string) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)", "", "", false, ""
	}
	version = bi.Main.Version
	if version == "" {
		version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	return version, commit, when, modified, bi.GoVersion
}

// runVersion is "nbpair version".
func runVersion(_ context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("version")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	version, commit, when, modified, goVersion := buildInfo()
	line := "nbpair " + version
	switch {
	case commit == "":
		line += ", commit unknown (built without VCS information)"
	default:
		line += ", commit " + commit
		if modified {
			line += " with local changes"
		}
		if when != "" {
			line += " of " + when
		}
	}
	_, err := fmt.Fprintf(stdout, "%s, %s\n", line, goVersion)
	return err
}
