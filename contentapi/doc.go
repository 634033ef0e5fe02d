// Package contentapi is the file-sharing platform's content REST API:
// files, folders and content with ETag, If-Match and Range semantics, the
// OAuth 2.0 authorization server, and users, orgs, devices, shares and
// links. It is empty today; it lands with its issues, on the one HTTP kit
// (internal/httpapi) with the content API's own error body. Every action
// is audited through an Auditor interface declared here, which the binary
// wires to ingest's in-process Emit, so content API events take the same
// write path as everyone else's.
//
// Contentapi may import schema, internal/auth, internal/httpapi and
// internal/config.
package contentapi
