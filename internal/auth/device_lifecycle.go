package auth

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigilaudit/vigil/internal/metadb"
	"github.com/vigilaudit/vigil/schema"
)

// The device lifecycle of the content API: certification (desktop
// clients, Team Servers, mobile apps through a one-time access code),
// sign-in and recertification with the device credential, rename, unlink
// and remote erase. A certified device is a device of the devices table,
// its credential the upload token that ingest and "vigil agent" accept;
// unlinking or erasing it revokes that token at once. Each action writes
// its DEVICE event into the outbox in the action's transaction.

// The device types the content API certifies, as the catalog's
// device_type spells them.
const (
	TypeDesktopClient = "Desktop Client"
	TypeTeamServer    = "Team Server"
	TypeMobileApp     = "Mobile App"
)

// Removal says why a device's credential stopped working at its owner's
// or an administrator's request.
type Removal string

// The removals.
const (
	// RemovalUnlinked devices keep their files and stop syncing.
	RemovalUnlinked Removal = "unlinked"
	// RemovalErased devices wipe their synced folder.
	RemovalErased Removal = "erased"
)

// Errors of the device lifecycle callers branch on.
var (
	// ErrCodeRefused refuses a mobile access code: unknown, expired or
	// already used.
	ErrCodeRefused = errors.New("access code refused")
	// ErrOtherDevice refuses a device credential used for another
	// device's id.
	ErrOtherDevice = errors.New("credential of another device")
)

// RevokedError is ErrRevoked for a device, saying why its credential was
// revoked: unlinked, erased, or (Removal empty) revoked by an admin. The
// device learns it on its next call.
type RevokedError struct {
	Removal Removal
}

func (e *RevokedError) Error() string {
	if e.Removal == "" {
		return ErrRevoked.Error()
	}
	return "device " + string(e.Removal)
}

// Is makes a RevokedError ErrRevoked.
func (e *RevokedError) Is(target error) bool { return target == ErrRevoked }

// DeviceInfo is a device with what certification records of it.
type DeviceInfo struct {
	Device
	// Type is the catalog's device_type.
	Type     string `json:"device_type"`
	OSFamily string `json:"os_family"`
	OSName   string `json:"os_name"`
	// Removal is set once the device was unlinked or erased.
	Removal Removal `json:"removal,omitempty"`
}

// Linked says whether the device's credential still works.
func (d DeviceInfo) Linked() bool { return d.RevokedAt == nil }

// NewDevice is what CertifyDevice and CertifyMobile make.
type NewDevice struct {
	// Owner is the device's user (CertifyMobile takes the code's).
	Owner string
	Name  string
	// Type is TypeDesktopClient when empty (CertifyMobile sets
	// TypeMobileApp).
	Type             string
	OSFamily, OSName string
}

const (
	// maxOSLen bounds os_family and os_name, in bytes.
	maxOSLen = 100
	// codeBytes is the size of a mobile access code's random secret.
	codeBytes = 16
	// keepCodes is how long used and expired access codes are kept, so
	// that a refusal names the code's user.
	keepCodes = 24 * time.Hour
)

