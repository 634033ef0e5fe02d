package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilaudit/vigil/contentapi/password"
	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/metadb"
)

// authDBFile is the embedded metadata database's file in the data
// directory: the credential store's tables, and the content API's. (It
// kept the name it had when it held credentials alone.)
const authDBFile = "auth.db"

// authDBPath returns the metadata database's path in dataDir; serve opens
// the same file.
func authDBPath(dataDir string) string { return filepath.Join(dataDir, authDBFile) }

// openMetaDB opens the metadata database that c chooses: PostgreSQL, or
// the SQLite file in dataDir.
func openMetaDB(dataDir string, c ContentConfig) (*metadb.DB, error) {
	if pg := c.Postgres; pg != nil {
		return metadb.OpenPostgres(pg.DSN)
	}
	return metadb.OpenSQLite(authDBPath(dataDir))
}

// ensureDataDir creates dir if it does not exist yet, and says so on w
// with its absolute path: a data directory is relative to where the
// command runs, and a second one made by mistake would hold credentials
// the server never sees.
func ensureDataDir(w io.Writer, dir string) error {
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	fmt.Fprintf(w, "created data directory %s\n", absPath(dir))
	return nil
}

// absPath is dir made absolute, or dir when that fails.
func absPath(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

// tokenEnv names the environment variable that holds the admin token for
// --server.
const tokenEnv = "VIGIL_TOKEN"

// adminBackend is what the admin commands work on: the credential store
// in the data directory, or a running server's admin API.
type adminBackend interface {
	AddDevice(ctx context.Context, user, name string) (auth.Device, string, error)
	ListDevices(ctx context.Context) ([]auth.Device, error)
	RevokeDevice(ctx context.Context, id string) error
	AddToken(ctx context.Context, role auth.Role, name string) (auth.Token, string, error)
	ListTokens(ctx context.Context) ([]auth.Token, error)
	RevokeToken(ctx context.Context, name string) error
	AddUser(ctx context.Context, nu auth.NewUser, password string) (auth.User, error)
	ListUsers(ctx context.Context) ([]auth.User, error)
	SetLevel(ctx context.Context, email string, level auth.Level) (auth.User, error)
	SetUserRole(ctx context.Context, email string, role auth.Role) (auth.User, error)
	RemoveUser(ctx context.Context, email string) error
	AddApp(ctx context.Context, name, redirectURI string, public bool) (auth.App, string, error)
	ListApps(ctx context.Context) ([]auth.App, error)
	RemoveApp(ctx context.Context, clientID string) error
	ListMail(ctx context.Context) ([]auth.Mail, error)
	Close() error
}

// adminTarget holds the flags that choose the backend.
type adminTarget struct {
	dataDir    string
	configPath string
	content    ContentConfig // from --config
	server     string
	token      string
}

// applyConfig reads --config, if given, for the data directory and the
// metadata database, as serve does; --data-dir overrides the file's.
func (t *adminTarget) applyConfig(cmd *cobra.Command) error {
	if t.configPath == "" {
		return nil
	}
	if t.server != "" {
		return errors.New("use either --server or --config, not both: --config finds the databases to work on directly")
	}
	var o overrides
	if cmd.Flags().Changed("data-dir") {
		o.DataDir = &t.dataDir
	}
	cfg, err := loadConfig(t.configPath, o)
	if err != nil {
		return err
	}
	t.dataDir, t.content = cfg.DataDir, cfg.Content
	return nil
}

// open returns the backend the flags ask for.
func (t *adminTarget) open(cmd *cobra.Command) (adminBackend, error) {
	flags := cmd.Flags()
	if t.server == "" {
		if flags.Changed("token") {
			return nil, errors.New("--token is for --server; without --server, admin works on --data-dir directly")
		}
		if t.content.Postgres == nil {
			if err := ensureDataDir(cmd.ErrOrStderr(), t.dataDir); err != nil {
				return nil, err
			}
		}
		db, err := openMetaDB(t.dataDir, t.content)
		if err != nil {
			return nil, err
		}
		s, err := auth.New(cmd.Context(), db)
		if err != nil {
			_ = db.Close() // the migration error is the one to report
			return nil, err
		}
		pc := t.content.Password
		pc.SetDefaults()
		return localAdmin{s: s, db: db, hasher: password.New(pc)}, nil
	}
	if flags.Changed("data-dir") {
		return nil, errors.New("use either --server or --data-dir, not both")
	}
	token := t.token
	if token == "" {
		token = os.Getenv(tokenEnv)
	}
	if token == "" {
		return nil, fmt.Errorf("--server needs an admin token: --token or %s", tokenEnv)
	}
	c, err := auth.NewClient(t.server, token, nil)
	if err != nil {
		return nil, fmt.Errorf("--server: %w", err)
	}
	return c, nil
}

// localAdmin works on the credential store directly; the audit events
// record the pseudo-user ":local" as the caller.
type localAdmin struct {
	s      *auth.Store
	db     *metadb.DB
	hasher *password.Hasher
}

func (l localAdmin) AddDevice(ctx context.Context, user, name string) (auth.Device, string, error) {
	return l.s.AddDevice(ctx, auth.LocalCaller, user, name)
}

func (l localAdmin) ListDevices(ctx context.Context) ([]auth.Device, error) {
	return l.s.ListDevices(ctx)
}

func (l localAdmin) RevokeDevice(ctx context.Context, id string) error {
	return l.s.RevokeDevice(ctx, auth.LocalCaller, id)
}

func (l localAdmin) AddToken(ctx context.Context, role auth.Role, name string) (auth.Token, string, error) {
	return l.s.AddToken(ctx, auth.LocalCaller, role, name)
}

func (l localAdmin) ListTokens(ctx context.Context) ([]auth.Token, error) {
	return l.s.ListTokens(ctx)
}

func (l localAdmin) RevokeToken(ctx context.Context, name string) error {
	return l.s.RevokeToken(ctx, auth.LocalCaller, name)
}

func (l localAdmin) AddUser(ctx context.Context, nu auth.NewUser, pw string) (auth.User, error) {
	if pw != "" {
		nu.PasswordHash = l.hasher.Hash(pw)
	}
	return l.s.CreateUser(ctx, auth.Actor{Email: auth.LocalCaller}, nu)
}

func (l localAdmin) ListUsers(ctx context.Context) ([]auth.User, error) {
	return l.s.AllUsers(ctx)
}

func (l localAdmin) SetLevel(ctx context.Context, email string, level auth.Level) (auth.User, error) {
	return l.s.SetLevel(ctx, auth.Actor{Email: auth.LocalCaller}, email, level)
}

func (l localAdmin) SetUserRole(ctx context.Context, email string, role auth.Role) (auth.User, error) {
	return l.s.SetUserRole(ctx, auth.LocalCaller, email, role)
}

func (l localAdmin) RemoveUser(ctx context.Context, email string) error {
	return l.s.DeleteUser(ctx, auth.Actor{Email: auth.LocalCaller}, email)
}

func (l localAdmin) Close() error { return l.db.Close() }

// withBackend runs fn on the backend the flags ask for, and closes it.
func (t *adminTarget) withBackend(cmd *cobra.Command, fn func(b adminBackend) error) (err error) {
	b, err := t.open(cmd)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := b.Close(); err == nil {
			err = cerr
		}
	}()
	return fn(b)
}

