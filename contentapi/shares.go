package contentapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/vigilaudit/vigil/contentapi/tree"
	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/httpapi"
)

// SharedFolder is a shared folder with its member list, as its caller
// sees it.
type SharedFolder struct {
	ID      string            `json:"id"`
	Name    string            `json:"name"`
	Members []SFMember        `json:"members"`
	Groups  []SFGroupMember   `json:"groups"`
	Pending []SFPendingMember `json:"pending"`
	// IsExternal says the caller joined it as external.
	IsExternal bool `json:"is_external"`
	// CallerEffectivePermissions is what the caller's membership gives,
	// directly and through groups.
	CallerEffectivePermissions []string `json:"caller_effective_permissions"`
	IsLocked                   bool     `json:"is_locked"`
}

// SFMember is a member of a shared folder.
type SFMember struct {
	Email       string   `json:"email"`
	FirstName   string   `json:"first_name"`
	LastName    string   `json:"last_name"`
	Permissions []string `json:"permissions"`
}

// SFGroupMember is a group on a shared folder.
type SFGroupMember struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Permissions []string `json:"permissions"`
}

// SFPendingMember is an invitation to a shared folder not accepted yet.
type SFPendingMember struct {
	Email       string   `json:"email"`
	FirstName   string   `json:"first_name,omitempty"`
	LastName    string   `json:"last_name,omitempty"`
	InvitedBy   string   `json:"invited_by"`
	Permissions []string `json:"permissions"`
	Note        string   `json:"note,omitempty"`
}

// ShareInvitation is a pending invitation as its invitee sees it.
type ShareInvitation struct {
	ShareID     string   `json:"share_id"`
	ShareName   string   `json:"share_name"`
	InvitedBy   string   `json:"invited_by"`
	Permissions []string `json:"permissions"`
}

// shareBody is POST /shares' and PUT /shares/{id}/name's body.
type shareBody struct {
	Name *string `json:"name"`
}

// shareMemberBody is the body of the member, group and pending routes:
// email (members, pending) or id (groups), permissions, and a pending
// invitation's note.
type shareMemberBody struct {
	Email       string    `json:"email,omitempty"`
	ID          string    `json:"id,omitempty"`
	Permissions *[]string `json:"permissions"`
	Note        string    `json:"note,omitempty"`
}

