package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"
)

// secretReader asks for passwords and confirmations: without echo on a
// terminal, else one line of standard input each, in the order asked.
type secretReader struct {
	in   *os.File
	tty  bool
	line *bufio.Reader
}

func newSecretReader() *secretReader {
	return &secretReader{in: os.Stdin, tty: term.IsTerminal(int(os.Stdin.Fd())), line: bufio.NewReader(os.Stdin)}
}

// secret reads a password; prompt is shown on a terminal only.
func (r *secretReader) secret(prompt string) (string, error) {
	if r.tty {
		b, err := readSecret(int(r.in.Fd()), prompt)
		fmt.Fprintln(os.Stderr)
		return string(b), err
	}
	return r.text("")
}

// text reads one line (echoed on a terminal); what names it in an error.
func (r *secretReader) text(prompt string) (string, error) {
	if r.tty {
		fmt.Fprint(os.Stderr, prompt)
	}
	s, err := r.line.ReadString('\n')
	if err != nil && s == "" {
		if errors.Is(err, io.EOF) {
			return "", errors.New("standard input ended before every answer was given (one line each)")
		}
		return "", err
	}
	return strings.TrimRight(s, "\r\n"), nil
}

// runPassword is "nbpair password": change the logged-in user's password.
func runPassword(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("password")
	sessionFile := sessionFlag(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	c, _, err := appClient(*sessionFile)
	if err != nil {
		return err
	}
	in := newSecretReader()
	current, err := in.secret("Current password: ")
	if err != nil {
		return err
	}
	next, err := in.secret("New password: ")
	if err != nil {
		return err
	}
	if in.tty {
		again, err := in.secret("New password again: ")
		if err != nil {
			return err
		}
		if again != next {
			return errors.New("the two new passwords differ; nothing was changed")
		}
	}
	if err := c.ChangePassword(ctx, current, next); err != nil {
		return explain(err)
	}
	fmt.Fprintln(stdout, "password changed; every other session of yours has ended (this one stays)")
	return nil
}

// runAccount is "nbpair account delete".
func runAccount(ctx context.Context, args []string, stdout io.Writer) error {
	return runSubcommand(ctx, "account", map[string]func(context.Context, []string, io.Writer) error{
		"delete": runAccountDelete,
	}, args, stdout)
}

// runAccountDelete deletes the logged-in user's account after asking for
// its password and for the username as a confirmation.
func runAccountDelete(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("account delete")
	sessionFile := sessionFlag(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	c, s, err := appClient(*sessionFile)
	if err != nil {
		return err
	}
	homes, err := c.Homes(ctx)
	if err != nil {
		return explain(err)
	}
	owned := 0
	for _, h := range homes {
		if h.OwnerUID == s.UID {
			owned++
		}
	}
	in := newSecretReader()
	if in.tty {
		fmt.Fprintf(os.Stderr, "Deleting account %s: your %d homes are deleted and every device in them is unbound\n"+
			"(each is told when it is next awake); your shares and transfer offers end; homes of others\n"+
			"you are a member of stay. This cannot be undone.\n", s.Username, owned)
	}
	password, err := in.secret("Password: ")
	if err != nil {
		return err
	}
	confirm, err := in.text(fmt.Sprintf("Type your username (%s) to confirm: ", s.Username))
	if err != nil {
		return err
	}
	if confirm != s.Username {
		return fmt.Errorf("the confirmation %q is not your username %q; nothing was deleted", confirm, s.Username)
	}
	if err := c.DeleteAccount(ctx, password); err != nil {
		return explain(err)
	}
	os.Remove(*sessionFile)
	fmt.Fprintf(stdout, "account %s deleted: %d homes deleted, their devices unbound; you are logged out\n", s.Username, owned)
	return nil
}

// runSessions is "nbpair sessions" (list) and "nbpair sessions revoke ID".
func runSessions(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "revoke" {
		return runSessionsRevoke(ctx, args[1:], stdout)
	}
	fs := newFlagSet("sessions")
	sessionFile := sessionFlag(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	c, _, err := appClient(*sessionFile)
	if err != nil {
		return err
	}
	list, err := c.Sessions(ctx)
	if err != nil {
		return explain(err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SESSION ID\tCURRENT\tLAST USED\tCREATED\tEXPIRES\tFROM\tCLIENT")
	for _, se := range list {
		cur := ""
		if se.Current {
			cur = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", se.ID, dash(cur), when(se.LastUsedAt), when(se.CreatedAt),
			when(se.ExpiresAt), dash(se.RemoteAddr), dash(se.UserAgent))
	}
	return tw.Flush()
}

func runSessionsRevoke(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("sessions revoke")
	sessionFile := sessionFlag(fs)
	pos, err := parseExactly(fs, args, 1, "one session ID ('nbpair sessions' lists them)")
	if err != nil {
		return err
	}
	c, _, err := appClient(*sessionFile)
	if err != nil {
		return err
	}
	if err := c.RevokeSession(ctx, pos[0]); err != nil {
		return explain(err)
	}
	fmt.Fprintf(stdout, "session %s revoked: it is logged out\n", pos[0])
	return nil
}

// runHomesDelete is "nbpair homes delete NAME|ID".
func runHomesDelete(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("homes delete")
	sessionFile := sessionFlag(fs)
	pos, err := parseExactly(fs, args, 1, "one home: its name or ID")
	if err != nil {
		return err
	}
	c, _, err := appClient(*sessionFile)
	if err != nil {
		return err
	}
	h, err := findHome(ctx, c, pos[0])
	if err != nil {
		return err
	}
	devs, err := c.HomeDevices(ctx, h.ID)
	if err != nil {
		return explain(err)
	}
	if err := c.DeleteHome(ctx, h.ID); err != nil {
		return explain(err)
	}
	fmt.Fprintf(stdout, "deleted home %q (%s); its %d devices were unbound and are told when next awake\n", h.Name, h.ID, len(devs))
	return nil
}