// listCmd completes cmd as a list command: its RunE lists the items with
// list and prints them with table, or with --format json as {key: [...]},
// as the admin API answers.
func listCmd[T any](t *adminTarget, cmd *cobra.Command, key string,
	list func(adminBackend, context.Context) ([]T, error), table func(io.Writer, []T) error) *cobra.Command {
	format := enumFlag{value: "table", allowed: []string{"table", "json"}}
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return t.withBackend(cmd, func(b adminBackend) error {
			items, err := list(b, cmd.Context())
			if err != nil {
				return err
			}
			if format.value == "json" {
				return printJSON(cmd.OutOrStdout(), map[string]any{key: items})
			}
			return table(cmd.OutOrStdout(), items)
		})
	}
	cmd.Flags().Var(&format, "format", "output format: "+format.choices())
	return cmd
}

// onArg is the RunE of a command that takes one argument: it runs do with
// it, then prints done(arg) on stderr.
func onArg(t *adminTarget, do func(adminBackend, context.Context, string) error, done func(arg string) string) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		return t.withBackend(cmd, func(b adminBackend) error {
			if err := do(b, cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintln(cmd.ErrOrStderr(), done(args[0]))
			return nil
		})
	}
}

func newAdminCmd() *cobra.Command {
	t := &adminTarget{}
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Manage devices, API tokens, users, the quarantine, the sinks and the alerts",
		Long: `Manage the credentials of the audit APIs: devices, whose upload tokens
(or client certificates) submit events, and API tokens with a role, admin
or auditor, for the query and admin APIs.

Admin works on the credential store in --data-dir directly (the file
auth.db, created if needed), or in the PostgreSQL database that the
config file given with --config names (content.postgres), before the
first "vigil serve" and while it runs; or, with --server and an admin token (--token or VIGIL_TOKEN),
through a running server's admin API. Changes take effect at once, without
a restart.

Every change is recorded as an AUDIT event (audit.device.add, ...). Its
caller is ":local" on the data directory, ":token:NAME" through a server.

Tokens are shown once, when issued: only their hash is kept. Data goes to
stdout, messages to stderr.`,
		Example: `  vigil admin token add --role admin --name ops
  vigil admin device add --user alice@example.com --name alice-laptop
  VIGIL_TOKEN=... vigil admin --server https://vigil.example.com:8080 device list`,
		Args: cobra.NoArgs,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&t.dataDir, "data-dir", defaultDataDir, "`directory` whose credential store to work on, as for serve")
	pf.StringVar(&t.configPath, "config", "", "serve's config `file`, for its data_dir and its metadata database (content.postgres)")
	cmd.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return t.applyConfig(cmd) }
	pf.StringVar(&t.server, "server", "", "`URL` of a running server to work through instead, e.g. https://vigil.example.com:8080")
	pf.StringVar(&t.token, "token", "", "admin API `token` for --server (default $"+tokenEnv+")")
	cmd.AddCommand(newAdminDeviceCmd(t), newAdminTokenCmd(t), newAdminUserCmd(t), newAdminMailCmd(t), newAdminAppCmd(t), newAdminQuarantineCmd(t), newAdminSinksCmd(t), newAdminAlertsCmd(t))
	return cmd
}