// deviceMigrations are the schema's versions of component "devices",
// applied after "auth"'s: migrations[i] takes it from version i to i+1.
// Append only.
var deviceMigrations = []metadb.Migration{
	// 1: what certification records of a device (devices made before it
	// are desktop clients), why its credential was revoked, and the
	// one-time access codes of the mobile flow, kept by their SHA-256.
	{
		SQLite: `ALTER TABLE devices ADD COLUMN device_type TEXT NOT NULL DEFAULT 'Desktop Client';
	ALTER TABLE devices ADD COLUMN os_family TEXT NOT NULL DEFAULT '';
	ALTER TABLE devices ADD COLUMN os_name TEXT NOT NULL DEFAULT '';
	ALTER TABLE devices ADD COLUMN removal TEXT CHECK (removal IN ('unlinked', 'erased'));
	CREATE TABLE device_access_codes (
		code_hash  BLOB PRIMARY KEY,
		user_email TEXT NOT NULL REFERENCES users (email),
		created_at INTEGER NOT NULL,
		expires_at INTEGER NOT NULL,
		used_at    INTEGER
	) STRICT;
	CREATE INDEX device_access_codes_expiry ON device_access_codes (expires_at);`,
		Postgres: `ALTER TABLE devices ADD COLUMN device_type TEXT NOT NULL DEFAULT 'Desktop Client';
	ALTER TABLE devices ADD COLUMN os_family TEXT NOT NULL DEFAULT '';
	ALTER TABLE devices ADD COLUMN os_name TEXT NOT NULL DEFAULT '';
	ALTER TABLE devices ADD COLUMN removal TEXT CHECK (removal IN ('unlinked', 'erased'));
	CREATE TABLE device_access_codes (
		code_hash  BYTEA PRIMARY KEY,
		user_email TEXT NOT NULL REFERENCES users (email),
		created_at BIGINT NOT NULL,
		expires_at BIGINT NOT NULL,
		used_at    BIGINT
	);
	CREATE INDEX device_access_codes_expiry ON device_access_codes (expires_at);`,
	},
}

// deviceComponent is the device lifecycle's schema for the migration
// runner.
var deviceComponent = metadb.Component{Name: "devices", Migrations: deviceMigrations}

// migrateDevices brings the devices component to its newest version.
func (s *Store) migrateDevices(ctx context.Context) error {
	return s.db.Migrate(ctx, deviceComponent)
}

const deviceColumns = `id, user_email, name, created_at, revoked_at, last_seq, seq_gaps, last_seen, device_type, os_family, os_name, removal`

func scanDevice(row rowScanner) (DeviceInfo, error) {
	var (
		d                     DeviceInfo
		created               int64
		revoked, seen         sql.NullInt64
		removal               sql.NullString
		typ, osFamily, osName string
	)
	if err := row.Scan(&d.ID, &d.UserID, &d.Name, &created, &revoked, &d.LastSeq, &d.SeqGaps, &seen, &typ, &osFamily, &osName, &removal); err != nil {
		return DeviceInfo{}, err
	}
	d.CreatedAt, d.RevokedAt, d.LastSeen = fromMillis(created), optMillis(revoked), optMillis(seen)
	d.Type, d.OSFamily, d.OSName, d.Removal = typ, osFamily, osName, Removal(removal.String)
	return d, nil
}

// DeviceInfo returns the device whose id is id, linked or not;
// ErrNotFound for none.
func (s *Store) DeviceInfo(ctx context.Context, id string) (DeviceInfo, error) {
	nid, err := checkDeviceID(id)
	if err != nil {
		return DeviceInfo{}, err
	}
	d, err := scanDevice(s.db.QueryRowContext(ctx, `SELECT `+deviceColumns+` FROM devices WHERE id = ?`, nid))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return DeviceInfo{}, fmt.Errorf("get device %s: %w", nid, ErrNotFound)
	case err != nil:
		return DeviceInfo{}, fmt.Errorf("get device %s: %w", nid, err)
	}
	return d, nil
}

// UserDevices returns the linked devices of user, oldest first.
func (s *Store) UserDevices(ctx context.Context, user string) ([]DeviceInfo, error) {
	user, err := checkEmail("user", user)
	if err != nil {
		return nil, err
	}
	out, err := queryAll(ctx, s.db, scanDevice, `SELECT `+deviceColumns+` FROM devices
		WHERE user_email = ? AND revoked_at IS NULL ORDER BY created_at, id`, user)
	if err != nil {
		return nil, fmt.Errorf("list devices of %s: %w", user, err)
	}
	return out, nil
}

