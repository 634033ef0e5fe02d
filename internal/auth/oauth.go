package auth

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigilaudit/vigil/internal/metadb"
	"github.com/vigilaudit/vigil/schema"
)

// The OAuth 2.0 authorization server's records: the apps (clients) an
// administrator registered, the one-time authorization codes a user's
// approval makes, the authorizations (an app holding a user's consent,
// with a device id of its own, the device of the caller in audit
// events), and the refresh tokens of each authorization. The access
// tokens are content API access tokens (access_tokens), whose device id
// is their authorization's. Secrets are kept as SHA-256 in hex only.
//
// Events: audit.app.add and audit.app.remove for registration,
// device.certify (device_type "API Client") when an authorization's
// first token is issued, and device.unlink when an authorization ends:
// revoked by its user (or an administrator), or by the server itself
// (the pseudo-user ":oauth" as admin_user) when a code or refresh token
// is presented a second time.

// TypeAPIClient is the device_type of an app's authorization.
const TypeAPIClient = "API Client"

// OAuthCaller is the admin_user of the device.unlink of an
// authorization that the server revoked because one of its codes or
// refresh tokens was used twice.
const OAuthCaller = ":oauth"

// ErrGrantRefused refuses a code or refresh token: unknown, expired,
// used, or issued to another app or redirect URI. A used one also ends
// the authorization it belongs to, which is committed.
var ErrGrantRefused = errors.New("grant refused")

// App is a registered OAuth 2.0 client. Its secret is never kept, only
// its hash; a public app has none and must use PKCE.
type App struct {
	ClientID    string    `json:"client_id"`
	Name        string    `json:"name"`
	RedirectURI string    `json:"redirect_uri"`
	Public      bool      `json:"public"`
	CreatedAt   time.Time `json:"created_at"`
}

// AuthCode is an authorization code as the store keeps it.
type AuthCode struct {
	// Hash is the code's SHA-256, 64 hex.
	Hash, ClientID, Email, RedirectURI string
	// Scopes are the scopes the user granted, as the content API writes
	// them.
	Scopes string
	// Challenge is the PKCE S256 code challenge; empty for none.
	Challenge string
	// Device is the id (32 hex) the authorization gets.
	Device               string
	CreatedAt, ExpiresAt time.Time
}

// Authorization is an app's hold on a user's consent: its device id,
// the scopes granted, and when.
type Authorization struct {
	Device, ClientID, AppName, Email, Scopes string
	CreatedAt                                time.Time
}

// Grant is what a redeemed code or refresh token issues: an access
// token (its hash, scopes, expiry) and the hash of the next refresh
// token.
type Grant struct {
	Access      AccessToken
	RefreshHash string
}

