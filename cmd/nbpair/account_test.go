package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/testkit"
)

// runStdin runs nbpair with stdin as its standard input (not a terminal).
func runStdin(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

// logIn signs up (if new) or logs in user with password, into a new
// session file, and returns its --session-file flag.
func logIn(t *testing.T, s *userServer, cmd, user, password string) []string {
	t.Helper()
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte(password+"\n"), 0o600)
	file := filepath.Join(t.TempDir(), "session.json")
	runCLI(t, cmd, "--server", s.base, "--username", user, "--password-file", pw, "--session-file", file)
	return []string{"--session-file", file}
}

// A user shares a paired device read-only and takes it back, offers it to
// another user who accepts it into their home, then deletes a home.
func TestShareTransferAndDeleteHome(t *testing.T) {
	testkit.Long(t, "the CLI against a served binary, many commands")
	s := startUserServer(t, "868000000000051")
	alice := []string{"--session-file", s.session}
	p := start(t, append([]string{"pair", "--home", "Flat", "--code", s.dev.ShortCode}, alice...)...)
	start(t, "device", "--server", s.coap, "--imei", s.dev.IMEI)
	p.waitLine(t, regexp.MustCompile(`^Device is paired: `+s.dev.ID))
	bob := logIn(t, s, "signup", "bob", "bob's long password")
	runCLI(t, append([]string{"homes", "--create", "Cabin"}, bob...)...)

	out := runCLI(t, append([]string{"share", "Boiler", "bob", "--access", "read"}, alice...)...)
	if !strings.Contains(out, "shared "+s.dev.ID+` "Boiler" with bob (read access)`) {
		t.Errorf("share printed:\n%s", out)
	}
	if r := runBinary(t, append([]string{"share", "Boiler", "bob", "--access", "all"}, alice...)...); r.code != 2 || !strings.Contains(r.stderr, "read or control") {
		t.Errorf("share --access all: exit %d:\n%s", r.code, r.stderr)
	}
	if r := runBinary(t, append([]string{"share", "Boiler", "nobody"}, alice...)...); r.code != 1 || !strings.Contains(r.stderr, "4004") {
		t.Errorf("share with an unknown user: exit %d:\n%s", r.code, r.stderr)
	}
	// Bob may not pass on a device shared with him.
	if r := runBinary(t, append([]string{"transfer", s.dev.ID, "alice"}, bob...)...); r.code != 1 {
		t.Errorf("bob transfers alice's device: exit %d:\n%s", r.code, r.stderr)
	}
	if out := runCLI(t, append([]string{"unshare", s.dev.ID, "bob"}, alice...)...); !strings.Contains(out, "bob no longer shares device "+s.dev.ID) {
		t.Errorf("unshare printed:\n%s", out)
	}
	if r := runBinary(t, append([]string{"unshare", s.dev.ID, "bob"}, alice...)...); r.code != 1 || !strings.Contains(r.stderr, "is not shared with") {
		t.Errorf("unshare again: exit %d:\n%s", r.code, r.stderr)
	}
	// Shared again with control, bob leaves the share himself.
	runCLI(t, append([]string{"share", s.dev.ID, "bob", "--access", "control"}, alice...)...)
	if out := runCLI(t, append([]string{"unshare", "Boiler", "bob"}, bob...)...); !strings.Contains(out, "bob no longer shares device "+s.dev.ID) {
		t.Errorf("bob leaving the share printed:\n%s", out)
	}
	if r := runBinary(t, append([]string{"unshare", s.dev.ID, "bob"}, alice...)...); r.code != 1 || !strings.Contains(r.stderr, "is not shared with") {
		t.Errorf("after bob left, the share is still there: exit %d:\n%s", r.code, r.stderr)
	}

	out = runCLI(t, append([]string{"transfer", "boiler", "bob"}, alice...)...)
	id := regexp.MustCompile(`transfer (\S+), open until`).FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("transfer printed:\n%s", out)
	}
	if list := runCLI(t, append([]string{"transfers"}, bob...)...); !regexp.MustCompile(id[1] + `\s+to me\s+` + s.dev.ID + `\s+Boiler\s+alice\s+bob`).MatchString(list) {
		t.Errorf("bob's transfers:\n%s", list)
	}
	if list := runCLI(t, append([]string{"transfers"}, alice...)...); !regexp.MustCompile(id[1] + `\s+from me\s+`).MatchString(list) {
		t.Errorf("alice's transfers:\n%s", list)
	}
	out = runCLI(t, append([]string{"transfers", "accept", id[1]}, bob...)...) // bob owns one home: no --home needed
	if !strings.Contains(out, `in home "Cabin"`) {
		t.Errorf("accept printed:\n%s", out)
	}
	if list := runCLI(t, append([]string{"devices", "--home", "Cabin"}, bob...)...); !strings.Contains(list, s.dev.ID) {
		t.Errorf("the device is not in bob's home:\n%s", list)
	}
	if list := runCLI(t, append([]string{"devices", "--home", "Flat"}, alice...)...); strings.Contains(list, s.dev.ID) {
		t.Errorf("the device is still in alice's home:\n%s", list)
	}
	if r := runBinary(t, append([]string{"transfers", "cancel", id[1]}, alice...)...); r.code != 1 || !strings.Contains(r.stderr, "4406") {
		t.Errorf("cancelling an accepted transfer: exit %d:\n%s", r.code, r.stderr)
	}

	// A declined offer leaves the device where it is.
	out = runCLI(t, append([]string{"transfer", s.dev.ID, "alice"}, bob...)...)
	id = regexp.MustCompile(`transfer (\S+), open until`).FindStringSubmatch(out)
	if r := runBinary(t, append([]string{"transfers", "accept", id[1]}, alice...)...); r.code != 2 || !strings.Contains(r.stderr, "--home NAME") {
		t.Errorf("accept with two homes and no --home: exit %d:\n%s", r.code, r.stderr)
	}
	if out := runCLI(t, append([]string{"transfers", "decline", id[1]}, alice...)...); !strings.Contains(out, "is declined") {
		t.Errorf("decline printed:\n%s", out)
	}

	out = runCLI(t, append([]string{"homes", "delete", "Cabin"}, bob...)...)
	if !strings.Contains(out, `deleted home "Cabin"`) || !strings.Contains(out, "its 1 devices were unbound") {
		t.Errorf("homes delete printed:\n%s", out)
	}
	if list := runCLI(t, append([]string{"homes"}, bob...)...); strings.Contains(list, "Cabin") {
		t.Errorf("the home is still listed:\n%s", list)
	}
}

