package schema

import (
	"slices"
	"strings"
)

// Topic is the coarse group an event belongs to.
type Topic string

// The documented topics.
const (
	TopicFile    Topic = "FILE"
	TopicUser    Topic = "USER"
	TopicSharing Topic = "SHARING"
	TopicDevice  Topic = "DEVICE"
	TopicLink    Topic = "LINK"
	TopicOrg     Topic = "ORG"

	// Vigil's extension topics: actions on the audit system itself, and
	// alerts it raises.
	TopicAudit Topic = "AUDIT"
	TopicAlert Topic = "ALERT"
)

// Origin says where a catalog entry comes from.
type Origin string

// The origins of catalog entries.
const (
	// Documented events are listed in the audit service's reference
	// (including the ones whose names EVENT-NAMES restores).
	Documented Origin = "documented"
	// Original events were emitted by the original service but are absent
	// from its reference.
	Original Origin = "original"
	// Extension events are Vigil's own.
	Extension Origin = "extension"
)

// Type is the type of a field's value, from the reference's type
// dictionary. Each type has one normalizer and one canonical JSON form.
type Type string

// The field types.
const (
	TypeSubmitter    Type = "verified_submitter" // {user_id, device_id}
	TypeSOID         Type = "soid"               // {sid, oid}
	TypeSID          Type = "sid"                // 32 hex
	TypeOID          Type = "oid"                // 32 hex
	TypeDID          Type = "did"                // 32 hex
	TypeTime         Type = "timestamp"          // RFC 3339, UTC, milliseconds
	TypeOperations   Type = "operations"         // array of file operations
	TypeUserID       Type = "user_id"            // email or :pseudo-user
	TypeEmail        Type = "email"              // an address without an account
	TypeOrgID        Type = "org_id"             // organization id
	TypePath         Type = "path"               // {sid, relative_path}
	TypeCaller       Type = "caller"             // {email, device, acting_as}
	TypeSharedFolder Type = "shared_folder"      // {id, name}
	TypeRole         Type = "role"               // array of MANAGE, WRITE
	TypeIP           Type = "ip"                 // IPv4 or IPv6 address
	TypeString       Type = "string"             // free text
	TypeInteger      Type = "integer"            // a non-negative whole number
	TypeBoolean      Type = "boolean"            // true or false
	TypeDeviceType   Type = "device_type"        // enum
	TypeAuthority    Type = "authority"          // enum
	TypeOrgLevel     Type = "org_level"          // enum: USER, ADMIN
	Type2FALevel     Type = "2fa_level"          // enum: DISALLOWED, OPT_IN, MANDATORY
	TypeJoinAs       Type = "join_as"            // enum: internal, external
	TypeLinkKey      Type = "link_key"           // the key of a link's URL
	TypeLinkExpiry   Type = "link_expiry"        // seconds the link stays valid
)

// Field is one documented parameter of an event.
type Field struct {
	Name     string `json:"name"`
	Type     Type   `json:"type"`
	Optional bool   `json:"optional"`
	// Origin is set on a field Vigil adds to an event of another origin:
	// extension.
	Origin Origin `json:"origin,omitempty"`

	// extra places the field among the extras, sorted by name, instead
	// of in catalog order: the wire form (and so the derived event_id) of
	// an event that sent it before the catalog knew it does not change.
	extra bool
	// alias is another name the original service sent the field under.
	alias string
	// fromCaller marks the documented actor field of events whose later
	// emitters sent only a caller: it is filled from caller.email.
	fromCaller bool
}

// EventSpec is one entry of the catalog.
type EventSpec struct {
	Topic  Topic   `json:"topic"`
	Name   string  `json:"event"`
	Origin Origin  `json:"origin"`
	Doc    string  `json:"doc"`
	Fields []Field `json:"fields"`
}