// shareRoutes are the shared folders' routes: acl.read to read a
// share, acl.write to change one, acl.invitations for the invitee's
// side. Who may do what on a share is its membership's say (MANAGE to
// change the member list); an organization administrator manages every
// share.
func (a *API) shareRoutes() []Route {
	if a.files == nil || a.acc == nil {
		return nil
	}
	read, write, inv := []string{ScopeACLRead}, []string{ScopeACLWrite}, []string{ScopeACLInvitations}
	return []Route{
		{Method: http.MethodPost, Path: "/shares", Since: V(1, 1), Scopes: write, Handle: a.createShare,
			Summary: "Create a shared folder in the caller's root folder (folder.create)", Request: shareBody{}, Response: SharedFolder{}, Status: http.StatusCreated},
		{Method: http.MethodPut, Path: "/folders/{id}/is_shared", Since: V(1, 3), Scopes: write, Handle: a.shareFolder,
			Summary: "Turn a folder into a shared folder (folder.create)", Response: Folder{}},
		{Method: http.MethodGet, Path: "/shares/{id}", Since: V(1, 1), Scopes: read, Handle: a.getShare,
			Summary: "A shared folder with its members (ETag, If-None-Match)", Response: SharedFolder{}},
		{Method: http.MethodPut, Path: "/shares/{id}/name", Since: V(1, 4), Scopes: write, Handle: a.renameShare,
			Summary: "Rename a shared folder (audit.folder.rename)", Request: shareBody{}, Response: SharedFolder{}},
		{Method: http.MethodGet, Path: "/users/{email}/shares", Since: V(1, 1), Scopes: read, Handle: a.userShares,
			Summary: "The shared folders a user is on", Response: []SharedFolder{}},
		{Method: http.MethodGet, Path: "/groups/{id}/shares", Since: V(1, 3), Scopes: []string{ScopeGroupsRead}, Handle: a.groupShares,
			Summary: "The shared folders a group is on", Response: []SharedFolder{}},

		{Method: http.MethodGet, Path: "/shares/{id}/members", Since: V(1, 1), Scopes: read, Handle: a.shareMembers,
			Summary: "A shared folder's members", Response: []SFMember{}},
		{Method: http.MethodPost, Path: "/shares/{id}/members", Since: V(1, 1), Scopes: write, Handle: a.addShareMember,
			Summary: "Add a user to a shared folder without an invitation (folder.add)", Request: shareMemberBody{}, Response: SFMember{}, Status: http.StatusCreated},
		{Method: http.MethodGet, Path: "/shares/{id}/members/{email}", Since: V(1, 1), Scopes: read, Handle: a.shareMember,
			Summary: "One member (ETag, If-None-Match)", Response: SFMember{}},
		{Method: http.MethodPut, Path: "/shares/{id}/members/{email}", Since: V(1, 1), Scopes: write, Handle: a.updateShareMember,
			Summary: "Change a member's permissions (If-Match; folder.permission.update)", Request: shareMemberBody{}, Response: SFMember{}},
		{Method: http.MethodDelete, Path: "/shares/{id}/members/{email}", Since: V(1, 1), Scopes: write, Handle: a.removeShareMember,
			Summary: "Remove a member (If-Match; folder.permission.delete), or leave (folder.leave)", Status: http.StatusNoContent},

		{Method: http.MethodGet, Path: "/shares/{id}/groups", Since: V(1, 3), Scopes: read, Handle: a.shareGroups,
			Summary: "The groups on a shared folder", Response: []SFGroupMember{}},
		{Method: http.MethodPost, Path: "/shares/{id}/groups", Since: V(1, 3), Scopes: write, Handle: a.addShareGroup,
			Summary: "Give a group's members access (audit.folder.group.add)", Request: shareMemberBody{}, Response: SFGroupMember{}, Status: http.StatusCreated},
		{Method: http.MethodGet, Path: "/shares/{id}/groups/{gid}", Since: V(1, 3), Scopes: read, Handle: a.shareGroup,
			Summary: "One group on a shared folder (ETag, If-None-Match)", Response: SFGroupMember{}},
		{Method: http.MethodPut, Path: "/shares/{id}/groups/{gid}", Since: V(1, 3), Scopes: write, Handle: a.updateShareGroup,
			Summary: "Change a group's permissions (If-Match; audit.folder.group.update)", Request: shareMemberBody{}, Response: SFGroupMember{}},
		{Method: http.MethodDelete, Path: "/shares/{id}/groups/{gid}", Since: V(1, 3), Scopes: write, Handle: a.removeShareGroup,
			Summary: "Take a group off a shared folder (If-Match; audit.folder.group.remove)", Status: http.StatusNoContent},

		{Method: http.MethodGet, Path: "/shares/{id}/pending", Since: V(1, 1), Scopes: read, Handle: a.sharePendingList,
			Summary: "A shared folder's pending invitations", Response: []SFPendingMember{}},
		{Method: http.MethodPost, Path: "/shares/{id}/pending", Since: V(1, 1), Scopes: write, Handle: a.inviteToShare,
			Summary: "Invite an email, with a note, by mail (folder.invite)", Request: shareMemberBody{}, Response: SFPendingMember{}, Status: http.StatusCreated},
		{Method: http.MethodGet, Path: "/shares/{id}/pending/{email}", Since: V(1, 1), Scopes: read, Handle: a.sharePending,
			Summary: "One pending invitation", Response: SFPendingMember{}},
		{Method: http.MethodDelete, Path: "/shares/{id}/pending/{email}", Since: V(1, 1), Scopes: write, Handle: a.deleteSharePending,
			Summary: "Withdraw an invitation (folder.delete_invitation)", Status: http.StatusNoContent},

		{Method: http.MethodGet, Path: "/users/{email}/invitations", Since: V(1, 1), Scopes: inv, Handle: a.invitations,
			Summary: "A user's invitations to shared folders", Response: []ShareInvitation{}},
		{Method: http.MethodGet, Path: "/users/{email}/invitations/{sid}", Since: V(1, 1), Scopes: inv, Handle: a.invitationTo,
			Summary: "One invitation", Response: ShareInvitation{}},
		{Method: http.MethodPost, Path: "/users/{email}/invitations/{sid}", Since: V(1, 1), Scopes: inv, Handle: a.acceptInvitation,
			Summary: "Accept an invitation; external=1 joins as external (folder.join)", Response: SharedFolder{}, Status: http.StatusCreated, Query: []string{"external"}},
		{Method: http.MethodDelete, Path: "/users/{email}/invitations/{sid}", Since: V(1, 1), Scopes: inv, Handle: a.ignoreInvitation,
			Summary: "Ignore an invitation (folder.delete_invitation)", Status: http.StatusNoContent},

		{Method: http.MethodDelete, Path: "/shares/{id}", Since: V(1, 4), Scopes: write, Handle: a.destroyShare,
			Summary: "Destroy a shared folder with its content, for every member (folder.destroy); Vigil's own", Status: http.StatusNoContent},
	}
}

