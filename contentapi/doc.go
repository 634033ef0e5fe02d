// Package contentapi is the file-sharing platform's content REST API
// under /api/v<major>.<minor>/ (files, folders and content, users,
// devices, groups, shares, links, and beside it the OAuth 2.0
// authorization server), on the one HTTP kit (internal/httpapi) with the
// content API's error body, {"type", "message"}.
//
// # Declaring a route
//
// A route is one line of the table in api.go and one handler:
//
//	{Method: "GET", Path: "/users/{email}", Since: V(1, 1),
//		Scopes: []string{ScopeUserRead}, Handle: a.user,
//		Summary: "One user", Response: User{}},
//
//	func (a *API) user(r *Request) (any, error) {
//		email, err := r.PathEmail("email")
//		...
//		return User{...}, nil
//	}
//
// Before the handler runs, the kit answers:
//   - 404 NOT_FOUND for a version that is not served (0.8 to 0.10 and
//     1.0 to Latest are) or older than the route's Since;
//   - for a route that is not Public: 400 BAD_ARGS for a token sent both
//     as "Authorization: Bearer" and as ?token=, 401 UNAUTHORIZED (with
//     WWW-Authenticate) for none, one that is not 32 lower-case hex, one
//     the Verifier does not know and an expired one;
//   - 403 FORBIDDEN "Token lacks required scope" for a token with none of
//     the route's Scopes, and for an Admin route one without
//     organization.admin or whose user is not an administrator.
//
// The handler then has the Request: its Version, its Principal (email,
// admin, Scopes, the app's device), helpers for being liberal with what
// clients send (Decode ignores the Content-Type and unknown fields;
// PathEmail takes emails escaped or not; IfMatch treats an empty header
// as none; unknown query parameters are never refused), and Event and
// Audit, which fill the catalog's caller and ip from the request. Scopes
// restricted to an object ("files.read:<id>") pass the route's check;
// the handler asks Principal.Scopes.Permits about the object it touches.
// It returns data (JSON with snake_case names, absent values omitted,
// dates as Time) or an error: BadArgs, NotFound, Conflict, ... or any
// error, which is a logged 500. Lists use ParsePage and List ({data,
// has_more}) or ParseWindow (offset, results).
//
// Every action is audited through the Auditor interface declared here,
// which the binary wires to ingest's in-process Emit, so content API
// events take the same write path as everyone else's.
//
// # Building blocks of accounts and sign-in
//
// Pure Go, each with its own doc on how accounts use it, storage behind
// interfaces:
//   - contentapi/password: argon2id PHC hashes (content.password);
//   - contentapi/ratelimit: sliding-window limits per (IP, user), per IP
//     and per user for 2FA codes;
//   - contentapi/totp: RFC 6238 codes with replay protection, otpauth
//     URIs, backup codes;
//   - contentapi/token: opaque 32-hex secrets stored as SHA-256;
//   - contentapi/session: session cookies, idle and absolute expiry
//     (content.session), CSRF; its Store conformance suite is in
//     sessiontest;
//   - contentapi/ldapauth: sign-in against an LDAP directory
//     (content.ldap), tried after the local password; ldaptest runs a
//     real slapd for tests.
//
// Users an external authority vouches for (the directory, or the
// OpenID Connect issuer of OIDC at /auth/oidc/login and
// /auth/oidc/callback) are provisioned on their first sign-in
// (user.org.provision), and their user.signin names the authority.
//
// Contentapi may import schema, internal/auth, internal/httpapi and
// internal/config.
package contentapi