// Actor returns the path of the field that names who acted, for
// summaries: the documented actor (sharer, admin_user, inviter, ...), else
// the caller's email, else the user the event is about, else, for FILE
// events, the submitting device's user. Nil when the event names none.
func (s *EventSpec) Actor() []string {
	for _, f := range s.Fields {
		if f.fromCaller || f.Name == "admin_user" || f.Name == "inviter" {
			return []string{f.Name}
		}
	}
	for _, f := range s.Fields {
		if f.Type == TypeCaller {
			return []string{f.Name, "email"}
		}
	}
	for _, name := range []string{"user", "email"} {
		if s.Field(name) >= 0 {
			return []string{name}
		}
	}
	if s.Field("verified_submitter") >= 0 {
		return []string{"verified_submitter", "user_id"}
	}
	return nil
}

// Field returns the index of the named field in s.Fields, or -1.
func (s *EventSpec) Field(name string) int {
	for i := range s.Fields {
		if s.Fields[i].Name == name {
			return i
		}
	}
	return -1
}

// alias returns the index of the field that name is an alias of, or -1.
func (s *EventSpec) alias(name string) int {
	for i := range s.Fields {
		if s.Fields[i].alias != "" && s.Fields[i].alias == name {
			return i
		}
	}
	return -1
}

// maxFields bounds the number of fields of one event; Event keeps its
// field offsets in a fixed array of this size.
const maxFields = 12

func req(name string, t Type) Field { return Field{Name: name, Type: t} }
func opt(name string, t Type) Field { return Field{Name: name, Type: t, Optional: true} }
func actor(name string) Field       { return Field{Name: name, Type: TypeUserID, fromCaller: true} }

// addedIP is the ip Vigil adds to a documented event, in catalog order as
// it always was.
func addedIP() Field { return Field{Name: "ip", Type: TypeIP, Optional: true, Origin: Extension} }

// ext is an optional field Vigil adds to a documented event, written
// among the extras.
func ext(name string, t Type) Field {
	return Field{Name: name, Type: t, Optional: true, Origin: Extension, extra: true}
}