// oauthMigrations are the schema's versions of component "oauth",
// applied after "devices"'s. Append only.
var oauthMigrations = []metadb.Migration{
	// 1: apps, codes, authorizations, refresh tokens; access tokens are
	// found by their authorization's device id.
	{
		SQLite: `CREATE TABLE oauth_apps (
		client_id    TEXT PRIMARY KEY,
		name         TEXT NOT NULL,
		redirect_uri TEXT NOT NULL,
		secret_hash  TEXT,
		created_at   INTEGER NOT NULL
	) STRICT;
	CREATE TABLE oauth_codes (
		code_hash    TEXT PRIMARY KEY,
		client_id    TEXT NOT NULL,
		user_email   TEXT NOT NULL,
		redirect_uri TEXT NOT NULL,
		scopes       TEXT NOT NULL,
		challenge    TEXT NOT NULL,
		device_id    TEXT NOT NULL,
		created_at   INTEGER NOT NULL,
		expires_at   INTEGER NOT NULL,
		used_at      INTEGER
	) STRICT;
	CREATE INDEX oauth_codes_expiry ON oauth_codes (expires_at);
	CREATE TABLE oauth_authorizations (
		device_id  TEXT PRIMARY KEY,
		client_id  TEXT NOT NULL,
		user_email TEXT NOT NULL,
		scopes     TEXT NOT NULL,
		created_at INTEGER NOT NULL
	) STRICT;
	CREATE INDEX oauth_authorizations_user ON oauth_authorizations (user_email);
	CREATE INDEX oauth_authorizations_client ON oauth_authorizations (client_id);
	CREATE TABLE oauth_refresh_tokens (
		token_hash TEXT PRIMARY KEY,
		device_id  TEXT NOT NULL,
		created_at INTEGER NOT NULL,
		used_at    INTEGER
	) STRICT;
	CREATE INDEX oauth_refresh_tokens_device ON oauth_refresh_tokens (device_id);
	CREATE INDEX oauth_access_tokens_device ON access_tokens (device_id);`,
		Postgres: `CREATE TABLE oauth_apps (
		client_id    TEXT PRIMARY KEY,
		name         TEXT NOT NULL,
		redirect_uri TEXT NOT NULL,
		secret_hash  TEXT,
		created_at   BIGINT NOT NULL
	);
	CREATE TABLE oauth_codes (
		code_hash    TEXT PRIMARY KEY,
		client_id    TEXT NOT NULL,
		user_email   TEXT NOT NULL,
		redirect_uri TEXT NOT NULL,
		scopes       TEXT NOT NULL,
		challenge    TEXT NOT NULL,
		device_id    TEXT NOT NULL,
		created_at   BIGINT NOT NULL,
		expires_at   BIGINT NOT NULL,
		used_at      BIGINT
	);
	CREATE INDEX oauth_codes_expiry ON oauth_codes (expires_at);
	CREATE TABLE oauth_authorizations (
		device_id  TEXT PRIMARY KEY,
		client_id  TEXT NOT NULL,
		user_email TEXT NOT NULL,
		scopes     TEXT NOT NULL,
		created_at BIGINT NOT NULL
	);
	CREATE INDEX oauth_authorizations_user ON oauth_authorizations (user_email);
	CREATE INDEX oauth_authorizations_client ON oauth_authorizations (client_id);
	CREATE TABLE oauth_refresh_tokens (
		token_hash TEXT PRIMARY KEY,
		device_id  TEXT NOT NULL,
		created_at BIGINT NOT NULL,
		used_at    BIGINT
	);
	CREATE INDEX oauth_refresh_tokens_device ON oauth_refresh_tokens (device_id);
	CREATE INDEX oauth_access_tokens_device ON access_tokens (device_id);`,
	},
}

// oauthComponent is the authorization server's schema for the
// migration runner.
var oauthComponent = metadb.Component{Name: "oauth", Migrations: oauthMigrations}

// migrateOAuth brings the oauth component to its newest version.
func (s *Store) migrateOAuth(ctx context.Context) error {
	return s.db.Migrate(ctx, oauthComponent)
}

// keepUsed is how long used and expired codes and used refresh tokens
// are kept, so that a second use is recognized as one.
const keepUsed = 24 * time.Hour

// maxURILen bounds a redirect URI, in bytes.
const maxURILen = 2000

// checkRedirectURI accepts an absolute URI without a fragment.
func checkRedirectURI(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", &FieldError{Field: "redirect_uri", Reason: "required"}
	}
	u, err := url.Parse(s)
	switch {
	case len(s) > maxURILen:
		return "", &FieldError{Field: "redirect_uri", Reason: fmt.Sprintf("longer than %d bytes", maxURILen)}
	case err != nil || !u.IsAbs() || u.Opaque != "" || hasControl(s) || !utf8.ValidString(s):
		return "", &FieldError{Field: "redirect_uri", Reason: "not an absolute URI"}
	case u.Fragment != "" || strings.Contains(s, "#"):
		return "", &FieldError{Field: "redirect_uri", Reason: "has a fragment"}
	}
	return s, nil
}

// newClientID returns a fresh client id in the tutorial's form: a
// random UUID.
func newClientID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails, see newSecret
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// checkClientID accepts a client id's form (a UUID, any case) and
// returns it in lower case.
func checkClientID(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	ok := len(s) == 36
	for i := 0; ok && i < len(s); i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			ok = s[i] == '-'
		} else {
			ok = isLowerHex(s[i : i+1])
		}
	}
	if !ok {
		return "", fmt.Errorf("client %q: %w", s, ErrNotFound)
	}
	return s, nil
}

// AppSecretHash is the stored form of an app's secret (and of every
// OAuth secret): its SHA-256 as 64 lower-case hex.
func AppSecretHash(secret string) string { return hex.EncodeToString(hashSecret(secret)) }

