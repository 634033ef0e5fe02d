// Package contentapi is the file-sharing platform's content REST API.
//
// It will hold the content API (files, folders and content with ETag,
// If-Match and Range semantics), the OAuth 2.0 authorization server, and
// users, orgs, devices, shares and links. Every action is audited through
// an Auditor interface declared here; the binary wires it to ingest's
// in-process Emit, so content API events take the same write path as
// everyone else's.
//
// Contentapi may import schema and internal/auth.
package contentapi