// sharer is r's principal acting on shares.
func (r *Request) sharer() tree.Sharer {
	c, _ := json.Marshal(r.Caller()) // strings only: never fails
	return tree.Sharer{Actor: r.treeActor(), Admin: r.isAdmin(), Caller: c}
}

// shareID reads the path's share id (its SID, 32 hex).
func (r *Request) shareID(name string) (string, error) {
	s := strings.ToLower(chi.URLParam(r.Request, name))
	if len(s) != 32 || !isHex(s) {
		return "", BadArgs("Invalid " + name + ": not a shared folder id (32 hex)")
	}
	return s, nil
}

// parsePermissions reads a body's permissions: required when need, a
// viewer ([]) when absent otherwise.
func parsePermissions(p *[]string, need bool) (tree.Perm, error) {
	if p == nil {
		if need {
			return 0, BadArgs("Invalid permissions: required")
		}
		return tree.PermRead, nil
	}
	perm, err := tree.ParseRole(*p)
	if err != nil {
		return 0, BadArgs("Invalid permissions: " + err.Error())
	}
	return perm, nil
}

// shareError maps the shares' errors to the API's.
func (r *Request) shareError(err error) error {
	switch {
	case errors.Is(err, tree.ErrNoMember):
		return NotFound("No such member")
	case errors.Is(err, tree.ErrNoUser):
		return NotFound("No such user")
	case errors.Is(err, tree.ErrNoGroup):
		return NotFound("No such group")
	case errors.Is(err, tree.ErrExists):
		return Conflict("Already on the shared folder")
	case errors.Is(err, tree.ErrLastManager):
		return Conflict("A shared folder needs a manager: the last one cannot be removed or demoted")
	case errors.Is(err, tree.ErrNotShareable):
		return Conflict("This folder cannot be shared: it is a root folder, an app's folder, inside a shared folder or holds one")
	case errors.Is(err, tree.ErrReadOnly):
		return Forbidden("Changing the shared folder needs the MANAGE permission")
	case errors.Is(err, tree.ErrNotFound):
		return NotFound("No such shared folder")
	}
	return r.treeError(err)
}

func roleOf(p tree.Perm) []string { return p.Role() }

func sharedFolderOf(sh tree.Share) SharedFolder {
	out := SharedFolder{ID: sh.SID, Name: sh.Name, Members: []SFMember{}, Groups: []SFGroupMember{}, Pending: []SFPendingMember{},
		IsExternal: sh.External, CallerEffectivePermissions: roleOf(sh.Perm)}
	for _, m := range sh.Members {
		out.Members = append(out.Members, memberOf(m))
	}
	for _, g := range sh.Groups {
		out.Groups = append(out.Groups, groupMemberOf(g))
	}
	for _, p := range sh.Pending {
		out.Pending = append(out.Pending, pendingOf(p))
	}
	return out
}

func memberOf(m tree.Member) SFMember {
	return SFMember{Email: m.Email, FirstName: m.FirstName, LastName: m.LastName, Permissions: roleOf(m.Perm)}
}