// AddApp registers an app named name whose redirect URI is redirectURI
// and returns it with its client secret, 32 hex, which is not kept and
// cannot be shown again; a public app gets none (audit.app.add).
func (s *Store) AddApp(ctx context.Context, a Actor, name, redirectURI string, public bool) (App, string, error) {
	caller, err := a.caller()
	if err != nil {
		return App{}, "", err
	}
	if name, err = checkDeviceName(name); err != nil {
		return App{}, "", err
	}
	if redirectURI, err = checkRedirectURI(redirectURI); err != nil {
		return App{}, "", err
	}
	app := App{ClientID: newClientID(), Name: name, RedirectURI: redirectURI, Public: public, CreatedAt: s.timestamp()}
	var secret string
	var hash sql.NullString
	if !public {
		b := make([]byte, 16)
		_, _ = rand.Read(b) // never fails, see newSecret
		secret = hex.EncodeToString(b)
		hash = sql.NullString{String: AppSecretHash(secret), Valid: true}
	}
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO oauth_apps (client_id, name, redirect_uri, secret_hash, created_at) VALUES (?, ?, ?, ?, ?)`,
			app.ClientID, app.Name, app.RedirectURI, hash, app.CreatedAt.UnixMilli()); err != nil {
			return err
		}
		return s.audit(ctx, tx, "audit.app.add", app.CreatedAt, schema.Fields{"caller": caller, "client_id": app.ClientID,
			"name": app.Name, "redirect_uri": app.RedirectURI, "public": public, "ip": a.IP})
	})
	if err != nil {
		return App{}, "", fmt.Errorf("add app %s: %w", name, err)
	}
	return app, secret, nil
}

const appColumns = `client_id, name, redirect_uri, secret_hash, created_at`

func scanApp(row rowScanner) (App, string, error) {
	var (
		app     App
		hash    sql.NullString
		created int64
	)
	if err := row.Scan(&app.ClientID, &app.Name, &app.RedirectURI, &hash, &created); err != nil {
		return App{}, "", err
	}
	app.Public, app.CreatedAt = !hash.Valid, fromMillis(created)
	return app, hash.String, nil
}

// Apps returns every registered app, oldest first.
func (s *Store) Apps(ctx context.Context) ([]App, error) {
	out, err := queryAll(ctx, s.db, func(row rowScanner) (App, error) {
		app, _, err := scanApp(row)
		return app, err
	}, `SELECT `+appColumns+` FROM oauth_apps ORDER BY created_at, client_id`)
	if err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	return out, nil
}

// App returns the app whose client id is clientID, with the hash of its
// secret ("" for a public app); ErrNotFound for none.
func (s *Store) App(ctx context.Context, clientID string) (App, string, error) {
	id, err := checkClientID(clientID)
	if err != nil {
		return App{}, "", err
	}
	app, hash, err := scanApp(s.db.QueryRowContext(ctx, `SELECT `+appColumns+` FROM oauth_apps WHERE client_id = ?`, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return App{}, "", fmt.Errorf("app %s: %w", id, ErrNotFound)
	case err != nil:
		return App{}, "", fmt.Errorf("get app %s: %w", id, err)
	}
	return app, hash, nil
}

// RemoveApp removes an app with its codes, authorizations and tokens
// (audit.app.remove); ErrNotFound for none.
func (s *Store) RemoveApp(ctx context.Context, a Actor, clientID string) error {
	caller, err := a.caller()
	if err != nil {
		return err
	}
	id, err := checkClientID(clientID)
	if err != nil {
		return err
	}
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		var name string
		err := tx.QueryRowContext(ctx, `SELECT name FROM oauth_apps WHERE client_id = ?`, id).Scan(&name)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		if err := execEach(ctx, tx, []string{
			`DELETE FROM access_tokens WHERE device_id IN (SELECT device_id FROM oauth_authorizations WHERE client_id = ?)`,
			`DELETE FROM oauth_refresh_tokens WHERE device_id IN (SELECT device_id FROM oauth_authorizations WHERE client_id = ?)`,
			`DELETE FROM oauth_authorizations WHERE client_id = ?`,
			`DELETE FROM oauth_codes WHERE client_id = ?`,
			`DELETE FROM oauth_apps WHERE client_id = ?`,
		}, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, "audit.app.remove", s.timestamp(), schema.Fields{"caller": caller, "client_id": id, "name": name, "ip": a.IP})
	})
	if err != nil {
		return fmt.Errorf("remove app %s: %w", id, err)
	}
	return nil
}

// IssueCode stores an authorization code a user's approval made, with
// its audit.oauth.approve (a's ip). The code itself is not kept.
func (s *Store) IssueCode(ctx context.Context, a Actor, c AuthCode) error {
	if err := checkHash(c.Hash); err != nil {
		return err
	}
	email, err := checkEmail("user", c.Email)
	if err != nil {
		return err
	}
	if _, ok := normalizeID(c.Device); !ok {
		return &FieldError{Field: "device", Reason: "not a device id (32 hex digits)"}
	}
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM oauth_codes WHERE expires_at < ?`, c.CreatedAt.Add(-keepUsed).UnixMilli()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO oauth_codes (code_hash, client_id, user_email, redirect_uri, scopes, challenge, device_id, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, c.Hash, c.ClientID, email, c.RedirectURI, c.Scopes, c.Challenge, c.Device,
			c.CreatedAt.UnixMilli(), c.ExpiresAt.UnixMilli())
		if err != nil {
			return err
		}
		caller, err := Actor{Email: email}.caller()
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, "audit.oauth.approve", s.timestamp(), schema.Fields{"caller": caller, "user": email,
			"client_id": c.ClientID, "device": c.Device, "scope": c.Scopes, "ip": a.IP})
	})
	if err != nil {
		return fmt.Errorf("issue authorization code for %s: %w", email, err)
	}
	return nil
}