func newAdminDeviceCmd(t *adminTarget) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "device",
		Short: "Register, list and revoke devices",
		Long: `Register, list and revoke the devices that upload audit events. A device
belongs to a user (an email address) and authenticates with its upload
token, or with a TLS client certificate whose common name is its id.`,
		Example: `  vigil admin device add --user alice@example.com --name alice-laptop
  vigil admin device list
  vigil admin device revoke 6f1c0e5b9a7d4c3e8b2a1f0e9d8c7b6a`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newAdminDeviceAddCmd(t), newAdminDeviceListCmd(t), newAdminDeviceRevokeCmd(t))
	return cmd
}

func newAdminDeviceAddCmd(t *adminTarget) *cobra.Command {
	var user, name string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "add --user EMAIL --name NAME",
		Short: "Register a device and print its upload token",
		Long: `Register a device for a user (created if new) and print, as JSON, the
device as "device list --format json" shows it (device_id, user, name,
created_at, ...) with its upload token. The token is shown only this
once: configure it on the device now. With --quiet, only the token is
printed, on one line, for a shell variable.`,
		Example: `  vigil admin device add --user alice@example.com --name alice-laptop
  DEVICE_TOKEN=$(vigil admin device add --user alice@example.com --name alice-laptop --quiet)
  vigil admin --server https://vigil.example.com:8080 device add --user bob@example.com --name build-01`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return t.withBackend(cmd, func(b adminBackend) error {
				d, token, err := b.AddDevice(cmd.Context(), user, name)
				if err != nil {
					return err
				}
				if err := printAdded(cmd.OutOrStdout(), quiet, auth.AddedDevice{Device: d, Token: token}, token); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "Registered device %s for %s. Its token is shown only this once: configure it on the device now.\n", d.ID, d.UserID)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "`email` of the device's user (required)")
	cmd.Flags().StringVar(&name, "name", "", "the device's `name`, such as its host name (required)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the token, on one line")
	_ = cmd.MarkFlagRequired("user") // the flags exist
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func newAdminDeviceListCmd(t *adminTarget) *cobra.Command {
	return listCmd(t, &cobra.Command{
		Use:   "list",
		Short: "List devices",
		Long: `List every device, revoked ones included, oldest first: its id, user and
name, when it was created and last seen, the highest event sequence
number it uploaded (LAST SEQ) and how many times its sequence skipped
numbers (GAPS: events lost or withheld on the device).

Formats: table (the default), or json: {"devices": [...]}, as the admin
API answers.`,
		Example: `  vigil admin device list
  vigil admin device list --format json`,
	}, "devices", adminBackend.ListDevices, printDevices)
}

func newAdminDeviceRevokeCmd(t *adminTarget) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a device",
		Long: `Revoke a device: its upload token and client certificate stop working at
once, in the running server too. The device stays listed, as revoked.`,
		Example: `  vigil admin device revoke 6f1c0e5b9a7d4c3e8b2a1f0e9d8c7b6a`,
		Args:    oneArg("device id", "vigil admin device list"),
		RunE:    onArg(t, adminBackend.RevokeDevice, func(arg string) string { return "Revoked device " + arg + "." }),
	}
}