// CertifyDevice certifies a desktop client or a Team Server for nd.Owner
// (created if absent, as AddDevice does), and returns it with its
// credential, which is not kept and cannot be shown again
// (device.certify).
func (s *Store) CertifyDevice(ctx context.Context, a Actor, nd NewDevice) (DeviceInfo, string, error) {
	caller, err := a.caller()
	if err != nil {
		return DeviceInfo{}, "", err
	}
	if nd.Owner, err = checkEmail("owner", nd.Owner); err != nil {
		return DeviceInfo{}, "", err
	}
	if nd, err = checkNewDevice(nd); err != nil {
		return DeviceInfo{}, "", err
	}
	var d DeviceInfo
	var token string
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		var err error
		if d, token, err = s.insertDevice(ctx, tx, nd); err != nil {
			return err
		}
		return s.audit(ctx, tx, "device.certify", d.CreatedAt, certifyFields(d, caller, a.IP))
	})
	if err != nil {
		return DeviceInfo{}, "", fmt.Errorf("certify device for %s: %w", nd.Owner, err)
	}
	return d, token, nil
}

// insertDevice adds the device of nd (checked) and its owner if absent.
func (s *Store) insertDevice(ctx context.Context, tx *metadb.Tx, nd NewDevice) (DeviceInfo, string, error) {
	token, hash := newSecret()
	d := DeviceInfo{Device: Device{ID: newDeviceID(), UserID: nd.Owner, Name: nd.Name, CreatedAt: s.timestamp()},
		Type: nd.Type, OSFamily: nd.OSFamily, OSName: nd.OSName}
	if _, err := tx.ExecContext(ctx, `INSERT INTO users (email, created_at) VALUES (?, ?) ON CONFLICT (email) DO NOTHING`,
		d.UserID, d.CreatedAt.UnixMilli()); err != nil {
		return DeviceInfo{}, "", err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO devices (id, user_email, name, token_hash, created_at, device_type, os_family, os_name)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, d.ID, d.UserID, d.Name, hash, d.CreatedAt.UnixMilli(), d.Type, d.OSFamily, d.OSName); err != nil {
		return DeviceInfo{}, "", err
	}
	return d, token, nil
}

func certifyFields(d DeviceInfo, caller json.RawMessage, ip string) schema.Fields {
	return schema.Fields{"user": d.UserID, "device_type": d.Type, "device_id": d.ID, "device_name": d.Name,
		"os_family": d.OSFamily, "os_name": d.OSName, "caller": caller, "ip": ip}
}

// IssueAccessCode issues a one-time code, valid for ttl, with which a
// mobile app of a.Email certifies itself (CertifyMobile). The code is
// not kept and cannot be shown again. qr says the code is shown as a QR
// code (device.mobile.code) rather than as text (device.access.code, with
// its timeout).
func (s *Store) IssueAccessCode(ctx context.Context, a Actor, qr bool, ttl time.Duration) (string, time.Time, error) {
	caller, err := a.caller()
	if err != nil {
		return "", time.Time{}, err
	}
	user, err := checkEmail("user", a.Email)
	if err != nil {
		return "", time.Time{}, err
	}
	if ttl < time.Second {
		return "", time.Time{}, &FieldError{Field: "timeout", Reason: "shorter than a second"}
	}
	b := make([]byte, codeBytes)
	_, _ = rand.Read(b) // never fails, see newSecret
	code := hex.EncodeToString(b)
	now := s.timestamp()
	expires := now.Add(ttl)
	event, fields := "device.access.code", schema.Fields{"user": user, "timeout": int64(ttl / time.Second), "caller": caller, "ip": a.IP}
	if qr {
		event, fields = "device.mobile.code", schema.Fields{"user": user, "caller": caller, "ip": a.IP}
	}
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM device_access_codes WHERE expires_at < ?`, now.Add(-keepCodes).UnixMilli()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO users (email, created_at) VALUES (?, ?) ON CONFLICT (email) DO NOTHING`,
			user, now.UnixMilli()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO device_access_codes (code_hash, user_email, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			hashSecret(code), user, now.UnixMilli(), expires.UnixMilli()); err != nil {
			return err
		}
		return s.audit(ctx, tx, event, now, fields)
	})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issue access code for %s: %w", user, err)
	}
	return code, expires, nil
}