func groupMemberOf(g tree.ShareGroup) SFGroupMember {
	return SFGroupMember{ID: g.ID, Name: g.Name, Permissions: roleOf(g.Perm)}
}

func pendingOf(p tree.Pending) SFPendingMember {
	return SFPendingMember{Email: p.Email, FirstName: p.FirstName, LastName: p.LastName, InvitedBy: p.InvitedBy,
		Permissions: roleOf(p.Perm), Note: p.Note}
}

// bodyETag is the weak entity tag of a JSON answer: a hash of its bytes.
func bodyETag(v any) string {
	b, _ := json.Marshal(v) // the API's own types: never fails
	h := sha256.Sum256(b)
	return `W/"` + hex.EncodeToString(h[:16]) + `"`
}

// tagged answers v with its ETag, or 304 when If-None-Match holds it.
func (r *Request) tagged(status int, v any, header http.Header) any {
	etag := bodyETag(v)
	if header == nil {
		header = http.Header{}
	}
	header.Set("Etag", etag)
	if inm, ok := r.IfNoneMatch(); ok && status == http.StatusOK && etagMatches(inm, etag) {
		return httpapi.Response{Status: http.StatusNotModified, Header: header}
	}
	return httpapi.Response{Status: status, Header: header, Body: v}
}

// ifMatch is the If-Match precondition against what v's ETag is now:
// 412, with the current ETag, when it does not match.
func (r *Request) ifMatch(v any) error {
	etag := bodyETag(v)
	if im, ok := r.IfMatch(); ok && !etagMatches(im, etag) {
		return PreconditionFailed("The member changed: its ETag does not match If-Match").With("Etag", etag)
	}
	return nil
}

func (r *Request) shareLocation(parts ...string) string {
	return Prefix + "/v" + r.Version.String() + "/" + strings.Join(parts, "/")
}

func (a *API) createShare(r *Request) (any, error) {
	var b shareBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	if b.Name == nil {
		return nil, BadArgs("Invalid name: required")
	}
	sh, err := a.files.CreateShare(r.Context(), r.sharer(), *b.Name)
	if err != nil {
		return nil, r.shareError(err)
	}
	sh, err = a.files.Share(r.Context(), r.sharer(), sh.SID)
	return r.shareAnswer(http.StatusCreated, sharedFolderOf(sh), err, "shares", sh.SID)
}

func (a *API) shareFolder(r *Request) (any, error) {
	ref, err := r.pathRef()
	if err != nil {
		return nil, err
	}
	v, err := a.files.ShareFolder(r.Context(), r.sharer(), ref, r.scopeCheck(true))
	if err != nil {
		return nil, r.shareError(err)
	}
	return objectOf(v, false, false), nil
}

func (a *API) getShare(r *Request) (any, error) {
	sh, err := a.pathShare(r)
	if err != nil {
		return nil, err
	}
	return r.tagged(http.StatusOK, sharedFolderOf(sh), nil), nil
}

// pathShare reads the path's share (its id in {id}) as r's principal
// sees it.
func (a *API) pathShare(r *Request) (tree.Share, error) {
	sid, err := r.shareID("id")
	if err != nil {
		return tree.Share{}, err
	}
	sh, err := a.files.Share(r.Context(), r.sharer(), sid)
	if err != nil {
		return tree.Share{}, r.shareError(err)
	}
	return sh, nil
}

// shareMemberBodyOf decodes the body of a member, group or pending
// route: its key (the email or group id) read by key when there is
// one, then its permissions, required when need.
func (r *Request) shareMemberBodyOf(need bool, key func(shareMemberBody) (string, error)) (shareMemberBody, string, tree.Perm, error) {
	var b shareMemberBody
	if err := r.Decode(&b); err != nil {
		return b, "", 0, err
	}
	var k string
	if key != nil {
		var err error
		if k, err = key(b); err != nil {
			return b, "", 0, err
		}
	}
	perm, err := parsePermissions(b.Permissions, need)
	return b, k, perm, err
}

// emailKey is a member or pending body's key: its email.
func emailKey(b shareMemberBody) (string, error) { return bodyEmailField("email", b.Email) }

