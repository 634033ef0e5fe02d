package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/vigilaudit/vigil/internal/metadb"
	"github.com/vigilaudit/vigil/schema"
)

// Role is what an API token may do.
type Role string

// The roles of API tokens.
const (
	// RoleAdmin manages devices and tokens and may use every API.
	RoleAdmin Role = "admin"
	// RoleAuditor reads: the query API and the dashboards.
	RoleAuditor Role = "auditor"
)

// Kind says what a credential belongs to.
type Kind int

// The kinds of credentials.
const (
	// KindDevice is a device's upload token or client certificate.
	KindDevice Kind = iota + 1
	// KindToken is an API token.
	KindToken
	// KindUser is a user of the content API signed in by a browser
	// session (the web console), acting with the role their account
	// gives them.
	KindUser
)

func (k Kind) String() string {
	switch k {
	case KindDevice:
		return "device"
	case KindToken:
		return "token"
	case KindUser:
		return "user"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Principal is who presented a credential.
type Principal struct {
	Kind Kind
	// UserID and DeviceID are set for devices: the device's owner (an
	// email address) and its 32-hex id. UserID is the signed-in user's
	// email for KindUser.
	UserID, DeviceID string
	// Role is set for API tokens, and for signed-in users who have one.
	Role Role
	// Name is the device's or the token's name; the user's email for
	// KindUser.
	Name string
}

// Caller returns the user id that audit events record for p's actions: the
// owner of a device, the signed-in user, or the pseudo-user ":token:NAME"
// of an API token.
func (p Principal) Caller() string {
	if p.Kind == KindToken {
		return tokenCallerPrefix + p.Name
	}
	return p.UserID
}

// tokenCallerPrefix starts the pseudo-user id of an API token.
const tokenCallerPrefix = ":token:"

// LocalCaller is the pseudo-user of actions taken on the data directory
// itself, without a server: "vigil admin --data-dir".
const LocalCaller = ":local"

// The errors callers branch on. Store methods wrap them with what they were
// doing; test with errors.Is.
var (
	ErrUnauthenticated = errors.New("unknown credential")
	ErrRevoked         = errors.New("credential revoked")
	ErrNotFound        = errors.New("not found")
	ErrExists          = errors.New("already exists")
)

// FieldError rejects an argument: Field names it as the admin API's JSON
// and the CLI's flags do ("user", "name", "role", "id", "caller").
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return "invalid " + e.Field + ": " + e.Reason }

// Device is a registered device. Its upload token is never kept, only its
// hash.
type Device struct {
	ID        string     `json:"device_id"`
	UserID    string     `json:"user"`
	Name      string     `json:"name"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
	// LastSeq is the highest event sequence number the device uploaded,
	// SeqGaps how many times its sequence skipped numbers.
	LastSeq int64 `json:"last_seq"`
	SeqGaps int64 `json:"seq_gaps"`
	// LastSeen is when the device last authenticated, to the minute.
	LastSeen *time.Time `json:"last_seen"`
}

// Token is an API token. The secret itself is never kept, only its hash.
type Token struct {
	Name      string     `json:"name"`
	Role      Role       `json:"role"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
	// LastUsed is when the token last authenticated, to the minute.
	LastUsed *time.Time `json:"last_used"`
}

const (
	// touchEvery bounds the writes that record when a credential was last
	// used: at most one per credential per period.
	touchEvery = time.Minute
	// secretBytes is the size of a token's random secret.
	secretBytes = 32
	// maxNameLen bounds device names, in bytes.
	maxNameLen = 200
)

// Store is the credential store, in the metadata database. It is safe
// for concurrent use, and several processes may open the same database.
type Store struct {
	db *metadb.DB
	// owned says that Close closes db: Open's store.
	owned bool
	now   func() time.Time
}

// Open opens the store in the SQLite file at path, creating it (mode 0600)
// and applying schema migrations as needed. The directory must exist.
// Close closes the file.
func Open(path string) (*Store, error) {
	db, err := metadb.OpenSQLite(path)
	if err != nil {
		return nil, err
	}
	s, err := New(context.Background(), db)
	if err != nil {
		_ = db.Close() // the migration error is the one to report
		return nil, err
	}
	s.owned = true
	return s, nil
}

// New returns the store in db, applying its schema migrations (component
// "auth") as needed. The caller keeps db: the store's Close leaves it
// open.
func New(ctx context.Context, db *metadb.DB) (*Store, error) {
	s := &Store{db: db, now: time.Now}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	if err := s.migrateDevices(ctx); err != nil {
		return nil, err
	}
	if err := s.migrateProvision(ctx); err != nil {
		return nil, err
	}
	if err := s.migrateSecurity(ctx); err != nil {
		return nil, err
	}
	if err := s.migrateOrg(ctx); err != nil {
		return nil, err
	}
	if err := s.migrateOAuth(ctx); err != nil {
		return nil, err
	}
	if err := s.migrateRoles(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Close closes the database if the store opened it (Open).
func (s *Store) Close() error {
	if !s.owned {
		return nil
	}
	return s.db.Close()
}

// Ping checks that the database answers, for readiness checks.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.db.QueryRowContext(ctx, `SELECT 1 FROM devices LIMIT 1`).Scan(&one); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("ping auth store: %w", err)
	}
	return nil
}

// Authenticate returns who token belongs to: a device or an API token. It
// returns ErrUnauthenticated for an unknown token and ErrRevoked for a
// revoked one.
func (s *Store) Authenticate(ctx context.Context, token string) (Principal, error) {
	if !isSecret(token) {
		return Principal{}, ErrUnauthenticated // not one of ours; spare the lookup
	}
	h := hashSecret(token)
	var (
		p            Principal
		revoked, use sql.NullInt64
	)
	err := s.db.QueryRowContext(ctx, `
		SELECT 1, id, user_email, '', name, revoked_at, last_seen FROM devices WHERE token_hash = ?1
		UNION ALL
		SELECT 2, '', '', role, name, revoked_at, last_used FROM tokens WHERE token_hash = ?1`, h,
	).Scan(&p.Kind, &p.DeviceID, &p.UserID, &p.Role, &p.Name, &revoked, &use)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Principal{}, ErrUnauthenticated
	case err != nil:
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	case revoked.Valid && p.Kind == KindDevice:
		return Principal{}, s.revokedDevice(ctx, p.DeviceID)
	case revoked.Valid:
		return Principal{}, ErrRevoked
	}
	if p.Kind == KindDevice {
		s.touch(ctx, `UPDATE devices SET last_seen = ?1 WHERE id = ?2 AND (last_seen IS NULL OR last_seen <= ?3)`, p.DeviceID, use)
	} else {
		s.touch(ctx, `UPDATE tokens SET last_used = ?1 WHERE name = ?2 AND (last_used IS NULL OR last_used <= ?3)`, p.Name, use)
	}
	return p, nil
}

