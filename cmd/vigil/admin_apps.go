package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vigilaudit/vigil/internal/auth"
)

func (l localAdmin) AddApp(ctx context.Context, name, redirectURI string, public bool) (auth.App, string, error) {
	return l.s.AddApp(ctx, auth.Actor{Email: auth.LocalCaller}, name, redirectURI, public)
}

func (l localAdmin) ListApps(ctx context.Context) ([]auth.App, error) {
	return l.s.Apps(ctx)
}

func (l localAdmin) RemoveApp(ctx context.Context, clientID string) error {
	return l.s.RemoveApp(ctx, auth.Actor{Email: auth.LocalCaller}, clientID)
}

func newAdminAppCmd(t *adminTarget) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "app",
		Short: "Register, list and remove OAuth 2.0 apps of the content API",
		Long: `Manage the OAuth 2.0 apps (clients) of the content API: an app gets a
client id and, unless it is public, a client secret, shown once; users
authorize it at GET /authorize and it exchanges their codes at
POST /auth/token. Each change is recorded as an AUDIT event:
audit.app.add, audit.app.remove.`,
		Example: `  vigil admin app add --name "My First App" --redirect-uri http://blackhole
  vigil admin app list
  vigil admin app remove 30fd5241-02ea-46d5-ab07-f0aeba4164c3`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newAdminAppAddCmd(t), newAdminAppListCmd(t), newAdminAppRemoveCmd(t))
	return cmd
}

func newAdminAppAddCmd(t *adminTarget) *cobra.Command {
	var name, redirectURI string
	var public bool
	format := enumFlag{value: "text", allowed: []string{"text", "json"}}
	cmd := &cobra.Command{
		Use:   "add --name NAME --redirect-uri URI [--public]",
		Short: "Register an app and print its client id and secret, once",
		Long: `Register an OAuth 2.0 app. Its redirect URI is where users' browsers
return with a code; an authorization request must give exactly it. The
client secret is printed this once: only its hash is kept. A public app
(--public: a native or browser app that cannot keep a secret) gets no
secret and must use PKCE (S256).

Formats: text (the default: client_id and client_secret, one per line),
or json: the app with its client_secret.`,
		Example: `  vigil admin app add --name "My First App" --redirect-uri http://blackhole
  vigil admin app add --name cli --redirect-uri http://127.0.0.1:8765/cb --public --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return t.withBackend(cmd, func(b adminBackend) error {
				app, secret, err := b.AddApp(cmd.Context(), name, redirectURI, public)
				if err != nil {
					return err
				}
				if format.value == "json" {
					return printJSON(cmd.OutOrStdout(), auth.AddedApp{App: app, ClientSecret: secret})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "client_id: %s\n", app.ClientID)
				if secret != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "client_secret: %s\n", secret)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "Registered app %q; the secret is not shown again.\n", app.Name)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "the app's `name`, shown to users who authorize it (required)")
	f.StringVar(&redirectURI, "redirect-uri", "", "the app's redirect `URI` (required)")
	f.BoolVar(&public, "public", false, "a public app: no secret, PKCE required")
	f.Var(&format, "format", "output format: "+format.choices())
	_ = cmd.MarkFlagRequired("name")         // the flag exists
	_ = cmd.MarkFlagRequired("redirect-uri") // the flag exists
	return cmd
}

func newAdminAppListCmd(t *adminTarget) *cobra.Command {
	return listCmd(t, &cobra.Command{
		Use:   "list",
		Short: "List apps",
		Long: `List the registered OAuth 2.0 apps, oldest first: client id, name,
redirect URI, whether public, and when registered. Secrets are never
shown.

Formats: table (the default), or json: {"apps": [...]}, as the admin
API answers.`,
		Example: `  vigil admin app list
  vigil admin app list --format json`,
	}, "apps", adminBackend.ListApps, printApps)
}

func newAdminAppRemoveCmd(t *adminTarget) *cobra.Command {
	return &cobra.Command{
		Use:   "remove CLIENT_ID",
		Short: "Remove an app",
		Long: `Remove an OAuth 2.0 app, with every authorization users gave it and
every token it holds: they stop working at once (audit.app.remove).`,
		Example: `  vigil admin app remove 30fd5241-02ea-46d5-ab07-f0aeba4164c3`,
		Args:    oneArg("client id", "vigil admin app list"),
		RunE:    onArg(t, adminBackend.RemoveApp, func(arg string) string { return "Removed app " + strings.ToLower(arg) + "." }),
	}
}

func printApps(w io.Writer, apps []auth.App) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT ID\tNAME\tREDIRECT URI\tPUBLIC\tCREATED")
	for _, a := range apps {
		pub := "no"
		if a.Public {
			pub = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.ClientID, a.Name, a.RedirectURI, pub, formatTime(&a.CreatedAt))
	}
	return tw.Flush()
}