// catalog is the whole event catalog, in the reference's order, topic by
// topic; events from the original service follow their topic's documented
// ones. The descriptions are Vigil's own words.
var catalog = []EventSpec{
	// FILE
	{TopicFile, "file.notification", Documented, "a file changed on the reporting device",
		[]Field{req("verified_submitter", TypeSubmitter), req("soid", TypeSOID), req("event_time", TypeTime), req("operations", TypeOperations), req("device", TypeDID), req("path", TypePath), opt("path_to", TypePath), opt("mobile_device", TypeDID)}},
	{TopicFile, "file.transfer", Documented, "file content or metadata moved between two devices; the reporting device is the source; Vigil adds bytes, the content's size, where it knows it",
		[]Field{req("verified_submitter", TypeSubmitter), req("soid", TypeSOID), req("event_time", TypeTime), req("operations", TypeOperations), req("device", TypeDID), req("path", TypePath), opt("path_to", TypePath), req("destination_device", TypeDID), req("destination_user", TypeUserID), ext("bytes", TypeInteger)}},

	// USER
	{TopicUser, "user.signin", Documented, "a user signed in on the web or a desktop client; Vigil adds the client's ip and user_agent",
		[]Field{req("user", TypeUserID), req("authority", TypeAuthority), addedIP(), ext("user_agent", TypeString)}},
	{TopicUser, "device.mobile.error", Documented, "certifying a mobile device failed on a permission or credential error; Vigil adds the client's ip",
		[]Field{req("user", TypeUserID), opt("ip", TypeIP)}},
	{TopicUser, "user.password.change", Documented, "a user with a local credential changed their password",
		[]Field{req("user", TypeUserID)}},
	{TopicUser, "user.org.invite", Documented, "an invitation to the organization went to an address without an account",
		[]Field{req("inviter", TypeUserID), req("invitee", TypeEmail), req("organization", TypeOrgID)}},
	{TopicUser, "user.org.signup", Documented, "someone signed up with an invitation code",
		[]Field{req("user", TypeUserID), req("first_name", TypeString), req("last_name", TypeString), req("organization", TypeOrgID), req("is_admin", TypeBoolean)}},
	{TopicUser, "user.create", Documented, "an admin created an account through the user management API",
		[]Field{req("email", TypeEmail), req("caller", TypeCaller)}},
	{TopicUser, "user.delete", Documented, "an admin deleted an account through the user management API; the reference names the acting caller's field delete, the original service sent it as caller; both are read, delete is written",
		[]Field{req("email", TypeEmail), {Name: "delete", Type: TypeCaller, alias: "caller"}}},
	{TopicUser, "user.password.error", Documented, "a sign-in was denied for a bad credential; Vigil adds the client's ip and user_agent, rate_limited when the sign-in limiter refused the attempt, and two_factor when the password was right and the second-factor code was not (or its limiter refused it)",
		[]Field{req("user", TypeUserID), addedIP(), opt("rate_limited", TypeBoolean), opt("two_factor", TypeBoolean), ext("user_agent", TypeString)}},
	{TopicUser, "user.password.reset.request", Documented, "a password reset token was mailed to the user",
		[]Field{req("user", TypeUserID), req("caller", TypeCaller)}},
	{TopicUser, "user.password.reset", Documented, "a user reset their password with a mailed token",
		[]Field{req("user", TypeUserID)}},
	{TopicUser, "user.password.revoke", Documented, "an admin revoked a user's credential through the user management API",
		[]Field{req("email", TypeEmail), req("caller", TypeCaller)}},
	{TopicUser, "user.org.authorization", Documented, "a user's organization level changed (promoted to admin or demoted)",
		[]Field{req("admin_user", TypeUserID), req("target_user", TypeUserID), req("new_level", TypeOrgLevel)}},
	{TopicUser, "user.password.update", Documented, "a user or admin updated a credential through the user management API",
		[]Field{req("email", TypeEmail), req("caller", TypeCaller)}},
	{TopicUser, "user.update", Documented, "a user or admin changed a user's name through the user management API",
		[]Field{req("email", TypeEmail), req("caller", TypeCaller)}},
	{TopicUser, "user.org.provision", Documented, "an auto-provisioned user signed in for the first time",
		[]Field{req("user", TypeUserID), req("authority", TypeAuthority)}},
	{TopicUser, "user.org.accept", Documented, "a user accepted an invitation to an organization",
		[]Field{req("user", TypeUserID), req("previous_org", TypeOrgID), req("new_org", TypeOrgID)}},
	{TopicUser, "user.org.remove", Documented, "an admin removed a user from the organization",
		[]Field{req("admin_user", TypeUserID), req("target_user", TypeUserID)}},
	{TopicUser, "user.account.request", Documented, "someone asked for an account (open sign-up only)",
		[]Field{req("email", TypeEmail)}},
	{TopicUser, "user.quota.warning", Documented, "a user reached 80% of their quota, as a Team Server measured it",
		[]Field{req("user", TypeUserID), req("bytes_used", TypeInteger), req("bytes_allowed", TypeInteger)}},
	{TopicUser, "user.2fa.enable", Documented, "a user turned on two-factor authentication",
		[]Field{req("user", TypeUserID)}},
	{TopicUser, "user.2fa.disable", Documented, "a user or admin turned off a user's two-factor authentication",
		[]Field{req("user", TypeUserID), req("caller", TypeCaller)}},

	// SHARING
	{TopicSharing, "folder.create", Documented, "a shared folder was created",
		[]Field{req("folder", TypeSharedFolder), req("caller", TypeCaller)}},
	{TopicSharing, "folder.destroy", Documented, "a shared folder was destroyed",
		[]Field{req("folder", TypeSharedFolder), req("caller", TypeCaller)}},
	{TopicSharing, "folder.join", Documented, "a user accepted an invitation to a shared folder",
		[]Field{req("folder", TypeSharedFolder), req("target", TypeUserID), req("caller", TypeCaller), req("role", TypeRole), opt("join_as", TypeJoinAs)}},
	{TopicSharing, "folder.leave", Documented, "a user left a shared folder",
		[]Field{req("folder", TypeSharedFolder), req("caller", TypeCaller), req("target", TypeUserID)}},
	{TopicSharing, "folder.invite", Documented, "a user invited an internal or external user to a shared folder",
		[]Field{req("folder", TypeSharedFolder), actor("sharer"), req("target", TypeUserID), req("role", TypeRole), opt("caller", TypeCaller)}},
	{TopicSharing, "folder.delete_invitation", Documented, "an invitation to a shared folder was withdrawn",
		[]Field{req("folder", TypeSharedFolder), req("caller", TypeCaller), req("target", TypeUserID)}},
	{TopicSharing, "folder.permission.delete", Documented, "a user was removed from a shared folder's member list",
		[]Field{req("folder", TypeSharedFolder), req("caller", TypeCaller), req("target", TypeUserID)}},
	{TopicSharing, "folder.permission.update", Documented, "a shared folder's manager changed a member's role",
		[]Field{actor("admin_user"), req("target", TypeUserID), req("old_role", TypeRole), req("new_role", TypeRole), req("folder", TypeSharedFolder), opt("caller", TypeCaller)}},
	{TopicSharing, "folder.add", Original, "a member was added to a shared folder directly, without an invitation",
		[]Field{req("folder", TypeSharedFolder), req("caller", TypeCaller), req("target", TypeUserID), req("role", TypeRole)}},

	// DEVICE
	// Vigil adds the caller and the client's ip to every DEVICE event.
	{TopicDevice, "device.signin", Documented, "a device signed in with a certificate from the appliance's authority (or its device credential)",
		[]Field{req("user", TypeUserID), req("device_id", TypeDID), req("ip", TypeIP), opt("caller", TypeCaller)}},
	{TopicDevice, "device.certify", Documented, "a new device was certified; mobile devices may lack some fields",
		[]Field{req("user", TypeUserID), req("device_type", TypeDeviceType), req("device_id", TypeDID), opt("device_name", TypeString), opt("os_family", TypeString), opt("os_name", TypeString), opt("caller", TypeCaller), opt("ip", TypeIP)}},
	{TopicDevice, "device.access.code", Documented, "a user generated a one-time access code for certifying a device",
		[]Field{req("user", TypeUserID), req("timeout", TypeInteger), opt("caller", TypeCaller), opt("ip", TypeIP)}},
	{TopicDevice, "device.mobile.code", Documented, "a user generated a QR code to authenticate a mobile device",
		[]Field{req("user", TypeUserID), opt("caller", TypeCaller), opt("ip", TypeIP)}},
	{TopicDevice, "device.mobile.authenticate", Documented, "a mobile device authenticated with a one-time access code",
		[]Field{req("user", TypeUserID), req("device", TypeDID), opt("caller", TypeCaller), opt("ip", TypeIP)}},
	{TopicDevice, "device.recertify", Documented, "a device replaced its certificate with a newer one",
		[]Field{req("user", TypeUserID), req("device", TypeDID), req("device_type", TypeDeviceType), opt("caller", TypeCaller), opt("ip", TypeIP)}},
	{TopicDevice, "device.unlink", Documented, "a device stopped syncing at admin_user's request and keeps its files",
		[]Field{req("admin_user", TypeUserID), req("device", TypeDID), req("owner", TypeUserID), opt("caller", TypeCaller), opt("ip", TypeIP)}},
	{TopicDevice, "device.erase", Documented, "a device's synced folder was remotely wiped at admin_user's request",
		[]Field{req("admin_user", TypeUserID), req("device", TypeDID), req("owner", TypeUserID), opt("caller", TypeCaller), opt("ip", TypeIP)}},
	{TopicDevice, "user.device.recertify", Original, "a Team Server replaced its certificate (named as the original service emitted it)",
		[]Field{req("user", TypeUserID), req("device", TypeDID), req("device_type", TypeDeviceType), opt("caller", TypeCaller), opt("ip", TypeIP)}},

	// LINK
	{TopicLink, "link.create", Documented, "a link to a file or folder was created",
		[]Field{req("ip", TypeIP), req("caller", TypeCaller), req("key", TypeLinkKey), req("soid", TypeSOID)}},
	{TopicLink, "link.delete", Documented, "a link was deleted",
		[]Field{req("ip", TypeIP), req("caller", TypeCaller), req("key", TypeLinkKey)}},
	{TopicLink, "link.access", Documented, "a link was used to read an object's metadata",
		[]Field{req("ip", TypeIP), req("key", TypeLinkKey)}},
	{TopicLink, "link.download", Documented, "an object was downloaded through a link",
		[]Field{req("ip", TypeIP), req("key", TypeLinkKey), req("oid", TypeOID), req("name", TypeString)}},
	{TopicLink, "link.set_password", Documented, "a link was given a password",
		[]Field{req("ip", TypeIP), req("caller", TypeCaller), req("key", TypeLinkKey)}},
	{TopicLink, "link.remove_password", Documented, "a link's password was removed",
		[]Field{req("ip", TypeIP), req("caller", TypeCaller), req("key", TypeLinkKey)}},
	{TopicLink, "link.set_expiry", Documented, "a link was given an expiry",
		[]Field{req("ip", TypeIP), req("caller", TypeCaller), req("key", TypeLinkKey), req("expiry", TypeLinkExpiry)}},
	{TopicLink, "link.remove_expiry", Documented, "a link's expiry was removed",
		[]Field{req("ip", TypeIP), req("caller", TypeCaller), req("key", TypeLinkKey)}},
	{TopicLink, "link.update", Original, "several settings of a link changed at once",
		[]Field{req("ip", TypeIP), req("caller", TypeCaller), req("key", TypeLinkKey), opt("set_password", TypeBoolean), opt("require_login", TypeBoolean), opt("expiry", TypeLinkExpiry)}},
	{TopicLink, "link.set_require_login", Original, "a link began or stopped requiring a signed-in user",
		[]Field{req("ip", TypeIP), req("caller", TypeCaller), req("key", TypeLinkKey), req("require_login", TypeBoolean)}},

	// ORG
	{TopicOrg, "org.2fa.level", Documented, "an admin changed the organization's two-factor enforcement level",
		[]Field{req("org", TypeUserID), req("caller", TypeCaller), req("old_level", Type2FALevel), req("new_level", Type2FALevel)}},

	// AUDIT (extension): who changed the audit system's credentials and
	// data. The caller of an action taken with --data-dir, without a
	// server, is the pseudo-user ":local".
	{TopicAudit, "audit.device.add", Extension, "an admin registered a device and issued its upload token",
		[]Field{req("caller", TypeCaller), req("user", TypeUserID), req("device", TypeDID), opt("name", TypeString)}},
	{TopicAudit, "audit.device.revoke", Extension, "an admin revoked a device's upload token",
		[]Field{req("caller", TypeCaller), req("device", TypeDID), opt("user", TypeUserID)}},
	{TopicAudit, "audit.device.rename", Extension, "a device was renamed through the content API (the catalog has no DEVICE event for it)",
		[]Field{req("caller", TypeCaller), req("device", TypeDID), req("name", TypeString), opt("user", TypeUserID), opt("ip", TypeIP)}},
	{TopicAudit, "audit.token.add", Extension, "an admin issued an API token",
		[]Field{req("caller", TypeCaller), req("name", TypeString), req("role", TypeString)}},
	{TopicAudit, "audit.token.revoke", Extension, "an admin revoked an API token",
		[]Field{req("caller", TypeCaller), req("name", TypeString)}},
	{TopicAudit, "audit.app.add", Extension, "an admin registered an OAuth 2.0 app (client) with the content API",
		[]Field{req("caller", TypeCaller), req("client_id", TypeString), req("name", TypeString), req("redirect_uri", TypeString), req("public", TypeBoolean), opt("ip", TypeIP)}},
	{TopicAudit, "audit.app.remove", Extension, "an admin removed an OAuth 2.0 app, with every authorization and token users gave it",
		[]Field{req("caller", TypeCaller), req("client_id", TypeString), req("name", TypeString), opt("ip", TypeIP)}},
	{TopicAudit, "audit.oauth.approve", Extension, "a user approved an OAuth 2.0 app's authorization request; device is the authorization's device id, certified when the code is exchanged",
		[]Field{req("caller", TypeCaller), req("user", TypeUserID), req("client_id", TypeString), req("device", TypeDID), opt("scope", TypeString), opt("ip", TypeIP)}},
	{TopicAudit, "audit.oauth.deny", Extension, "a user denied an OAuth 2.0 app's authorization request",
		[]Field{req("caller", TypeCaller), req("user", TypeUserID), req("client_id", TypeString), opt("scope", TypeString), opt("ip", TypeIP)}},
	{TopicAudit, "audit.oauth.refresh", Extension, "an OAuth 2.0 app exchanged a refresh token for a new access token (the refresh token rotates)",
		[]Field{req("caller", TypeCaller), req("user", TypeUserID), req("client_id", TypeString), req("device", TypeDID), opt("scope", TypeString), opt("ip", TypeIP)}},
	{TopicAudit, "audit.oauth.revoke", Extension, "an access or refresh token (kind) was revoked at DELETE /auth/token/{token}; the authorization itself stays",
		[]Field{req("caller", TypeCaller), req("user", TypeUserID), req("device", TypeDID), req("kind", TypeString), opt("client_id", TypeString), opt("ip", TypeIP)}},
	{TopicAudit, "audit.oauth.token.error", Extension, "the token endpoint refused a client: bad client credentials (invalid_client) or a bad code or refresh token (invalid_grant); rate_limited when its limiter refused the attempt",
		[]Field{req("client_id", TypeString), req("error", TypeString), opt("ip", TypeIP), opt("rate_limited", TypeBoolean)}},
	{TopicAudit, "audit.oidc.refuse", Extension, "a sign-in through the OpenID Connect issuer was refused (reason); user when the issuer named one",
		[]Field{req("reason", TypeString), opt("user", TypeUserID), opt("ip", TypeIP)}},
	{TopicAudit, "audit.link.password.error", Extension, "a wrong password was given for a link, or the rate limit refused an attempt (rate_limited)",
		[]Field{req("ip", TypeIP), req("key", TypeLinkKey), opt("rate_limited", TypeBoolean)}},
	{TopicAudit, "audit.folder.rename", Extension, "a shared folder was renamed (the catalog has no SHARING event for it)",
		[]Field{req("caller", TypeCaller), req("folder", TypeSharedFolder), req("name", TypeString)}},
	{TopicAudit, "audit.folder.group.add", Extension, "a group was given access to a shared folder: its members get the role",
		[]Field{req("caller", TypeCaller), req("folder", TypeSharedFolder), req("group", TypeString), req("role", TypeRole)}},
	{TopicAudit, "audit.folder.group.update", Extension, "a group's role on a shared folder changed",
		[]Field{req("caller", TypeCaller), req("folder", TypeSharedFolder), req("group", TypeString), req("old_role", TypeRole), req("new_role", TypeRole)}},
	{TopicAudit, "audit.folder.group.remove", Extension, "a group's access to a shared folder was taken away",
		[]Field{req("caller", TypeCaller), req("folder", TypeSharedFolder), req("group", TypeString)}},
	{TopicAudit, "audit.favorite.add", Extension, "a user marked a file or folder (soid, path) as a favorite through the content API",
		[]Field{req("caller", TypeCaller), req("soid", TypeSOID), req("path", TypePath)}},
	{TopicAudit, "audit.favorite.remove", Extension, "a user removed a file or folder (soid, path) from their favorites",
		[]Field{req("caller", TypeCaller), req("soid", TypeSOID), req("path", TypePath)}},
	{TopicAudit, "audit.quarantine.replay", Extension, "an admin replayed quarantined events",
		[]Field{req("caller", TypeCaller), req("replayed", TypeInteger), req("rejected", TypeInteger)}},
	{TopicAudit, "audit.user.role", Extension, "a user of the content API was given an audit role (auditor), to read the audit data in the web console with their own sign-in, or had it taken away (none); old_role is the role before",
		[]Field{req("caller", TypeCaller), req("user", TypeUserID), req("role", TypeString), req("old_role", TypeString)}},
	{TopicAudit, "audit.query", Extension, "someone read the audit data: a search, an export, counts or a live tail",
		[]Field{req("caller", TypeCaller), req("route", TypeString), req("filter", TypeString), opt("format", TypeString)}},

	// ALERT (extension): conditions Vigil raises about itself.
	{TopicAlert, "alert.log.skipped", Extension, "a consumer group that is not required fell behind retention and skipped records",
		[]Field{req("group", TypeString), req("skipped", TypeInteger)}},
	{TopicAlert, "alert.log.corrupt", Extension, "the event log skipped a damaged region of a segment (offset and bytes in the file); records it held are lost",
		[]Field{req("segment", TypeString), req("offset", TypeInteger), req("bytes", TypeInteger), req("first_record", TypeInteger), req("records", TypeInteger)}},
	{TopicAlert, "alert.sink.oversize", Extension, "a sink met an event larger than its max_frame_bytes and parked or truncated it (raised at most once an hour per sink)",
		[]Field{req("sink", TypeString), req("oversize_event_id", TypeString), req("size", TypeInteger), req("limit", TypeInteger), req("count", TypeInteger), req("policy", TypeString)}},
	{TopicAlert, "alert.device.seq_gap", Extension, "a device's uploads skipped sequence numbers: it lost or withheld events",
		[]Field{req("user", TypeUserID), req("device", TypeDID), req("expected", TypeInteger), req("got", TypeInteger)}},
	{TopicAlert, "alert.raised", Extension, "a detection rule fired: rule and severity, the grouped values (group, and user when one of them names a user), a sentence for people (summary), the count in the window that crossed, up to 100 triggering event ids (evidence, space-separated; evidence_count counts them all), and the baseline it was compared with, when there is one; its event_id derives from the rule, the group and the window's aligned start",
		[]Field{req("rule", TypeString), req("severity", TypeString), req("group", TypeString), req("summary", TypeString), req("count", TypeInteger), req("window_start", TypeTime), req("window_end", TypeTime), req("evidence", TypeString), req("evidence_count", TypeInteger), opt("baseline", TypeString), opt("user", TypeUserID)}},
	{TopicAlert, "alert.state", Extension, "an alert's state changed (acknowledged, resolved or dismissed; open is the state it is raised in): the alert's event_id (alert_id), the new state, who changed it (caller, a user id or an API token's pseudo-user), and the optional assignee, reason and note given with the change",
		[]Field{req("alert_id", TypeString), req("state", TypeString), req("caller", TypeCaller), opt("assignee", TypeString), opt("reason", TypeString), opt("note", TypeString)}},
}