// DeviceByID returns the device whose id is id, for TLS client
// certificates whose common name is the device id. It returns
// ErrUnauthenticated for an unknown device and ErrRevoked for a revoked
// one.
func (s *Store) DeviceByID(ctx context.Context, id string) (Principal, error) {
	id, ok := normalizeID(id)
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	p := Principal{Kind: KindDevice, DeviceID: id}
	var revoked, seen sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT user_email, name, revoked_at, last_seen FROM devices WHERE id = ?`, id).
		Scan(&p.UserID, &p.Name, &revoked, &seen)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Principal{}, ErrUnauthenticated
	case err != nil:
		return Principal{}, fmt.Errorf("look up device %s: %w", id, err)
	case revoked.Valid:
		return Principal{}, s.revokedDevice(ctx, id)
	}
	s.touch(ctx, `UPDATE devices SET last_seen = ?1 WHERE id = ?2 AND (last_seen IS NULL OR last_seen <= ?3)`, id, seen)
	return p, nil
}

// touch records that a credential was used, when its last record (last,
// as read) is older than touchEvery. The condition in query repeats the
// check, so concurrent requests write at most once. It is best effort: a
// failure (the database busy past the timeout, the request gone) only
// delays the record to a later request, and must not deny the request.
func (s *Store) touch(ctx context.Context, query, key string, last sql.NullInt64) {
	now := s.now()
	if last.Valid && now.Sub(time.UnixMilli(last.Int64)) < touchEvery {
		return
	}
	_, _ = s.db.ExecContext(ctx, query, now.UnixMilli(), key, now.Add(-touchEvery).UnixMilli())
}

// AddDevice registers a device named name for user (an email address),
// creating the user if absent, and returns it with its upload token. The
// token is not kept and cannot be shown again. caller is the user id the
// audit event records.
func (s *Store) AddDevice(ctx context.Context, caller, user, name string) (Device, string, error) {
	caller, err := checkCaller(caller)
	if err != nil {
		return Device{}, "", err
	}
	if user, err = checkEmail("user", user); err != nil {
		return Device{}, "", err
	}
	if name, err = checkDeviceName(name); err != nil {
		return Device{}, "", err
	}
	token, hash := newSecret()
	d := Device{ID: newDeviceID(), UserID: user, Name: name, CreatedAt: s.timestamp()}
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO users (email, created_at) VALUES (?, ?) ON CONFLICT (email) DO NOTHING`,
			user, d.CreatedAt.UnixMilli()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO devices (id, user_email, name, token_hash, created_at) VALUES (?, ?, ?, ?, ?)`,
			d.ID, user, name, hash, d.CreatedAt.UnixMilli()); err != nil {
			return err
		}
		return s.audit(ctx, tx, "audit.device.add", d.CreatedAt, schema.Fields{"caller": caller, "user": user, "device": d.ID, "name": name})
	})
	if err != nil {
		return Device{}, "", fmt.Errorf("add device for %s: %w", user, err)
	}
	return d, token, nil
}

// ListDevices returns every device, revoked ones included, oldest first.
func (s *Store) ListDevices(ctx context.Context) ([]Device, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT id, user_email, name, created_at, revoked_at, last_seq, seq_gaps, last_seen
		FROM devices ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	defer rows.Close()
	devices := []Device{}
	for rows.Next() {
		var (
			d             Device
			created       int64
			revoked, seen sql.NullInt64
		)
		if err := rows.Scan(&d.ID, &d.UserID, &d.Name, &created, &revoked, &d.LastSeq, &d.SeqGaps, &seen); err != nil {
			return nil, fmt.Errorf("list devices: %w", err)
		}
		d.CreatedAt, d.RevokedAt, d.LastSeen = fromMillis(created), optMillis(revoked), optMillis(seen)
		devices = append(devices, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	return devices, nil
}

// RevokeDevice revokes the device's upload token (and its client
// certificate). It returns ErrNotFound for an unknown device and ErrRevoked
// for one already revoked.
func (s *Store) RevokeDevice(ctx context.Context, caller, id string) error {
	caller, err := checkCaller(caller)
	if err != nil {
		return err
	}
	nid, ok := normalizeID(id)
	if !ok {
		return &FieldError{Field: "id", Reason: fmt.Sprintf("%q is not a device id (32 hex digits)", id)}
	}
	now := s.timestamp()
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		var (
			user    string
			revoked sql.NullInt64
		)
		err := tx.QueryRowContext(ctx, `SELECT user_email, revoked_at FROM devices WHERE id = ?`+tx.Dialect().ForUpdate(), nid).Scan(&user, &revoked)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return ErrNotFound
		case err != nil:
			return err
		case revoked.Valid:
			return ErrRevoked
		}
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET revoked_at = ? WHERE id = ?`, now.UnixMilli(), nid); err != nil {
			return err
		}
		return s.audit(ctx, tx, "audit.device.revoke", now, schema.Fields{"caller": caller, "device": nid, "user": user})
	})
	if err != nil {
		return fmt.Errorf("revoke device %s: %w", nid, err)
	}
	return nil
}