// RedeemCode exchanges the code whose hash is codeHash, presented by
// clientID with redirectURI at now, for a grant: issue makes the grant
// from the code (it may refuse, with its own error, and nothing
// changes). The grant's authorization is created with its device id
// (device.certify, with a's ip). A code that is unknown, expired, or
// bound to another client or redirect URI is ErrGrantRefused; a used one
// too, and its authorization ends with its tokens (device.unlink by
// OAuthCaller), committed.
func (s *Store) RedeemCode(ctx context.Context, a Actor, codeHash, clientID, redirectURI string, now time.Time,
	issue func(AuthCode) (Grant, error)) (AuthCode, error) {
	if checkHash(codeHash) != nil {
		return AuthCode{}, ErrGrantRefused
	}
	var (
		c       AuthCode
		reused  bool
		appName string
	)
	err := s.db.InTx(ctx, func(tx *metadb.Tx) error {
		reused = false
		var created, expires int64
		var used sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT c.code_hash, c.client_id, c.user_email, c.redirect_uri, c.scopes, c.challenge, c.device_id,
			c.created_at, c.expires_at, c.used_at, a.name FROM oauth_codes c JOIN oauth_apps a ON a.client_id = c.client_id WHERE c.code_hash = ?`, codeHash).
			Scan(&c.Hash, &c.ClientID, &c.Email, &c.RedirectURI, &c.Scopes, &c.Challenge, &c.Device, &created, &expires, &used, &appName)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return ErrGrantRefused
		case err != nil:
			return err
		}
		c.CreatedAt, c.ExpiresAt = fromMillis(created), fromMillis(expires)
		switch {
		case used.Valid:
			reused = true
			return s.endAuthorization(ctx, tx, Actor{Email: OAuthCaller, IP: a.IP}, c.Device)
		case c.ClientID != clientID, c.RedirectURI != redirectURI, !now.Before(c.ExpiresAt):
			return ErrGrantRefused
		}
		g, err := issue(c)
		if err != nil {
			return err
		}
		if err := execOne(ctx, tx, ErrGrantRefused, `UPDATE oauth_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL`, now.UnixMilli(), codeHash); err != nil {
			return err
		}
		at := s.timestamp()
		if _, err := tx.ExecContext(ctx, `INSERT INTO oauth_authorizations (device_id, client_id, user_email, scopes, created_at) VALUES (?, ?, ?, ?, ?)`,
			c.Device, c.ClientID, c.Email, c.Scopes, at.UnixMilli()); err != nil {
			return err
		}
		if err := s.insertGrant(ctx, tx, c.Device, c.Email, at, g); err != nil {
			return err
		}
		caller, err := Actor{Email: c.Email, Device: c.Device}.caller()
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, "device.certify", at, schema.Fields{"user": c.Email, "device_type": TypeAPIClient,
			"device_id": c.Device, "device_name": appName, "caller": caller, "ip": a.IP})
	})
	if err := grantErr(err, reused, "redeem authorization code"); err != nil {
		return AuthCode{}, err
	}
	return c, nil
}

// grantErr is the outcome of a grant's transaction, which ended with
// err: ErrGrantRefused for a refusal, or for a reused code or refresh
// token (whose authorization the transaction ended); other errors
// wrapped with op.
func grantErr(err error, reused bool, op string) error {
	switch {
	case reused && err == nil, errors.Is(err, ErrGrantRefused):
		return ErrGrantRefused
	case err != nil:
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// insertGrant stores g's access token and refresh token for the
// authorization device of email.
func (s *Store) insertGrant(ctx context.Context, tx *metadb.Tx, device, email string, at time.Time, g Grant) error {
	t := g.Access
	if err := checkHash(t.Hash); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO access_tokens (token_hash, user_email, scopes, device_id, expires_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, t.Hash, email, t.Scopes, device, t.ExpiresAt.UnixMilli(), t.CreatedAt.UnixMilli()); err != nil {
		return err
	}
	if g.RefreshHash == "" {
		return nil
	}
	if err := checkHash(g.RefreshHash); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO oauth_refresh_tokens (token_hash, device_id, created_at) VALUES (?, ?, ?)`,
		g.RefreshHash, device, at.UnixMilli())
	return err
}

// Refresh exchanges the refresh token whose hash is refreshHash,
// presented by clientID at now, for a new grant (the refresh token
// rotates: the presented one stops working). issue makes the grant from
// the authorization. An unknown token, or one of another client, is
// ErrGrantRefused; a used one too, and its authorization ends with its
// tokens (device.unlink by OAuthCaller), committed.
func (s *Store) Refresh(ctx context.Context, a Actor, refreshHash, clientID string, now time.Time,
	issue func(Authorization) (Grant, error)) (Authorization, error) {
	if checkHash(refreshHash) != nil {
		return Authorization{}, ErrGrantRefused
	}
	var (
		au     Authorization
		reused bool
	)
	err := s.db.InTx(ctx, func(tx *metadb.Tx) error {
		reused = false
		var used sql.NullInt64
		var err error
		au, err = scanAuthorization(tx.QueryRowContext(ctx, `SELECT `+authorizationColumns+`, r.used_at
			FROM oauth_refresh_tokens r JOIN oauth_authorizations z ON z.device_id = r.device_id JOIN oauth_apps a ON a.client_id = z.client_id
			WHERE r.token_hash = ?`, refreshHash), &used)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return ErrGrantRefused
		case err != nil:
			return err
		case au.ClientID != clientID:
			return ErrGrantRefused
		case used.Valid:
			reused = true
			return s.endAuthorization(ctx, tx, Actor{Email: OAuthCaller, IP: a.IP}, au.Device)
		}
		g, err := issue(au)
		if err != nil {
			return err
		}
		if err := execOne(ctx, tx, ErrGrantRefused, `UPDATE oauth_refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL`, now.UnixMilli(), refreshHash); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM oauth_refresh_tokens WHERE device_id = ? AND used_at < ?`,
			au.Device, now.Add(-keepUsed).UnixMilli()); err != nil {
			return err
		}
		at := s.timestamp()
		if err := s.insertGrant(ctx, tx, au.Device, au.Email, at, g); err != nil {
			return err
		}
		caller, err := Actor{Email: au.Email, Device: au.Device}.caller()
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, "audit.oauth.refresh", at, schema.Fields{"caller": caller, "user": au.Email,
			"client_id": au.ClientID, "device": au.Device, "scope": g.Access.Scopes, "ip": a.IP})
	})
	if err := grantErr(err, reused, "refresh token"); err != nil {
		return Authorization{}, err
	}
	return au, nil
}

// endAuthorization deletes the authorization of device with its tokens
// and refresh tokens, in tx, and writes its device.unlink with a as the
// admin_user and caller (no caller for OAuthCaller). An authorization
// already gone writes nothing.
func (s *Store) endAuthorization(ctx context.Context, tx *metadb.Tx, a Actor, device string) error {
	var owner string
	err := tx.QueryRowContext(ctx, `SELECT user_email FROM oauth_authorizations WHERE device_id = ?`, device).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	} else if err != nil {
		return err
	}
	if err := execEach(ctx, tx, []string{
		`DELETE FROM access_tokens WHERE device_id = ?`,
		`DELETE FROM oauth_refresh_tokens WHERE device_id = ?`,
		`DELETE FROM oauth_authorizations WHERE device_id = ?`,
	}, device); err != nil {
		return err
	}
	fields := schema.Fields{"admin_user": a.Email, "device": device, "owner": owner, "ip": a.IP}
	if a.Email != OAuthCaller {
		caller, err := a.caller()
		if err != nil {
			return err
		}
		fields["caller"] = caller
	}
	return s.audit(ctx, tx, "device.unlink", s.timestamp(), fields)
}

// authorizationColumns are an Authorization's columns in
// authorizationTables (z the authorization, a its app), as
// scanAuthorization reads them.
const (
	authorizationColumns = `z.device_id, z.client_id, a.name, z.user_email, z.scopes, z.created_at`
	authorizationTables  = `oauth_authorizations z JOIN oauth_apps a ON a.client_id = z.client_id`
)

// scanAuthorization reads authorizationColumns, then more.
func scanAuthorization(row rowScanner, more ...any) (Authorization, error) {
	var au Authorization
	var created int64
	if err := row.Scan(append([]any{&au.Device, &au.ClientID, &au.AppName, &au.Email, &au.Scopes, &created}, more...)...); err != nil {
		return Authorization{}, err
	}
	au.CreatedAt = fromMillis(created)
	return au, nil
}

// UserAuthorizations returns the authorizations user gave, oldest first.
func (s *Store) UserAuthorizations(ctx context.Context, user string) ([]Authorization, error) {
	user, err := checkEmail("user", user)
	if err != nil {
		return nil, err
	}
	out, err := queryAll(ctx, s.db, func(row rowScanner) (Authorization, error) { return scanAuthorization(row) },
		`SELECT `+authorizationColumns+` FROM `+authorizationTables+` WHERE z.user_email = ? ORDER BY z.created_at, z.device_id`, user)
	if err != nil {
		return nil, fmt.Errorf("list authorizations of %s: %w", user, err)
	}
	return out, nil
}

// DeviceAuthorization returns the authorization whose device id is
// device; ErrNotFound for none (a token not issued through OAuth).
func (s *Store) DeviceAuthorization(ctx context.Context, device string) (Authorization, error) {
	au, err := scanAuthorization(s.db.QueryRowContext(ctx, `SELECT `+authorizationColumns+` FROM `+authorizationTables+` WHERE z.device_id = ?`, device))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Authorization{}, ErrNotFound
	case err != nil:
		return Authorization{}, fmt.Errorf("get authorization: %w", err)
	}
	return au, nil
}

// RevokeUserApp ends every authorization user gave the app clientID,
// with their tokens (a device.unlink each, a as admin_user and caller);
// ErrNotFound when there is none.
func (s *Store) RevokeUserApp(ctx context.Context, a Actor, user, clientID string) error {
	user, err := checkEmail("user", user)
	if err != nil {
		return err
	}
	id, err := checkClientID(clientID)
	if err != nil {
		return err
	}
	if _, err := a.caller(); err != nil {
		return err
	}
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		devices, err := queryAll(ctx, tx, func(row rowScanner) (string, error) {
			var d string
			err := row.Scan(&d)
			return d, err
		}, `SELECT device_id FROM oauth_authorizations WHERE user_email = ? AND client_id = ? ORDER BY created_at, device_id`, user, id)
		if err != nil {
			return err
		}
		if len(devices) == 0 {
			return ErrNotFound
		}
		for _, d := range devices {
			if err := s.endAuthorization(ctx, tx, a, d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("revoke app %s of %s: %w", id, user, err)
	}
	return nil
}

// RevokeOAuthToken ends the access or refresh token whose hash is hash,
// with its audit.oauth.revoke (a's ip; the token's user and device as
// the caller), and says whether there was one: an unknown token changes
// nothing and writes nothing. A refresh token's access tokens keep
// working until they expire or are revoked themselves.
func (s *Store) RevokeOAuthToken(ctx context.Context, a Actor, hash string) (bool, error) {
	if checkHash(hash) != nil {
		return false, nil
	}
	found := false
	err := s.db.InTx(ctx, func(tx *metadb.Tx) error {
		found = false
		for _, k := range []struct{ kind, find, del string }{
			{"access", `SELECT t.user_email, t.device_id, COALESCE(z.client_id, '') FROM access_tokens t
				LEFT JOIN oauth_authorizations z ON z.device_id = t.device_id WHERE t.token_hash = ?`,
				`DELETE FROM access_tokens WHERE token_hash = ?`},
			{"refresh", `SELECT z.user_email, r.device_id, z.client_id FROM oauth_refresh_tokens r
				JOIN oauth_authorizations z ON z.device_id = r.device_id WHERE r.token_hash = ?`,
				`DELETE FROM oauth_refresh_tokens WHERE token_hash = ?`},
		} {
			var user, device, client string
			err := tx.QueryRowContext(ctx, k.find, hash).Scan(&user, &device, &client)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			} else if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, k.del, hash); err != nil {
				return err
			}
			found = true
			caller, err := Actor{Email: user, Device: device}.caller()
			if err != nil {
				return err
			}
			if err := s.audit(ctx, tx, "audit.oauth.revoke", s.timestamp(), schema.Fields{"caller": caller, "user": user,
				"device": device, "kind": k.kind, "client_id": client, "ip": a.IP}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("revoke token: %w", err)
	}
	return found, nil
}

// DenyApp writes the audit.oauth.deny of user (a) denying clientID's
// request for scopes; nothing else changes.
func (s *Store) DenyApp(ctx context.Context, a Actor, clientID, scopes string) error {
	return s.record(ctx, "deny app", "audit.oauth.deny", func() (schema.Fields, error) {
		caller, err := a.caller()
		return schema.Fields{"caller": caller, "user": a.Email, "client_id": clientID, "scope": scopes, "ip": a.IP}, err
	})
}

// maxRefusedClientID bounds the client_id an audit.oauth.token.error
// quotes, in bytes.
const maxRefusedClientID = 64

// TokenRefused writes the audit.oauth.token.error of the token
// endpoint refusing clientID with the OAuth error code (invalid_client,
// invalid_grant), rateLimited when its limiter refused the attempt.
func (s *Store) TokenRefused(ctx context.Context, a Actor, clientID, code string, rateLimited bool) error {
	// The client_id is whatever the request said: kept short and
	// printable in the event.
	clientID = fitName(clientID)
	if len(clientID) > maxRefusedClientID {
		clientID = strings.ToValidUTF8(clientID[:maxRefusedClientID], "")
	}
	if clientID == "" {
		clientID = "-"
	}
	return s.record(ctx, "record refused token request", "audit.oauth.token.error", func() (schema.Fields, error) {
		f := schema.Fields{"client_id": clientID, "error": code, "ip": a.IP}
		if rateLimited {
			f["rate_limited"] = true
		}
		return f, nil
	})
}

// OIDCRefused writes the audit.oidc.refuse of a sign-in through the
// OpenID Connect issuer that was refused for reason (a fixed text, never
// a token); user is who the issuer named, if anyone.
func (s *Store) OIDCRefused(ctx context.Context, a Actor, user, reason string) error {
	return s.record(ctx, "record refused OpenID Connect sign-in", "audit.oidc.refuse", func() (schema.Fields, error) {
		f := schema.Fields{"reason": reason, "ip": a.IP}
		if user != "" {
			email, err := checkEmail("user", user)
			if err != nil {
				return nil, err
			}
			f["user"] = email
		}
		return f, nil
	})
}

// record writes one event that goes with no other change, in its own
// transaction; op names the action in an error.
func (s *Store) record(ctx context.Context, op, event string, fields func() (schema.Fields, error)) error {
	f, err := fields()
	if err == nil {
		err = s.db.InTx(ctx, func(tx *metadb.Tx) error { return s.audit(ctx, tx, event, s.timestamp(), f) })
	}
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}
