// Package session is the HTTP side of cookie sessions for the content
// API's web sign-in: the cookie, the idle and absolute expiry, and CSRF
// protection. Sessions are kept by a Store, which the accounts work
// implements on its database (sessiontest holds the conformance suite
// every Store passes, and an in-memory Store for tests).
//
// The accounts work uses it so. Build one Manager from the content.session
// section and the Store. POST /auth/signin, after the password (and
// code) checked out: Start, and answer the csrf_token it returns. On a
// route that takes a session: Load (ErrNoSession is a 401), and for a
// state-changing method CheckCSRF, or mount RequireCSRF in front of the
// routes that authenticate by cookie (never in front of sign-in, which
// takes no session). A web page with forms puts CSRFToken(r) in a hidden
// csrf_token field; scripts send it as X-CSRF-Token. Sign-out: End;
// sign-out everywhere, a password change or reset, and removing a user:
// EndAll.
//
// The session id in the cookie is a token (contentapi/token): 32 hex,
// and the Store only ever sees its hash, Session.ID. The CSRF token is
// derived from the session id, so it needs no storage and changes with
// every session; the stored hash does not reveal it.
package session
