// Package tree is the content API's file tree: stores, folders and
// files, their names, versions and content references, in the metadata
// database (component "tree"), each change committed with its FILE event
// in the credential store's outbox (auth.Store.Audited).
//
// Every user has a root store, created on first use, whose root folder
// has the all-zero object id; a file or folder id is its store id (SID)
// followed by its object id (OID), 32 lower-case hex each. Who may do
// what in a store is decided in one place, Access.
//
// A shared folder (share.go, migration component "shares") is a store
// of its own with members, groups and pending invitations, each with
// permission bits: members read, and write with WRITE; MANAGE changes
// the member list. Its creator keeps an anchor folder in their root
// store that stands for the share's root wherever a route names it.
//
// The events the tree writes are the server's own: the server acts as
// the serving device of the original service's Team Server, with a
// stable device id kept in the database (Store.ServerDevice) and the
// organization's pseudo-user (Config.ServerUser) as user. That device is
// each event's device and verified_submitter; the calling app's device
// is the destination_device of reads (file.transfer) and the
// mobile_device of writes (file.notification).
//
// The package knows no HTTP: the content API maps its errors.
package tree
