// Package mail delivers the mail outbox of the account store (password
// reset tokens, invitations) by SMTP.
//
// Mail is written into the outbox table in the transaction of the change
// that sends it (internal/auth), so a message exists exactly when its
// change committed. A Sender, configured by content.mail.smtp, reads the
// pending messages, sends each over SMTP (net/smtp; STARTTLS, implicit
// TLS or plain, with PLAIN authentication when a username is set) and
// marks it sent; a failed message is tried again later, the delay
// doubling from MinBackoff to MaxBackoff. Without SMTP configuration no
// Sender runs and mail stays in the outbox, where "vigil admin mail
// list" shows it.
package mail