// AddToken issues an API token with role, named name, and returns it with
// its secret. The secret is not kept and cannot be shown again. Names are
// unique for good, revoked tokens included, so that audit events naming a
// token (":token:NAME") stay unambiguous; ErrExists rejects a taken name.
func (s *Store) AddToken(ctx context.Context, caller string, role Role, name string) (Token, string, error) {
	caller, err := checkCaller(caller)
	if err != nil {
		return Token{}, "", err
	}
	if err := checkRole(role); err != nil {
		return Token{}, "", err
	}
	if err := checkTokenName(name); err != nil {
		return Token{}, "", err
	}
	secret, hash := newSecret()
	t := Token{Name: name, Role: role, CreatedAt: s.timestamp()}
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM tokens WHERE name = ?`, name).Scan(&one)
		switch {
		case err == nil:
			return ErrExists
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO tokens (name, role, token_hash, created_at) VALUES (?, ?, ?, ?)`,
			name, string(role), hash, t.CreatedAt.UnixMilli()); err != nil {
			if metadb.IsUniqueViolation(err) {
				// Added since the check, by a concurrent transaction
				// (PostgreSQL; SQLite's hold the whole file).
				return ErrExists
			}
			return err
		}
		return s.audit(ctx, tx, "audit.token.add", t.CreatedAt, schema.Fields{"caller": caller, "name": name, "role": string(role)})
	})
	if err != nil {
		return Token{}, "", fmt.Errorf("add token %s: %w", name, err)
	}
	return t, secret, nil
}