// CertifyMobile certifies a mobile app with a one-time access code, for
// the code's user, and returns it with its credential (device.certify,
// device.mobile.authenticate). A code that is unknown, expired or used is
// ErrCodeRefused; an expired or used one also records the refusal
// (device.mobile.error), committed although nothing else changes.
func (s *Store) CertifyMobile(ctx context.Context, ip, code string, nd NewDevice) (DeviceInfo, string, error) {
	nd.Type = TypeMobileApp
	nd, err := checkNewDevice(nd)
	if err != nil {
		return DeviceInfo{}, "", err
	}
	if len(code) != 2*codeBytes || !isLowerHex(code) {
		return DeviceInfo{}, "", ErrCodeRefused
	}
	var (
		d       DeviceInfo
		token   string
		refused bool
	)
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		refused = false
		var (
			user    string
			expires int64
			used    sql.NullInt64
		)
		err := tx.QueryRowContext(ctx, `SELECT user_email, expires_at, used_at FROM device_access_codes WHERE code_hash = ?`+tx.Dialect().ForUpdate(),
			hashSecret(code)).Scan(&user, &expires, &used)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return ErrCodeRefused
		case err != nil:
			return err
		}
		now := s.timestamp()
		if used.Valid || !now.Before(fromMillis(expires)) {
			refused = true
			return s.audit(ctx, tx, "device.mobile.error", now, schema.Fields{"user": user, "ip": ip})
		}
		if _, err := tx.ExecContext(ctx, `UPDATE device_access_codes SET used_at = ? WHERE code_hash = ?`, now.UnixMilli(), hashSecret(code)); err != nil {
			return err
		}
		nd.Owner = user
		if d, token, err = s.insertDevice(ctx, tx, nd); err != nil {
			return err
		}
		caller, err := Actor{Email: user, Device: d.ID}.caller()
		if err != nil {
			return err
		}
		if err := s.audit(ctx, tx, "device.certify", d.CreatedAt, certifyFields(d, caller, ip)); err != nil {
			return err
		}
		return s.audit(ctx, tx, "device.mobile.authenticate", d.CreatedAt,
			schema.Fields{"user": user, "device": d.ID, "caller": caller, "ip": ip})
	})
	switch {
	case errors.Is(err, ErrCodeRefused) || err == nil && refused:
		return DeviceInfo{}, "", ErrCodeRefused
	case err != nil:
		return DeviceInfo{}, "", fmt.Errorf("certify mobile device: %w", err)
	}
	return d, token, nil
}