// Changing the password ends the user's other sessions; a session is
// revoked by its ID; deleting the account asks for the password and the
// username and logs out.
func TestPasswordSessionsAndAccountDelete(t *testing.T) {
	testkit.Long(t, "the CLI against a served binary, many commands")
	s := startUserServer(t, "868000000000052")
	first := []string{"--session-file", s.session}
	second := logIn(t, s, "login", "alice", "a long password")
	third := logIn(t, s, "login", "alice", "a long password")

	list := runCLI(t, append([]string{"sessions"}, first...)...)
	rows := regexp.MustCompile(`(?m)^(s\S+|\S+)\s+(\*|-)\s`).FindAllStringSubmatch(list, -1)
	if len(rows) != 3 {
		t.Fatalf("sessions listed %d rows:\n%s", len(rows), list)
	}
	var others []string
	for _, r := range rows {
		if r[2] == "-" {
			others = append(others, r[1])
		}
	}
	if len(others) != 2 {
		t.Fatalf("want 2 sessions not marked current:\n%s", list)
	}
	// Revoke one of the other two: which one is not said, so both are tried.
	runCLI(t, append([]string{"sessions", "revoke", others[0]}, first...)...)
	ended := 0
	for _, sess := range [][]string{second, third} {
		if r := runBinary(t, append([]string{"homes"}, sess...)...); r.code == 1 && strings.Contains(r.stderr, "3720") {
			ended++
		}
	}
	if ended != 1 {
		t.Fatalf("after revoking one session, %d of the other two ended", ended)
	}

	if r := runStdin(t, "wrong password\nnew password 2\n", append([]string{"password"}, first...)...); r.code != 1 || !strings.Contains(r.stderr, "4400") {
		t.Errorf("password with a wrong current one: exit %d:\n%s", r.code, r.stderr)
	}
	if r := runStdin(t, "a long password\n", append([]string{"password"}, first...)...); r.code != 1 || !strings.Contains(r.stderr, "standard input ended") {
		t.Errorf("password with one line: exit %d:\n%s", r.code, r.stderr)
	}
	r := runStdin(t, "a long password\nnew password 2\n", append([]string{"password"}, first...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "password changed") {
		t.Fatalf("password: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, sess := range [][]string{second, third} {
		if r := runBinary(t, append([]string{"homes"}, sess...)...); r.code != 1 || !strings.Contains(r.stderr, "3720") {
			t.Errorf("another session after the password change: exit %d:\n%s", r.code, r.stderr)
		}
	}
	runCLI(t, append([]string{"homes"}, first...)...) // this one stays
	logIn(t, s, "login", "alice", "new password 2")

	if r := runStdin(t, "new password 2\nalicia\n", append([]string{"account", "delete"}, first...)...); r.code != 1 || !strings.Contains(r.stderr, "nothing was deleted") {
		t.Errorf("account delete with a wrong confirmation: exit %d:\n%s", r.code, r.stderr)
	}
	r = runStdin(t, "new password 2\nalice\n", append([]string{"account", "delete"}, first...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "account alice deleted: 2 homes deleted") {
		t.Fatalf("account delete: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(s.session); !os.IsNotExist(err) {
		t.Errorf("the session file is still there: %v", err)
	}
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("new password 2\n"), 0o600)
	if r := runBinary(t, "login", "--server", s.base, "--username", "alice", "--password-file", pw, "--session-file", filepath.Join(t.TempDir(), "s")); r.code != 1 {
		t.Errorf("login after the account was deleted: exit %d:\n%s", r.code, r.stderr)
	}
}

// The new commands' wrong command lines exit 2 and do nothing.
func TestAccountUsageErrorsExit2(t *testing.T) {
	tests := map[string]struct {
		args []string
		says string
	}{
		"password argument":      {args: []string{"password", "secret"}, says: `unexpected argument "secret"`},
		"password flag":          {args: []string{"password", "--password", "x"}, says: "flag provided but not defined: -password"},
		"account without a sub":  {args: []string{"account"}, says: "give a subcommand: delete"},
		"account delete arg":     {args: []string{"account", "delete", "now"}, says: `unexpected argument "now"`},
		"sessions revoke no ID":  {args: []string{"sessions", "revoke"}, says: "give one session ID"},
		"homes delete no home":   {args: []string{"homes", "delete"}, says: "give one home"},
		"share one argument":     {args: []string{"share", "Boiler"}, says: "give a DEVICE (ID or name) and the USER"},
		"share bad access":       {args: []string{"share", "Boiler", "bob", "--access", "write"}, says: "--access must be read or control"},
		"unshare three":          {args: []string{"unshare", "a", "b", "c"}, says: `unexpected argument "c"`},
		"transfer negative":      {args: []string{"transfer", "a", "b", "--expires", "-1h"}, says: "--expires must not be negative"},
		"transfers accept no ID": {args: []string{"transfers", "accept", "--home", "Flat"}, says: "give one transfer ID"},
		"transfers unknown":      {args: []string{"transfers", "keep"}, says: `unexpected argument "keep"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := runBinary(t, tc.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.says) || !strings.Contains(r.stderr, "nbpair help") {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 saying %q", r.code, r.stderr, tc.says)
			}
		})
	}
}

// On a terminal, password asks for each password without echoing it and
// for the new one twice.
func TestPasswordOnATerminal(t *testing.T) {
	testkit.Long(t, "the CLI on a pseudo-terminal against a served binary")
	script, err := exec.LookPath("script") // util-linux: runs a command on a new pseudo-terminal
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("script(1) (Debian package util-linux) is needed to give nbpair a terminal")
		}
		t.Skip("no script(1) (Debian package util-linux) to give nbpair a terminal")
	}
	s := startUserServer(t, "868000000000053")
	other := logIn(t, s, "login", "alice", "a long password")
	cmd := exec.Command(script, "-qec", binary+" password --session-file "+s.session, "/dev/null")
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	chunks := make(chan string, 100)
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := out.Read(b)
			if n > 0 {
				chunks <- string(b[:n])
			}
			if err != nil {
				close(chunks)
				return
			}
		}
	}()
	var seen strings.Builder
	waitFor := func(text string) {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for !strings.Contains(seen.String(), text) {
			select {
			case c, ok := <-chunks:
				if !ok {
					t.Fatalf("output ended before %q:\n%s", text, seen.String())
				}
				seen.WriteString(c)
			case <-timeout:
				t.Fatalf("no %q within 20 s:\n%s", text, seen.String())
			}
		}
	}
	// Each answer is typed only once its prompt is shown, when the echo is off.
	for _, qa := range [][2]string{{"Current password: ", "a long password"}, {"New password: ", "terminal secret 2"}, {"New password again: ", "terminal secret 2"}} {
		waitFor(qa[0])
		in.Write([]byte(qa[1] + "\r"))
	}
	waitFor("password changed")
	if strings.Contains(seen.String(), "a long password") || strings.Contains(seen.String(), "terminal secret") {
		t.Errorf("a password was echoed:\n%s", seen.String())
	}
	if r := runBinary(t, append([]string{"homes"}, other...)...); r.code != 1 || !strings.Contains(r.stderr, "3720") {
		t.Errorf("the other session after the change: exit %d:\n%s", r.code, r.stderr)
	}
	logIn(t, s, "login", "alice", "terminal secret 2")
}