// ListTokens returns every API token, revoked ones included, oldest first.
func (s *Store) ListTokens(ctx context.Context) ([]Token, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, role, created_at, revoked_at, last_used FROM tokens ORDER BY created_at, name`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	tokens := []Token{}
	for rows.Next() {
		var (
			t             Token
			created       int64
			revoked, used sql.NullInt64
		)
		if err := rows.Scan(&t.Name, &t.Role, &created, &revoked, &used); err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		t.CreatedAt, t.RevokedAt, t.LastUsed = fromMillis(created), optMillis(revoked), optMillis(used)
		tokens = append(tokens, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return tokens, nil
}

// RevokeToken revokes the API token named name. It returns ErrNotFound for
// an unknown name and ErrRevoked for a token already revoked.
func (s *Store) RevokeToken(ctx context.Context, caller, name string) error {
	caller, err := checkCaller(caller)
	if err != nil {
		return err
	}
	if err := checkTokenName(name); err != nil {
		return err
	}
	now := s.timestamp()
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		var revoked sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT revoked_at FROM tokens WHERE name = ?`+tx.Dialect().ForUpdate(), name).Scan(&revoked)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return ErrNotFound
		case err != nil:
			return err
		case revoked.Valid:
			return ErrRevoked
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = ? WHERE name = ?`, now.UnixMilli(), name); err != nil {
			return err
		}
		return s.audit(ctx, tx, "audit.token.revoke", now, schema.Fields{"caller": caller, "name": name})
	})
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", name, err)
	}
	return nil
}

// timestamp returns the current time as the store keeps it: UTC,
// milliseconds.
func (s *Store) timestamp() time.Time {
	return s.now().UTC().Truncate(time.Millisecond)
}

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func optMillis(ms sql.NullInt64) *time.Time {
	if !ms.Valid {
		return nil
	}
	t := fromMillis(ms.Int64)
	return &t
}

// newSecret returns a fresh token and the hash the store keeps of it.
func newSecret() (token string, hash []byte) {
	b := make([]byte, secretBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails; it crashes the program instead
	token = hex.EncodeToString(b)
	return token, hashSecret(token)
}

// hashSecret returns what the store keeps of a token. A plain SHA-256 is
// right here, unlike for passwords: a token is 256 random bits, so there is
// no dictionary to try and brute force is out of reach however fast the
// hash is, while a deliberately slow hash (bcrypt, argon2) would cost every
// request its time and could not be looked up by value.
func hashSecret(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// isSecret reports whether s has the form of a token: 64 lower-case hex
// digits.
func isSecret(s string) bool {
	return len(s) == 2*secretBytes && isLowerHex(s)
}

// newDeviceID returns a fresh device id: 16 random bytes in lower-case hex.
func newDeviceID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails, see newSecret
	return hex.EncodeToString(b)
}

// normalizeID returns a device id in lower case, and whether it is one: 32
// hex digits.
func normalizeID(id string) (string, bool) {
	if len(id) != 32 {
		return "", false
	}
	b := []byte(id)
	for i, c := range b {
		if c >= 'A' && c <= 'F' {
			b[i] = c + 'a' - 'A'
		}
	}
	if !isLowerHex(string(b)) {
		return "", false
	}
	return string(b), true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
