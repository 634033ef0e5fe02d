// Package auth holds the credentials that ingest, the query API and the
// content API share: users, devices with their upload tokens, and API
// tokens with a role.
//
// A Store keeps them in the metadata database (internal/metadb): by
// default the SQLite file DATA_DIR/auth.db, in WAL mode with a busy
// timeout, or PostgreSQL (New); its tables are the migration component
// "auth". "vigil serve" and "vigil admin" work on it at the same time;
// every lookup reads the database, so a credential added or revoked by
// another process takes effect at once. Secrets are random
// 256-bit tokens, shown once when issued and stored only as their SHA-256.
//
// Every admin action writes, in the same transaction, an AUDIT event into
// an outbox that the server relays into the event log (RelayOutbox), so an
// action is never recorded without its event nor its event lost.
//
// The HTTP pieces are shared by the audit APIs: bearer-token
// authentication (Middleware), role checks (RequireRole), and the admin
// API's routes (AdminRoutes) with its client (Client), all on the
// httpapi kit.
package auth