// groupIDKey is a group body's key: its id.
func groupIDKey(b shareMemberBody) (string, error) {
	id := strings.ToLower(strings.TrimSpace(b.ID))
	if id == "" {
		return "", BadArgs("Invalid id: required")
	}
	return id, nil
}

// shareAnswer answers a share call: its error through shareError, or
// v (the call's result in the API's type) tagged with status and, with
// location parts, a Location header.
func (r *Request) shareAnswer(status int, v any, err error, location ...string) (any, error) {
	if err != nil {
		return nil, r.shareError(err)
	}
	var header http.Header
	if len(location) > 0 {
		header = http.Header{"Location": {r.shareLocation(location...)}}
	}
	return r.tagged(status, v, header), nil
}

// shareDone answers a share call without a body: its error through
// shareError, or 204.
func (r *Request) shareDone(err error) (any, error) {
	if err != nil {
		return nil, r.shareError(err)
	}
	return nil, nil
}

func (a *API) renameShare(r *Request) (any, error) {
	sid, err := r.shareID("id")
	if err != nil {
		return nil, err
	}
	var b shareBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	if b.Name == nil {
		return nil, BadArgs("Invalid name: required")
	}
	if err := a.files.RenameShare(r.Context(), r.sharer(), sid, *b.Name); err != nil {
		return nil, r.shareError(err)
	}
	sh, err := a.files.Share(r.Context(), r.sharer(), sid)
	return r.shareAnswer(http.StatusOK, sharedFolderOf(sh), err)
}

func (a *API) destroyShare(r *Request) (any, error) {
	sid, err := r.shareID("id")
	if err != nil {
		return nil, err
	}
	return r.shareDone(a.files.DestroyShare(r.Context(), r.sharer(), sid))
}

func sharedFoldersOf(shs []tree.Share) []SharedFolder {
	out := make([]SharedFolder, len(shs))
	for i, sh := range shs {
		out[i] = sharedFolderOf(sh)
	}
	return out
}

func (a *API) userShares(r *Request) (any, error) {
	email, err := r.selfOrAdmin()
	if err != nil {
		return nil, err
	}
	shs, err := a.files.UserShares(r.Context(), email)
	if err != nil {
		return nil, r.shareError(err)
	}
	return sharedFoldersOf(shs), nil
}

func (a *API) groupShares(r *Request) (any, error) {
	id := strings.ToLower(chi.URLParam(r.Request, "id"))
	if _, err := a.acc.store.Group(r.Context(), id); errors.Is(err, auth.ErrNotFound) {
		return nil, orgError(auth.ErrNoGroup)
	} else if err != nil {
		return nil, err
	}
	shs, err := a.files.GroupShares(r.Context(), r.Principal.Email, id)
	if err != nil {
		return nil, r.shareError(err)
	}
	return sharedFoldersOf(shs), nil
}

func (a *API) shareMembers(r *Request) (any, error) {
	sh, err := a.pathShare(r)
	if err != nil {
		return nil, err
	}
	return sharedFolderOf(sh).Members, nil
}

func (a *API) addShareMember(r *Request) (any, error) {
	sid, err := r.shareID("id")
	if err != nil {
		return nil, err
	}
	_, email, perm, err := r.shareMemberBodyOf(false, emailKey)
	if err != nil {
		return nil, err
	}
	m, err := a.files.AddMember(r.Context(), r.sharer(), sid, email, perm)
	return r.shareAnswer(http.StatusCreated, memberOf(m), err, "shares", sid, "members", m.Email)
}

// shareMemberPath reads the path's share id and member email.
func (r *Request) shareMemberPath() (string, string, error) {
	sid, err := r.shareID("id")
	if err != nil {
		return "", "", err
	}
	email, err := r.PathEmail("email")
	return sid, email, err
}

// memberMatch is a member's If-Match precondition.
func (r *Request) memberMatch(m tree.Member) error { return r.ifMatch(memberOf(m)) }

// groupMatch is a group's If-Match precondition.
func (r *Request) groupMatch(g tree.ShareGroup) error { return r.ifMatch(groupMemberOf(g)) }

