package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nbpair/nbpair/activator"
)

// savedSession is what `nbpair login` keeps in the user's config directory.
type savedSession struct {
	Server    string    `json:"server"`
	Username  string    `json:"username"`
	UID       string    `json:"uid"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
}

func defaultSessionFile() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = "."
	}
	return filepath.Join(dir, "nbpair", "session.json")
}

func loadSession(path string) (savedSession, error) {
	var s savedSession
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, fmt.Errorf("not logged in: run 'nbpair login --server URL --username NAME' first")
	} else if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("session file %s: %w", path, err)
	}
	return s, nil
}

func (s savedSession) save(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(s, "", "  ")
	return os.WriteFile(path, append(b, '\n'), 0o600)
}

// accountFlags are the flags of signup and login.
type accountFlags struct {
	cmd                                         string
	server, username, passwordFile, sessionFile *string
}

func newAccountFlags(fs *flag.FlagSet) accountFlags {
	return accountFlags{
		cmd:          fs.Name(),
		server:       fs.String("server", "http://localhost:8080", "base `URL` of the nbpair server"),
		username:     fs.String("username", "", "user `NAME`"),
		passwordFile: fs.String("password-file", "", "`FILE` holding the password ('-' for standard input); or set NBPAIR_PASSWORD"),
		sessionFile:  sessionFlag(fs),
	}
}

// sessionFlag adds --session-file, where the login is kept.
func sessionFlag(fs *flag.FlagSet) *string {
	return fs.String("session-file", defaultSessionFile(), "`FILE` where the login is kept")
}

func (f accountFlags) password(stdin io.Reader) (string, error) {
	switch *f.passwordFile {
	case "":
		if p := os.Getenv("NBPAIR_PASSWORD"); p != "" {
			return p, nil
		}
		return "", usagef(f.cmd, "give the password with --password-file FILE, --password-file - (standard input) or NBPAIR_PASSWORD")
	case "-":
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", fmt.Errorf("reading the password from standard input: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	b, err := os.ReadFile(*f.passwordFile)
	return strings.TrimRight(string(b), "\r\n"), err
}

func runSignUp(ctx context.Context, args []string, stdout io.Writer) error {
	return accountCommand(ctx, "signup", args, stdout, true)
}

func runLogIn(ctx context.Context, args []string, stdout io.Writer) error {
	return accountCommand(ctx, "login", args, stdout, false)
}

// accountCommand signs up (if signUp) and logs in, keeping the session.
func accountCommand(ctx context.Context, name string, args []string, stdout io.Writer, signUp bool) error {
	fs := newFlagSet(name)
	f := newAccountFlags(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *f.username == "" {
		return usagef(name, "give --username NAME")
	}
	password, err := f.password(os.Stdin)
	if err != nil {
		return err
	}
	c := activator.NewClient(*f.server)
	var se activator.Session
	if signUp { // sign-up starts the first session too
		if _, se, err = c.SignUpSession(ctx, *f.username, password); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "signed up as %s\n", *f.username)
	} else if se, err = c.LogIn(ctx, *f.username, password); err != nil {
		return err
	}
	saved := savedSession{Server: *f.server, Username: *f.username, UID: se.UID, Token: se.Token, ExpiresAt: se.ExpiresAt}
	if err := saved.save(*f.sessionFile); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "logged in as %s (uid %s) until %s; session kept in %s\n",
		*f.username, se.UID, se.ExpiresAt.Local().Format(time.DateTime), *f.sessionFile)
	return nil
}
