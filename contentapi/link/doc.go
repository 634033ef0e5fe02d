// Package link keeps the content API's links: a key that gives whoever
// holds it a file or folder of the tree, optionally behind a password,
// an expiry and a signed-in user. Links live in the metadata database
// (migration component "link") beside the tree, and each change
// commits with its LINK event in the credential store's outbox
// (auth.Store.Audited), as does each use of a link (link.access,
// link.download) and each wrong password (audit.link.password.error).
//
// The package decides who may manage a link (its creator, whoever may
// manage the linked object's store, an organization administrator) and
// that a folder link reaches nothing outside the folder. It keeps the
// password's hash and never sees the password; it knows no HTTP.
package link
