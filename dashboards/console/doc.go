// Package console is the web console for compliance admins and auditors:
// an HTML shell and hand-written ES modules, embedded in the binary
// (web/), that load nothing from outside the server and need no build
// step. Charts come from uPlot, vendored with its license under
// web/vendor/ and pinned in vendor.txt.
//
// Who may open it: a user of the content API signed in by a browser
// session (the content API's cookie sessions, through auth.Sessions), who
// acts with the role their account gives them (auth.RoleFinder): admin
// for an organization administrator, auditor when an admin gave it (vigil
// admin user set-role). A browser without a session is sent to the
// sign-in page, which returns it here; a user without a role gets a page
// that says so. The pages call only the audit APIs (query, stats, alerts,
// sinks, quarantine) with the session cookie, which the server lets
// through auth.SessionMiddleware with the same role checks, and the same
// audit.query events, as API tokens.
//
// Every console answer carries headers that keep it from being framed or
// sniffed (securityHeaders), and the pages put values from events into
// the document as text only, never as markup.
package console