func (a *API) shareMember(r *Request) (any, error) {
	sid, email, err := r.shareMemberPath()
	if err != nil {
		return nil, err
	}
	m, err := a.files.Member(r.Context(), r.sharer(), sid, email)
	return r.shareAnswer(http.StatusOK, memberOf(m), err)
}

func (a *API) updateShareMember(r *Request) (any, error) {
	sid, email, err := r.shareMemberPath()
	if err != nil {
		return nil, err
	}
	_, _, perm, err := r.shareMemberBodyOf(true, nil)
	if err != nil {
		return nil, err
	}
	m, err := a.files.UpdateMember(r.Context(), r.sharer(), sid, email, perm, r.memberMatch)
	return r.shareAnswer(http.StatusOK, memberOf(m), err)
}

func (a *API) removeShareMember(r *Request) (any, error) {
	sid, email, err := r.shareMemberPath()
	if err != nil {
		return nil, err
	}
	return r.shareDone(a.files.RemoveMember(r.Context(), r.sharer(), sid, email, r.memberMatch))
}

func (a *API) shareGroups(r *Request) (any, error) {
	sh, err := a.pathShare(r)
	if err != nil {
		return nil, err
	}
	return sharedFolderOf(sh).Groups, nil
}

func (a *API) addShareGroup(r *Request) (any, error) {
	sid, err := r.shareID("id")
	if err != nil {
		return nil, err
	}
	_, id, perm, err := r.shareMemberBodyOf(false, groupIDKey)
	if err != nil {
		return nil, err
	}
	g, err := a.files.AddGroup(r.Context(), r.sharer(), sid, id, perm)
	return r.shareAnswer(http.StatusCreated, groupMemberOf(g), err, "shares", sid, "groups", g.ID)
}

// shareGroupPath reads the path's share id and group id.
func (r *Request) shareGroupPath() (string, string, error) {
	sid, err := r.shareID("id")
	if err != nil {
		return "", "", err
	}
	return sid, strings.ToLower(chi.URLParam(r.Request, "gid")), nil
}

func (a *API) shareGroup(r *Request) (any, error) {
	sid, gid, err := r.shareGroupPath()
	if err != nil {
		return nil, err
	}
	g, err := a.files.ShareGroup(r.Context(), r.sharer(), sid, gid)
	return r.shareAnswer(http.StatusOK, groupMemberOf(g), err)
}

func (a *API) updateShareGroup(r *Request) (any, error) {
	sid, gid, err := r.shareGroupPath()
	if err != nil {
		return nil, err
	}
	_, _, perm, err := r.shareMemberBodyOf(true, nil)
	if err != nil {
		return nil, err
	}
	g, err := a.files.UpdateGroup(r.Context(), r.sharer(), sid, gid, perm, r.groupMatch)
	return r.shareAnswer(http.StatusOK, groupMemberOf(g), err)
}

func (a *API) removeShareGroup(r *Request) (any, error) {
	sid, gid, err := r.shareGroupPath()
	if err != nil {
		return nil, err
	}
	return r.shareDone(a.files.RemoveGroup(r.Context(), r.sharer(), sid, gid, r.groupMatch))
}

func (a *API) sharePendingList(r *Request) (any, error) {
	sh, err := a.pathShare(r)
	if err != nil {
		return nil, err
	}
	return sharedFolderOf(sh).Pending, nil
}

// maxNoteLen bounds an invitation's note, in bytes.
const maxNoteLen = 1024

func (a *API) inviteToShare(r *Request) (any, error) {
	sid, err := r.shareID("id")
	if err != nil {
		return nil, err
	}
	b, email, perm, err := r.shareMemberBodyOf(false, emailKey)
	if err != nil {
		return nil, err
	}
	if len(b.Note) > maxNoteLen {
		return nil, BadArgs("Invalid note: longer than 1024 bytes")
	}
	version := r.Version.String()
	mail := func(sid, share, inviter, note string) auth.Mail {
		return auth.Mail{Subject: inviter + " shares a folder with you", Body: shareMailBody(version, sid, share, inviter, email, note)}
	}
	p, err := a.files.Invite(r.Context(), r.sharer(), sid, email, perm, b.Note, mail)
	return r.shareAnswer(http.StatusCreated, pendingOf(p), err, "shares", sid, "pending", p.Email)
}