// SignInDevice signs a device in with its credential and records when
// (device.signin). An unknown credential is ErrUnauthenticated, a revoked
// one a *RevokedError saying why.
func (s *Store) SignInDevice(ctx context.Context, token, ip string) (DeviceInfo, error) {
	var d DeviceInfo
	err := s.db.InTx(ctx, func(tx *metadb.Tx) error {
		var err error
		if d, err = deviceByToken(ctx, tx, token); err != nil {
			return err
		}
		now := s.timestamp()
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET last_seen = ? WHERE id = ?`, now.UnixMilli(), d.ID); err != nil {
			return err
		}
		d.LastSeen = &now
		caller, err := Actor{Email: d.UserID, Device: d.ID}.caller()
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, "device.signin", now, schema.Fields{"user": d.UserID, "device_id": d.ID, "ip": ip, "caller": caller})
	})
	if err != nil {
		return DeviceInfo{}, fmt.Errorf("sign device in: %w", err)
	}
	return d, nil
}

// RecertifyDevice replaces the credential of device id, presented by the
// device itself, with a new one, returned once: the old one stops
// working (device.recertify; user.device.recertify for a Team Server, as
// the original service named it). A credential of another device is
// ErrOtherDevice.
func (s *Store) RecertifyDevice(ctx context.Context, token, id, ip string) (DeviceInfo, string, error) {
	nid, err := checkDeviceID(id)
	if err != nil {
		return DeviceInfo{}, "", err
	}
	var (
		d        DeviceInfo
		newToken string
	)
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		var err error
		if d, err = deviceByToken(ctx, tx, token); err != nil {
			return err
		}
		if d.ID != nid {
			return ErrOtherDevice
		}
		var hash []byte
		newToken, hash = newSecret()
		now := s.timestamp()
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET token_hash = ?, last_seen = ? WHERE id = ?`, hash, now.UnixMilli(), d.ID); err != nil {
			return err
		}
		d.LastSeen = &now
		caller, err := Actor{Email: d.UserID, Device: d.ID}.caller()
		if err != nil {
			return err
		}
		event := "device.recertify"
		if d.Type == TypeTeamServer {
			event = "user.device.recertify"
		}
		return s.audit(ctx, tx, event, now, schema.Fields{"user": d.UserID, "device": d.ID, "device_type": d.Type, "caller": caller, "ip": ip})
	})
	if err != nil {
		return DeviceInfo{}, "", fmt.Errorf("recertify device %s: %w", nid, err)
	}
	return d, newToken, nil
}

// deviceByToken reads the device whose credential is token, for an
// action of the device itself.
func deviceByToken(ctx context.Context, tx *metadb.Tx, token string) (DeviceInfo, error) {
	if !isSecret(token) {
		return DeviceInfo{}, ErrUnauthenticated
	}
	d, err := scanDevice(tx.QueryRowContext(ctx, `SELECT `+deviceColumns+` FROM devices WHERE token_hash = ?`+tx.Dialect().ForUpdate(), hashSecret(token)))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return DeviceInfo{}, ErrUnauthenticated
	case err != nil:
		return DeviceInfo{}, err
	case !d.Linked():
		return DeviceInfo{}, &RevokedError{Removal: d.Removal}
	}
	return d, nil
}

// RenameDevice renames a linked device (audit.device.rename: the catalog
// has no DEVICE event for it). An unknown or revoked device is
// ErrNotFound.
func (s *Store) RenameDevice(ctx context.Context, a Actor, id, name string) (DeviceInfo, error) {
	caller, err := a.caller()
	if err != nil {
		return DeviceInfo{}, err
	}
	nid, err := checkDeviceID(id)
	if err != nil {
		return DeviceInfo{}, err
	}
	if name, err = checkDeviceName(name); err != nil {
		return DeviceInfo{}, err
	}
	var d DeviceInfo
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		var err error
		if d, err = linkedDevice(ctx, tx, nid); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET name = ? WHERE id = ?`, name, nid); err != nil {
			return err
		}
		d.Name = name
		return s.audit(ctx, tx, "audit.device.rename", s.timestamp(),
			schema.Fields{"caller": caller, "device": nid, "name": name, "user": d.UserID, "ip": a.IP})
	})
	if err != nil {
		return DeviceInfo{}, fmt.Errorf("rename device %s: %w", nid, err)
	}
	return d, nil
}

// RemoveDevice unlinks (device.unlink) or erases (device.erase) a linked
// device at a.Email's request: its credential stops working at once, for
// ingest too, and the device learns why on its next call (RevokedError).
// An unknown or revoked device is ErrNotFound.
func (s *Store) RemoveDevice(ctx context.Context, a Actor, id string, how Removal) (DeviceInfo, error) {
	caller, err := a.caller()
	if err != nil {
		return DeviceInfo{}, err
	}
	nid, err := checkDeviceID(id)
	if err != nil {
		return DeviceInfo{}, err
	}
	admin, err := checkCaller(a.Email)
	if err != nil {
		return DeviceInfo{}, err
	}
	verb := map[Removal]string{RemovalUnlinked: "unlink", RemovalErased: "erase"}[how]
	if verb == "" {
		return DeviceInfo{}, &FieldError{Field: "removal", Reason: fmt.Sprintf("%q: must be %s or %s", how, RemovalUnlinked, RemovalErased)}
	}
	var d DeviceInfo
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		var err error
		if d, err = linkedDevice(ctx, tx, nid); err != nil {
			return err
		}
		now := s.timestamp()
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET revoked_at = ?, removal = ? WHERE id = ?`, now.UnixMilli(), string(how), nid); err != nil {
			return err
		}
		d.RevokedAt, d.Removal = &now, how
		return s.audit(ctx, tx, "device."+verb, now, schema.Fields{"admin_user": admin, "device": nid, "owner": d.UserID, "caller": caller, "ip": a.IP})
	})
	if err != nil {
		return DeviceInfo{}, fmt.Errorf("%s device %s: %w", verb, nid, err)
	}
	return d, nil
}