var byName = func() map[string]*EventSpec {
	m := make(map[string]*EventSpec, len(catalog))
	for i := range catalog {
		m[catalog[i].Name] = &catalog[i]
	}
	return m
}()

// topics lists the catalog's topics in catalog order.
var topics = func() []Topic {
	var out []Topic
	for i := range catalog {
		if !slices.Contains(out, catalog[i].Topic) {
			out = append(out, catalog[i].Topic)
		}
	}
	return out
}()

// Catalog returns every event of the catalog, in catalog order. The
// entries are shared: callers must not modify them.
func Catalog() []*EventSpec {
	out := make([]*EventSpec, len(catalog))
	for i := range catalog {
		out[i] = &catalog[i]
	}
	return out
}

// Lookup returns the catalog entry of the named event.
func Lookup(name string) (*EventSpec, bool) {
	s, ok := byName[name]
	return s, ok
}

// Topics returns the topics of the catalog, in catalog order.
func Topics() []Topic { return slices.Clone(topics) }

// topicAliases maps other spellings of a topic to the catalog's.
var topicAliases = map[string]Topic{
	"ORGANIZATION": TopicOrg,
}

// ParseTopic matches a topic case-insensitively, aliases included
// ("organization" is ORG).
func ParseTopic(s string) (Topic, bool) {
	u := strings.ToUpper(s)
	if t, ok := topicAliases[u]; ok {
		return t, true
	}
	for _, t := range topics {
		if string(t) == u {
			return t, true
		}
	}
	return "", false
}