// shareMailBody is the share invitation mail's text.
func shareMailBody(version, sid, share, inviter, to, note string) string {
	body := inviter + " invites you to the shared folder \"" + share + "\".\n\n"
	if note != "" {
		body += "Their note:\n\n  " + note + "\n\n"
	}
	return body + "Accept with POST " + Prefix + "/v" + version + "/users/" + to + "/invitations/" + sid + "\n" +
		"(external=1 to keep it outside your root folder), or ignore it with DELETE on the same path.\n"
}

func (a *API) sharePending(r *Request) (any, error) {
	sid, email, err := r.shareMemberPath()
	if err != nil {
		return nil, err
	}
	p, err := a.files.PendingMember(r.Context(), r.sharer(), sid, email)
	return r.shareAnswer(http.StatusOK, pendingOf(p), err)
}

func (a *API) deleteSharePending(r *Request) (any, error) {
	sid, email, err := r.shareMemberPath()
	if err != nil {
		return nil, err
	}
	return r.shareDone(a.files.DeletePending(r.Context(), r.sharer(), sid, email))
}

func invitationsOf(invs []tree.Invitation) []ShareInvitation {
	out := make([]ShareInvitation, len(invs))
	for i, inv := range invs {
		out[i] = ShareInvitation{ShareID: inv.SID, ShareName: inv.Name, InvitedBy: inv.InvitedBy, Permissions: roleOf(inv.Perm)}
	}
	return out
}

func (a *API) invitations(r *Request) (any, error) {
	email, err := r.selfOrAdmin()
	if err != nil {
		return nil, err
	}
	invs, err := a.files.Invitations(r.Context(), email, "")
	if err != nil {
		return nil, r.shareError(err)
	}
	return invitationsOf(invs), nil
}

func (a *API) invitationTo(r *Request) (any, error) {
	email, err := r.selfOrAdmin()
	if err != nil {
		return nil, err
	}
	sid, err := r.shareID("sid")
	if err != nil {
		return nil, err
	}
	invs, err := a.files.Invitations(r.Context(), email, sid)
	if errors.Is(err, tree.ErrNotFound) {
		return nil, NotFound("No such invitation")
	} else if err != nil {
		return nil, r.shareError(err)
	}
	return invitationsOf(invs)[0], nil
}

// invitee reads the path's user, who must be r's principal: only invitees
// accept or ignore their invitations.
func (r *Request) invitee() (string, error) {
	email, err := r.PathEmail("email")
	if err != nil {
		return "", err
	}
	if email != r.Principal.Email {
		return "", Forbidden("Only the invitee may accept or ignore an invitation")
	}
	return email, nil
}

func (a *API) acceptInvitation(r *Request) (any, error) {
	email, err := r.invitee()
	if err != nil {
		return nil, err
	}
	sid, err := r.shareID("sid")
	if err != nil {
		return nil, err
	}
	external := false
	switch v := r.URL.Query().Get("external"); v {
	case "", "0", "false":
	case "1", "true":
		external = true
	default:
		return nil, BadArgs("Invalid external: want 0 or 1")
	}
	if _, err := a.files.Accept(r.Context(), r.sharer(), email, sid, external); errors.Is(err, tree.ErrNotFound) {
		return nil, NotFound("No such invitation")
	} else if err != nil {
		return nil, r.shareError(err)
	}
	sh, err := a.files.Share(r.Context(), r.sharer(), sid)
	return r.shareAnswer(http.StatusCreated, sharedFolderOf(sh), err, "shares", sid)
}

func (a *API) ignoreInvitation(r *Request) (any, error) {
	email, err := r.invitee()
	if err != nil {
		return nil, err
	}
	sid, err := r.shareID("sid")
	if err != nil {
		return nil, err
	}
	if err := a.files.Ignore(r.Context(), r.sharer(), email, sid); errors.Is(err, tree.ErrNotFound) {
		return nil, NotFound("No such invitation")
	} else if err != nil {
		return nil, r.shareError(err)
	}
	return nil, nil
}