// linkedDevice reads a device for an update; ErrNotFound when it is
// unknown or its credential revoked.
func linkedDevice(ctx context.Context, tx *metadb.Tx, id string) (DeviceInfo, error) {
	d, err := scanDevice(tx.QueryRowContext(ctx, `SELECT `+deviceColumns+` FROM devices WHERE id = ?`+tx.Dialect().ForUpdate(), id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return DeviceInfo{}, ErrNotFound
	case err != nil:
		return DeviceInfo{}, err
	case !d.Linked():
		return DeviceInfo{}, ErrNotFound
	}
	return d, nil
}

// revokedDevice says why the credential of device id was revoked, for
// Authenticate and DeviceByID. A failed read still answers revoked.
func (s *Store) revokedDevice(ctx context.Context, id string) error {
	var removal sql.NullString
	_ = s.db.QueryRowContext(ctx, `SELECT removal FROM devices WHERE id = ?`, id).Scan(&removal) // best effort: the device is revoked either way
	return &RevokedError{Removal: Removal(removal.String)}
}

func checkDeviceID(id string) (string, error) {
	nid, ok := normalizeID(id)
	if !ok {
		return "", &FieldError{Field: "id", Reason: fmt.Sprintf("%q is not a device id (32 hex digits)", id)}
	}
	return nid, nil
}

// checkNewDevice checks and trims what certification records.
func checkNewDevice(nd NewDevice) (NewDevice, error) {
	var err error
	if nd.Name, err = checkDeviceName(nd.Name); err != nil {
		return NewDevice{}, err
	}
	switch strings.ToLower(strings.TrimSpace(nd.Type)) {
	case "", strings.ToLower(TypeDesktopClient):
		nd.Type = TypeDesktopClient
	case strings.ToLower(TypeTeamServer):
		nd.Type = TypeTeamServer
	case strings.ToLower(TypeMobileApp):
		nd.Type = TypeMobileApp
	default:
		return NewDevice{}, &FieldError{Field: "device_type", Reason: fmt.Sprintf("%q: must be %s, %s or %s", nd.Type, TypeDesktopClient, TypeTeamServer, TypeMobileApp)}
	}
	if nd.OSFamily, err = checkOS("os_family", nd.OSFamily); err != nil {
		return NewDevice{}, err
	}
	if nd.OSName, err = checkOS("os_name", nd.OSName); err != nil {
		return NewDevice{}, err
	}
	return nd, nil
}

// checkOS accepts an optional OS name: free text of at most maxOSLen
// bytes, on one line.
func checkOS(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case len(s) > maxOSLen:
		return "", &FieldError{Field: field, Reason: fmt.Sprintf("longer than %d bytes", maxOSLen)}
	case !utf8.ValidString(s):
		return "", &FieldError{Field: field, Reason: "invalid UTF-8"}
	case hasControl(s):
		return "", &FieldError{Field: field, Reason: "contains control characters"}
	}
	return s, nil
}
