package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vigilaudit/vigil/internal/auth"
)

// maxPasswordStdin bounds the password read from standard input.
const maxPasswordStdin = 1024

func newAdminUserCmd(t *adminTarget) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Add, list, promote or demote, give audit roles to, and remove content API users",
		Long: `Manage the users of the content API: who signs in (POST /auth,
POST /auth/signin) with a local password, hashed with argon2id at the
cost content.password sets, their level in the organization, USER or
ADMIN, and their audit role for the web console (an ADMIN acts as admin;
set-role gives a USER the role auditor). Each change is recorded as its
event: user.create, user.org.authorization, audit.user.role, user.delete.`,
		Example: `  printf '%s' "$PASSWORD" | vigil admin user add --email alice@example.com --password-stdin
  vigil admin user list
  vigil admin user set-level alice@example.com ADMIN
  vigil admin user set-role carol@example.com auditor
  vigil admin user remove alice@example.com`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newAdminUserAddCmd(t), newAdminUserListCmd(t), newAdminUserSetLevelCmd(t), newAdminUserSetRoleCmd(t), newAdminUserRemoveCmd(t))
	return cmd
}

func newAdminUserAddCmd(t *adminTarget) *cobra.Command {
	var email, first, last string
	var admin, pwStdin bool
	cmd := &cobra.Command{
		Use:   "add --email EMAIL [--admin] [--first-name F --last-name L] --password-stdin",
		Short: "Create a user, reading the password from standard input",
		Long: `Create a user of the content API and print it as JSON (email, names,
level, has_password, created_at). The password is read from standard
input (its first line, without the line break), never from a flag, so
that it stays out of the shell's history and the process list; only its
hash is kept. With --admin the user is an organization administrator.`,
		Example: `  printf '%s' "$PASSWORD" | vigil admin user add --email alice@example.com --first-name Alice --last-name Liddell --password-stdin
  vigil admin user add --email root@example.com --admin --password-stdin < password.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !pwStdin {
				return errors.New("--password-stdin is required: the password is read from standard input, never from a flag")
			}
			pw, err := readPassword(cmd.InOrStdin())
			if err != nil {
				return err
			}
			nu := auth.NewUser{Email: email, FirstName: first, LastName: last, Level: auth.LevelUser}
			if admin {
				nu.Level = auth.LevelAdmin
			}
			return t.withBackend(cmd, func(b adminBackend) error {
				u, err := b.AddUser(cmd.Context(), nu, pw)
				if err != nil {
					return err
				}
				if err := printJSON(cmd.OutOrStdout(), u); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "Created user %s (%s).\n", u.Email, u.Level)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&email, "email", "", "the user's `email` address, their user id (required)")
	f.BoolVar(&admin, "admin", false, "make the user an organization administrator")
	f.StringVar(&first, "first-name", "", "the user's first `name`")
	f.StringVar(&last, "last-name", "", "the user's last `name`")
	f.BoolVar(&pwStdin, "password-stdin", false, "read the password from standard input (required)")
	_ = cmd.MarkFlagRequired("email") // the flag exists
	return cmd
}

// readPassword reads a password from r: its first line, without the line
// break; empty or too long is an error that does not quote it.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReaderSize(io.LimitReader(r, maxPasswordStdin+2), maxPasswordStdin+2).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	switch {
	case pw == "":
		return "", errors.New("no password on standard input")
	case len(pw) > maxPasswordStdin:
		return "", fmt.Errorf("the password on standard input is longer than %d bytes", maxPasswordStdin)
	}
	return pw, nil
}

func newAdminUserListCmd(t *adminTarget) *cobra.Command {
	return listCmd(t, &cobra.Command{
		Use:   "list",
		Short: "List users",
		Long: `List every user of the content API by email: their names, level (USER
or ADMIN), the role they act with in the web console (admin for an ADMIN,
auditor when set-role gave it, - for none), whether they have a password
and when they were created. Users that "device add" created have no
password.

Formats: table (the default), or json: {"users": [...]}, as the admin
API answers.`,
		Example: `  vigil admin user list
  vigil admin user list --format json`,
	}, "users", adminBackend.ListUsers, printUsers)
}

func newAdminUserSetLevelCmd(t *adminTarget) *cobra.Command {
	return &cobra.Command{
		Use:   "set-level EMAIL USER|ADMIN",
		Short: "Promote a user to ADMIN or demote to USER",
		Long: `Set a user's level in the organization: ADMIN (an organization
administrator, whose tokens may hold organization.admin) or USER. A
change is recorded as user.org.authorization; setting the level a user
has changes nothing. Tokens issued before a promotion lack
organization.admin until the user signs in again; a demotion takes effect
at once.`,
		Example: `  vigil admin user set-level alice@example.com ADMIN`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return fmt.Errorf("%s takes an email and a level (USER or ADMIN), got %d arguments", cmd.CommandPath(), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return t.withBackend(cmd, func(b adminBackend) error {
				u, err := b.SetLevel(cmd.Context(), args[0], auth.Level(strings.ToUpper(args[1])))
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "User %s is now %s.\n", u.Email, u.Level)
				return nil
			})
		},
	}
}

func newAdminUserSetRoleCmd(t *adminTarget) *cobra.Command {
	return &cobra.Command{
		Use:   "set-role EMAIL auditor|none",
		Short: "Give a user the audit role auditor, or take it away",
		Long: `Give a user of the content API the audit role auditor, or take it away
with none. An auditor who signs in to the web console (the server's /)
reads the audit data there: events, counts, alerts and the sinks' state,
with every read recorded as audit.query, as an auditor API token does.
An organization administrator (level ADMIN) acts as admin without a
role; anyone else is refused. A change is recorded as audit.user.role;
setting the role a user has changes nothing. The role goes with the
user's removal from the organization.`,
		Example: `  vigil admin user set-role carol@example.com auditor
  vigil admin user set-role carol@example.com none`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return fmt.Errorf("%s takes an email and a role (auditor or none), got %d arguments", cmd.CommandPath(), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return t.withBackend(cmd, func(b adminBackend) error {
				u, err := b.SetUserRole(cmd.Context(), args[0], auth.Role(strings.ToLower(args[1])))
				if err != nil {
					return err
				}
				role := string(u.Role)
				if role == "" {
					role = "no audit role"
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "User %s now has %s.\n", u.Email, role)
				return nil
			})
		},
	}
}

func newAdminUserRemoveCmd(t *adminTarget) *cobra.Command {
	return &cobra.Command{
		Use:   "remove EMAIL",
		Short: "Remove a user",
		Long: `Remove a user of the content API, with their sessions and tokens
(user.delete). A user who still owns devices is kept: revoke and remove
the devices first.`,
		Example: `  vigil admin user remove alice@example.com`,
		Args:    oneArg("email", "vigil admin user list"),
		RunE:    onArg(t, adminBackend.RemoveUser, func(arg string) string { return "Removed user " + strings.ToLower(arg) + "." }),
	}
}

func printUsers(w io.Writer, us []auth.User) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EMAIL\tFIRST NAME\tLAST NAME\tLEVEL\tROLE\tPASSWORD\tCREATED")
	for _, u := range us {
		pw := "no"
		if u.HasPassword {
			pw = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.Email, dash(u.FirstName), dash(u.LastName), u.Level, dash(string(u.ConsoleRole())), pw, formatTime(&u.CreatedAt))
	}
	return tw.Flush()
}