func newAdminTokenCmd(t *adminTarget) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Issue, list and revoke API tokens",
		Long: `Issue, list and revoke API tokens. A token has a role: admin (the admin
API and everything else) or auditor (the query API and the dashboards).
Its name is unique for good, revoked tokens included, so that audit
events naming it (":token:NAME") stay unambiguous.`,
		Example: `  vigil admin token add --role auditor --name grafana
  vigil admin token list
  vigil admin token revoke grafana`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newAdminTokenAddCmd(t), newAdminTokenListCmd(t), newAdminTokenRevokeCmd(t))
	return cmd
}

func newAdminTokenAddCmd(t *adminTarget) *cobra.Command {
	role := enumFlag{allowed: []string{string(auth.RoleAdmin), string(auth.RoleAuditor)}}
	var name string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "add --role admin|auditor --name NAME",
		Short: "Issue an API token and print it",
		Long: `Issue an API token with a role and print, as JSON, the token as "token
list --format json" shows it (name, role, created_at, ...) with the
token itself. The token is shown only this once. With --quiet, only the
token is printed, on one line, for a shell variable. Names are 1 to 64
letters, digits, '.', '_' and '-'.`,
		Example: `  vigil admin token add --role admin --name ops
  VIGIL_TOKEN=$(vigil admin token add --role auditor --name grafana --quiet)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return t.withBackend(cmd, func(b adminBackend) error {
				tok, secret, err := b.AddToken(cmd.Context(), auth.Role(role.value), name)
				if err != nil {
					return err
				}
				if err := printAdded(cmd.OutOrStdout(), quiet, auth.AddedToken{Token: tok, Secret: secret}, secret); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "Issued %s token %s. It is shown only this once: store it now.\n", tok.Role, tok.Name)
				return nil
			})
		},
	}
	cmd.Flags().Var(&role, "role", "the token's `role`: "+role.choices()+" (required)")
	cmd.Flags().StringVar(&name, "name", "", "the token's unique `name` (required)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the token, on one line")
	_ = cmd.MarkFlagRequired("role") // the flags exist
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func newAdminTokenListCmd(t *adminTarget) *cobra.Command {
	return listCmd(t, &cobra.Command{
		Use:   "list",
		Short: "List API tokens",
		Long: `List every API token, revoked ones included, oldest first: its name and
role, when it was created and last used. The tokens themselves are not
kept and cannot be shown.

Formats: table (the default), or json: {"tokens": [...]}, as the admin
API answers.`,
		Example: `  vigil admin token list
  vigil admin token list --format json`,
	}, "tokens", adminBackend.ListTokens, printTokens)
}

func newAdminTokenRevokeCmd(t *adminTarget) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke an API token",
		Long: `Revoke an API token: it stops working at once, in the running server
too. The token stays listed, as revoked, and its name stays taken.`,
		Example: `  vigil admin token revoke grafana`,
		Args:    oneArg("token name", "vigil admin token list"),
		RunE:    onArg(t, adminBackend.RevokeToken, func(arg string) string { return "Revoked token " + arg + "." }),
	}
}

// oneArg accepts exactly one argument, what, and says where to find one.
func oneArg(what, list string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return fmt.Errorf("%s takes one %s, got %d arguments (see '%s')", cmd.CommandPath(), what, len(args), list)
		}
		return nil
	}
}

// printAdded prints what an add command issued: v as JSON, or with quiet
// only the secret, on one line.
func printAdded(w io.Writer, quiet bool, v any, secret string) error {
	if quiet {
		_, err := fmt.Fprintln(w, secret)
		return err
	}
	return printJSON(w, v)
}

func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func printDevices(w io.Writer, ds []auth.Device) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE ID\tUSER\tNAME\tCREATED\tLAST SEEN\tLAST SEQ\tGAPS\tREVOKED")
	for _, d := range ds {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n",
			d.ID, d.UserID, d.Name, formatTime(&d.CreatedAt), formatTime(d.LastSeen), d.LastSeq, d.SeqGaps, formatTime(d.RevokedAt))
	}
	return tw.Flush()
}

func printTokens(w io.Writer, ts []auth.Token) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tCREATED\tLAST USED\tREVOKED")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n",
			t.Name, t.Role, formatTime(&t.CreatedAt), formatTime(t.LastUsed), formatTime(t.RevokedAt))
	}
	return tw.Flush()
}

// formatTime shows a time in a table: UTC to the second, "-" for none.
func formatTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
