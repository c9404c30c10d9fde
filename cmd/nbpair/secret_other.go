//go:build !linux

package main

import (
	"fmt"
	"os"

	"golang.org/x/term"
)

// readSecret shows prompt on standard error and reads a password from the
// terminal fd without echoing it.
func readSecret(fd int, prompt string) ([]byte, error) {
	fmt.Fprint(os.Stderr, prompt)
	return term.ReadPassword(fd)
}
