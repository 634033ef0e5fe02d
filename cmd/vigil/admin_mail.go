package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vigilaudit/vigil/internal/auth"
)

func (l localAdmin) ListMail(ctx context.Context) ([]auth.Mail, error) { return l.s.ListMail(ctx) }

func newAdminMailCmd(t *adminTarget) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mail",
		Short: "Show the mail outbox: password resets and invitations",
		Long: `Show the mail the content API writes (password reset tokens,
invitations). Mail goes into an outbox table in the same transaction as
the change that sends it; with content.mail.smtp configured, "vigil
serve" delivers it and marks it sent, retrying a failed message with a
growing delay. Without SMTP configuration mail stays in the outbox, and
this command is how an administrator reads it.`,
		Example: `  vigil admin mail list
  vigil admin mail list --format json`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newAdminMailListCmd(t))
	return cmd
}

func newAdminMailListCmd(t *adminTarget) *cobra.Command {
	return listCmd(t, &cobra.Command{
		Use:   "list",
		Short: "List the mail outbox, sent or not",
		Long: `List every message of the mail outbox, oldest first: its recipient,
subject, when it was written and sent (or how many deliveries failed and
the last reason).

Formats: table (the default), which leaves out the bodies, or json:
{"mail": [...]} with the bodies, as the admin API answers. A password
reset mail's body holds its token: treat the output as a secret.`,
		Example: `  vigil admin mail list
  vigil admin mail list --format json --data-dir /var/lib/vigil`,
	}, "mail", adminBackend.ListMail, printMail)
}

func printMail(w io.Writer, ms []auth.Mail) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTO\tSUBJECT\tCREATED\tSENT\tATTEMPTS\tLAST ERROR")
	for _, m := range ms {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.To, m.Subject, formatTime(&m.CreatedAt), formatTime(m.SentAt),
			strconv.Itoa(m.Attempts), dash(m.LastError))
	}
	return tw.Flush()
}
