package contentapi

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/contentapi/tree"
	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
)

// sharesEnv is the files environment with Bob signed in too.
type sharesEnv struct {
	*filesEnv
	bobTok, bobDevice string
}

func newSharesEnv(t *testing.T, b metadbtest.Backend) *sharesEnv {
	t.Helper()
	f := newFilesEnv(t, b)
	s := &sharesEnv{filesEnv: f}
	s.bobTok, s.bobDevice = f.signIn(t, bobEmail, bobPW)
	f.events(t)
	return s
}

// bob calls as Bob.
func (s *sharesEnv) bob(t *testing.T, method, path, body string, header ...string) answer {
	t.Helper()
	return s.call(t, method, path, body, append(header, bearer(s.bobTok))...)
}

func (s *sharesEnv) aliceCaller() map[string]any {
	return map[string]any{"email": aliceEmail, "device": s.device}
}

func (s *sharesEnv) bobCaller() map[string]any {
	return map[string]any{"email": bobEmail, "device": s.bobDevice}
}

// sharing is a SHARING (or AUDIT, for the extension events) event on
// the share sid named name, by caller, with extra fields.
func sharing(name, sid, share string, caller map[string]any, extra event) event {
	topic := "SHARING"
	if strings.HasPrefix(name, "audit.") {
		topic = "AUDIT"
	}
	ev := event{"topic": topic, "event": name, "folder": map[string]any{"id": sid, "name": share}, "caller": caller}
	for k, v := range extra {
		ev[k] = v
	}
	return ev
}

func role(r ...string) []any {
	out := []any{}
	for _, x := range r {
		out = append(out, x)
	}
	return out
}

// TestShares_Lifecycle walks a share's life through the real router:
// create, read with ETags, rename, members, groups, invitations, leave,
// destroy, checking each answer and its exact event.
func TestShares_Lifecycle(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		s := newSharesEnv(t, b)
		ctx := context.Background()
		const v = "/api/v1.4"

		// Create.
		want(t, "create without a name", s.do(t, "POST", v+"/shares", `{}`), 400)
		want(t, "create with a bad name", s.do(t, "POST", v+"/shares", `{"name":"a/b"}`), 400)
		a := s.do(t, "POST", v+"/shares", `{"name":"Team"}`)
		want(t, "create", a, 201)
		sh := decode[SharedFolder](t, a)
		sid := sh.ID
		if a.header.Get("Location") != v+"/shares/"+sid {
			t.Errorf("Location %q", a.header.Get("Location"))
		}
		wantShare := SharedFolder{ID: sid, Name: "Team", Members: []SFMember{{Email: aliceEmail, FirstName: "Alice", LastName: "Liddell",
			Permissions: []string{"MANAGE", "WRITE"}}}, Groups: []SFGroupMember{}, Pending: []SFPendingMember{},
			CallerEffectivePermissions: []string{"MANAGE", "WRITE"}}
		if diff := cmp.Diff(wantShare, sh); diff != "" {
			t.Errorf("created (-want +got):\n%s", diff)
		}
		s.wantEvents(t, sharing("folder.create", sid, "Team", s.aliceCaller(), nil))
		want(t, "create a taken name", s.do(t, "POST", v+"/shares", `{"name":"Team"}`), 409)
		admin0, _ := s.signIn(t, adminEmail, adminPW)
		if a := s.call(t, "GET", v+"/stats/shares", "", bearer(admin0)); a.body != `{"count":1}` {
			t.Errorf("stats: %d %s", a.status, a.body)
		}
		s.events(t)

		// Its anchor in Alice's root is a shared folder.
		root := decode[Children](t, s.do(t, "GET", v+"/children", ""))
		if len(root.Folders) != 1 || !root.Folders[0].IsShared || root.Folders[0].SID != sid {
			t.Errorf("root's folders %+v", root.Folders)
		}
		s.events(t)

		// Read, with ETag and If-None-Match.
		a = s.do(t, "GET", v+"/shares/"+sid, "")
		want(t, "get", a, 200)
		etag := a.header.Get("Etag")
		want(t, "get unchanged", s.do(t, "GET", v+"/shares/"+sid, "", "If-None-Match: "+etag), 304)
		want(t, "get with another tag", s.do(t, "GET", v+"/shares/"+sid, "", `If-None-Match: W/"x"`), 200)
		want(t, "get a bad id", s.do(t, "GET", v+"/shares/xyz", ""), 400)
		want(t, "get an unknown share", s.do(t, "GET", v+"/shares/0123456789abcdef0123456789abcdef", ""), 404)
		want(t, "an outsider gets", s.bob(t, "GET", v+"/shares/"+sid, ""), 404)
		want(t, "an old version", s.do(t, "PUT", "/api/v1.3/shares/"+sid+"/name", `{"name":"x"}`), 404)

		// Rename.
		a = s.do(t, "PUT", v+"/shares/"+sid+"/name", `{"name":"Team Photos"}`)
		want(t, "rename", a, 200)
		if got := decode[SharedFolder](t, a).Name; got != "Team Photos" {
			t.Errorf("renamed to %q", got)
		}
		s.wantEvents(t, sharing("audit.folder.rename", sid, "Team", s.aliceCaller(), event{"name": "Team Photos"}))
		want(t, "the old ETag", s.do(t, "GET", v+"/shares/"+sid, "", "If-None-Match: "+etag), 200)
		const name = "Team Photos"

		// Members: add Bob directly as a viewer.
		want(t, "add without an email", s.do(t, "POST", v+"/shares/"+sid+"/members", `{}`), 400)
		want(t, "add with a bad role", s.do(t, "POST", v+"/shares/"+sid+"/members", `{"email":"bob@example.com","permissions":["OWN"]}`), 400)
		want(t, "add with a role not an array", s.do(t, "POST", v+"/shares/"+sid+"/members", `{"email":"bob@example.com","permissions":"WRITE"}`), 400)
		want(t, "add an unknown user", s.do(t, "POST", v+"/shares/"+sid+"/members", `{"email":"nobody@example.com"}`), 404)
		a = s.do(t, "POST", v+"/shares/"+sid+"/members", `{"email":"Bob@Example.com","permissions":[]}`)
		want(t, "add", a, 201)
		if diff := cmp.Diff(SFMember{Email: bobEmail, FirstName: "Bob", LastName: "Builder", Permissions: []string{}}, decode[SFMember](t, a)); diff != "" {
			t.Errorf("added (-want +got):\n%s", diff)
		}
		s.wantEvents(t, sharing("folder.add", sid, name, s.aliceCaller(), event{"target": bobEmail, "role": role()}))
		want(t, "add again", s.do(t, "POST", v+"/shares/"+sid+"/members", `{"email":"bob@example.com"}`), 409)

		// Bob, a viewer, sees the share and its files but changes nothing.
		a = s.bob(t, "GET", v+"/users/"+bobEmail+"/shares", "")
		want(t, "Bob's shares", a, 200)
		if got := decode[[]SharedFolder](t, a); len(got) != 1 || got[0].ID != sid || len(got[0].CallerEffectivePermissions) != 0 {
			t.Errorf("Bob's shares: %+v", got)
		}
		want(t, "Alice's shares as Bob", s.bob(t, "GET", v+"/users/"+aliceEmail+"/shares", ""), 403)
		want(t, "a viewer adds", s.bob(t, "POST", v+"/shares/"+sid+"/members", `{"email":"admin@example.com"}`), 403)
		want(t, "a viewer renames", s.bob(t, "PUT", v+"/shares/"+sid+"/name", `{"name":"x"}`), 403)
		s.events(t)

		// Update Bob with If-Match.
		a = s.do(t, "GET", v+"/shares/"+sid+"/members/"+bobEmail, "")
		want(t, "member", a, 200)
		metag := a.header.Get("Etag")
		want(t, "member unchanged", s.do(t, "GET", v+"/shares/"+sid+"/members/"+bobEmail, "", "If-None-Match: "+metag), 304)
		want(t, "update without permissions", s.do(t, "PUT", v+"/shares/"+sid+"/members/"+bobEmail, `{}`), 400)
		want(t, "update stale", s.do(t, "PUT", v+"/shares/"+sid+"/members/"+bobEmail, `{"permissions":["WRITE"]}`, `If-Match: W/"stale"`), 412)
		a = s.do(t, "PUT", v+"/shares/"+sid+"/members/"+bobEmail, `{"permissions":["write"]}`, "If-Match: "+metag)
		want(t, "update", a, 200)
		if got := decode[SFMember](t, a).Permissions; !cmp.Equal(got, []string{"WRITE"}) {
			t.Errorf("updated to %v", got)
		}
		s.wantEvents(t, sharing("folder.permission.update", sid, name, s.aliceCaller(),
			event{"admin_user": aliceEmail, "target": bobEmail, "old_role": role(), "new_role": role("WRITE")}))
		want(t, "update with the old tag", s.do(t, "PUT", v+"/shares/"+sid+"/members/"+bobEmail, `{"permissions":[]}`, "If-Match: "+metag), 412)
		want(t, "update an unknown member", s.do(t, "PUT", v+"/shares/"+sid+"/members/nobody@example.com", `{"permissions":[]}`), 404)
		want(t, "demote the last manager", s.do(t, "PUT", v+"/shares/"+sid+"/members/"+aliceEmail, `{"permissions":["WRITE"]}`), 409)
		want(t, "remove the last manager", s.do(t, "DELETE", v+"/shares/"+sid+"/members/"+aliceEmail, ""), 409)
		want(t, "a writer removes the manager", s.bob(t, "DELETE", v+"/shares/"+sid+"/members/"+aliceEmail, ""), 403)
		s.events(t)

		// Groups: Bob's group gets MANAGE.
		g, err := s.store.CreateGroup(ctx, "Builders")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.store.AddGroupMember(ctx, g.ID, bobEmail); err != nil {
			t.Fatal(err)
		}
		s.events(t)
		want(t, "add an unknown group", s.do(t, "POST", v+"/shares/"+sid+"/groups", `{"id":"0123456789abcdef0123456789abcdef"}`), 404)
		want(t, "add a group without id", s.do(t, "POST", v+"/shares/"+sid+"/groups", `{}`), 400)
		a = s.do(t, "POST", v+"/shares/"+sid+"/groups", `{"id":"`+g.ID+`","permissions":["MANAGE"]}`)
		want(t, "add a group", a, 201)
		if diff := cmp.Diff(SFGroupMember{ID: g.ID, Name: "Builders", Permissions: []string{"MANAGE"}}, decode[SFGroupMember](t, a)); diff != "" {
			t.Errorf("group (-want +got):\n%s", diff)
		}
		s.wantEvents(t, sharing("audit.folder.group.add", sid, name, s.aliceCaller(), event{"group": g.ID, "role": role("MANAGE")}))
		want(t, "add the group again", s.do(t, "POST", v+"/shares/"+sid+"/groups", `{"id":"`+g.ID+`"}`), 409)
		a = s.bob(t, "GET", v+"/shares/"+sid, "")
		if got := decode[SharedFolder](t, a).CallerEffectivePermissions; !cmp.Equal(got, []string{"MANAGE", "WRITE"}) {
			t.Errorf("Bob's effective permissions %v", got)
		}
		a = s.do(t, "GET", v+"/groups/"+g.ID+"/shares", "")
		want(t, "the group's shares", a, 200)
		if got := decode[[]SharedFolder](t, a); len(got) != 1 || got[0].ID != sid {
			t.Errorf("the group's shares: %+v", got)
		}
		want(t, "an unknown group's shares", s.do(t, "GET", v+"/groups/0123456789abcdef0123456789abcdef/shares", ""), 404)
		a = s.do(t, "GET", v+"/shares/"+sid+"/groups/"+g.ID, "")
		want(t, "one group", a, 200)
		getag := a.header.Get("Etag")
		want(t, "update a group stale", s.do(t, "PUT", v+"/shares/"+sid+"/groups/"+g.ID, `{"permissions":[]}`, `If-Match: W/"x"`), 412)
		want(t, "update a group", s.do(t, "PUT", v+"/shares/"+sid+"/groups/"+g.ID, `{"permissions":[]}`, "If-Match: "+getag), 200)
		s.wantEvents(t, sharing("audit.folder.group.update", sid, name, s.aliceCaller(), event{"group": g.ID, "old_role": role("MANAGE"), "new_role": role()}))
		a = s.do(t, "GET", v+"/shares/"+sid+"/groups", "")
		if got := decode[[]SFGroupMember](t, a); len(got) != 1 || len(got[0].Permissions) != 0 {
			t.Errorf("groups %+v", got)
		}
		want(t, "remove a group", s.do(t, "DELETE", v+"/shares/"+sid+"/groups/"+g.ID, ""), 204)
		s.wantEvents(t, sharing("audit.folder.group.remove", sid, name, s.aliceCaller(), event{"group": g.ID}))
		want(t, "remove it again", s.do(t, "DELETE", v+"/shares/"+sid+"/groups/"+g.ID, ""), 404)

		// Pending: invite the admin, with a note; the mail goes out.
		want(t, "invite a member", s.do(t, "POST", v+"/shares/"+sid+"/pending", `{"email":"bob@example.com"}`), 409)
		a = s.do(t, "POST", v+"/shares/"+sid+"/pending", `{"email":"admin@example.com","permissions":["WRITE"],"note":"for the photos"}`)
		want(t, "invite", a, 201)
		wantPending := SFPendingMember{Email: adminEmail, FirstName: "Ada", LastName: "Admin", InvitedBy: aliceEmail, Permissions: []string{"WRITE"}, Note: "for the photos"}
		if diff := cmp.Diff(wantPending, decode[SFPendingMember](t, a)); diff != "" {
			t.Errorf("pending (-want +got):\n%s", diff)
		}
		s.wantEvents(t, sharing("folder.invite", sid, name, s.aliceCaller(), event{"sharer": aliceEmail, "target": adminEmail, "role": role("WRITE")}))
		mails, err := s.store.ListMail(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(mails); n == 0 || mails[n-1].To != adminEmail || !strings.Contains(mails[n-1].Body, "for the photos") || !strings.Contains(mails[n-1].Body, sid) {
			t.Errorf("mails %+v", mails)
		}
		want(t, "invite again", s.do(t, "POST", v+"/shares/"+sid+"/pending", `{"email":"admin@example.com"}`), 409)
		want(t, "one pending", s.do(t, "GET", v+"/shares/"+sid+"/pending/"+adminEmail, ""), 200)
		if got := decode[[]SFPendingMember](t, s.do(t, "GET", v+"/shares/"+sid+"/pending", "")); len(got) != 1 {
			t.Errorf("pending %+v", got)
		}
		want(t, "withdraw an unknown invitation", s.do(t, "DELETE", v+"/shares/"+sid+"/pending/nobody@example.com", ""), 404)

		// The admin's invitations; accepting as external.
		admin, adminDevice := s.signIn(t, adminEmail, adminPW)
		adminCaller := map[string]any{"email": adminEmail, "device": adminDevice, "acting_as": OrgAdminID}
		a = s.call(t, "GET", v+"/users/"+adminEmail+"/invitations", "", bearer(admin))
		want(t, "invitations", a, 200)
		if diff := cmp.Diff([]ShareInvitation{{ShareID: sid, ShareName: name, InvitedBy: aliceEmail, Permissions: []string{"WRITE"}}},
			decode[[]ShareInvitation](t, a)); diff != "" {
			t.Errorf("invitations (-want +got):\n%s", diff)
		}
		want(t, "one invitation", s.call(t, "GET", v+"/users/"+adminEmail+"/invitations/"+sid, "", bearer(admin)), 200)
		want(t, "accept for another", s.do(t, "POST", v+"/users/"+adminEmail+"/invitations/"+sid, ""), 403)
		want(t, "accept with a bad flag", s.call(t, "POST", v+"/users/"+adminEmail+"/invitations/"+sid+"?external=2", "", bearer(admin)), 400)
		s.events(t)
		a = s.call(t, "POST", v+"/users/"+adminEmail+"/invitations/"+sid+"?external=1", "", bearer(admin))
		want(t, "accept", a, 201)
		if got := decode[SharedFolder](t, a); !got.IsExternal || !cmp.Equal(got.CallerEffectivePermissions, []string{"WRITE"}) {
			t.Errorf("accepted: %+v", got)
		}
		s.wantEvents(t, sharing("folder.join", sid, name, adminCaller, event{"target": adminEmail, "role": role("WRITE"), "join_as": "external"}))
		want(t, "accept again", s.call(t, "POST", v+"/users/"+adminEmail+"/invitations/"+sid, "", bearer(admin)), 404)

		// Invite someone, then withdraw; remove the admin, invite them
		// again, and they ignore it.
		want(t, "invite someone", s.do(t, "POST", v+"/shares/"+sid+"/pending", `{"email":"carol@example.com"}`), 201)
		s.events(t)
		want(t, "withdraw", s.do(t, "DELETE", v+"/shares/"+sid+"/pending/carol@example.com", ""), 204)
		s.wantEvents(t, sharing("folder.delete_invitation", sid, name, s.aliceCaller(), event{"target": "carol@example.com"}))
		want(t, "remove the admin", s.do(t, "DELETE", v+"/shares/"+sid+"/members/"+adminEmail, ""), 204)
		s.wantEvents(t, sharing("folder.permission.delete", sid, name, s.aliceCaller(), event{"target": adminEmail}))
		want(t, "invite the admin again", s.do(t, "POST", v+"/shares/"+sid+"/pending", `{"email":"admin@example.com"}`), 201)
		s.events(t)
		want(t, "ignore", s.call(t, "DELETE", v+"/users/"+adminEmail+"/invitations/"+sid, "", bearer(admin)), 204)
		s.wantEvents(t, sharing("folder.delete_invitation", sid, name, adminCaller, event{"target": adminEmail}))
		want(t, "ignore again", s.call(t, "DELETE", v+"/users/"+adminEmail+"/invitations/"+sid, "", bearer(admin)), 404)

		// Bob leaves.
		want(t, "leave", s.bob(t, "DELETE", v+"/shares/"+sid+"/members/"+bobEmail, ""), 204)
		s.wantEvents(t, sharing("folder.leave", sid, name, s.bobCaller(), event{"target": bobEmail}))
		want(t, "after leaving", s.bob(t, "GET", v+"/shares/"+sid, ""), 404)

		// Destroy: gone for everyone, with its anchor.
		want(t, "destroy as an outsider", s.bob(t, "DELETE", v+"/shares/"+sid, ""), 404)
		want(t, "destroy", s.do(t, "DELETE", v+"/shares/"+sid, ""), 204)
		s.wantEvents(t, sharing("folder.destroy", sid, name, s.aliceCaller(), nil))
		want(t, "after destroying", s.do(t, "GET", v+"/shares/"+sid, ""), 404)
		if root := decode[Children](t, s.do(t, "GET", v+"/children", "")); len(root.Folders) != 0 {
			t.Errorf("root's folders after destroying: %+v", root.Folders)
		}
		s.events(t)
	})
}

// TestShares_FileAccess checks the file routes inside a share for the
// owner, a WRITE member, a viewer, a member through a group and an
// outsider, and turning a folder with content into a share.
func TestShares_FileAccess(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		s := newSharesEnv(t, b)
		ctx := context.Background()
		const v = "/api/v1.4"

		// A folder with a file, turned into a share.
		d := decode[Folder](t, s.do(t, "POST", v+"/folders", `{"parent":"root","name":"Project"}`))
		fl := decode[File](t, s.do(t, "POST", v+"/files", `{"parent":"`+d.ID+`","name":"plan.txt"}`))
		s.events(t)
		want(t, "share the root", s.do(t, "PUT", v+"/folders/root/is_shared", ""), 409)
		want(t, "share an outsider's folder", s.bob(t, "PUT", v+"/folders/"+d.ID+"/is_shared", ""), 404)
		a := s.do(t, "PUT", v+"/folders/"+d.ID+"/is_shared", "")
		want(t, "share", a, 200)
		shared := decode[Folder](t, a)
		sid := shared.SID
		if !shared.IsShared || sid == "" || shared.Name != "Project" || shared.ID != sid+tree.RootOID {
			t.Errorf("shared folder %+v", shared)
		}
		s.wantEvents(t, sharing("folder.create", sid, "Project", s.aliceCaller(), nil))
		want(t, "share it again", s.do(t, "PUT", v+"/folders/"+d.ID+"/is_shared", ""), 200)
		s.events(t)
		kids := decode[Children](t, s.do(t, "GET", v+"/folders/"+d.ID+"/children", ""))
		if len(kids.Files) != 1 || kids.Files[0].Name != "plan.txt" || kids.Files[0].ID != sid+fl.ID[32:] {
			t.Errorf("the share's files: %+v", kids.Files)
		}
		want(t, "delete a folder holding a share", s.do(t, "DELETE", v+"/folders/"+d.ID, ""), 403)
		s.events(t)
		file := sid + fl.ID[32:]

		// Bob as a viewer, then WRITE, then through a group; the admin an outsider.
		admin, _ := s.signIn(t, adminEmail, adminPW)
		g, err := s.store.CreateGroup(ctx, "Writers")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.store.AddGroupMember(ctx, g.ID, adminEmail); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name        string
			setup       string // a body for POST /shares/{sid}/members, or a group's
			group       bool
			tok         func() string
			read, write int
		}{
			{name: "outsider", tok: func() string { return s.bobTok }, read: 404, write: 404},
			{name: "viewer", setup: `{"email":"bob@example.com","permissions":[]}`, tok: func() string { return s.bobTok }, read: 200, write: 403},
			{name: "group writer", setup: `{"id":"` + g.ID + `","permissions":["WRITE"]}`, group: true, tok: func() string { return admin }, read: 200, write: 201},
			{name: "owner", tok: func() string { return s.tok }, read: 200, write: 201},
		} {
			if c.setup != "" {
				path := v + "/shares/" + sid + "/members"
				if c.group {
					path = v + "/shares/" + sid + "/groups"
				}
				want(t, c.name+": setup", s.do(t, "POST", path, c.setup), 201)
			}
			want(t, c.name+": read a file", s.call(t, "GET", v+"/files/"+file, "", bearer(c.tok())), c.read)
			want(t, c.name+": list the share", s.call(t, "GET", v+"/children/"+sid, "", bearer(c.tok())), c.read)
			want(t, c.name+": create in the share", s.call(t, "POST", v+"/files", `{"parent":"`+sid+`","name":"`+strings.ReplaceAll(c.name, " ", "-")+`.txt"}`, bearer(c.tok())), c.write)
			rename := c.write
			if rename == 201 {
				rename = 200
			}
			want(t, c.name+": rename in the share", s.call(t, "PUT", v+"/files/"+file, `{"name":"plan `+strings.ReplaceAll(c.name, " ", "-")+`.txt"}`, bearer(c.tok())), rename)
			s.events(t)
		}
		if got := decode[[]SharedFolder](t, s.call(t, "GET", v+"/users/"+adminEmail+"/shares", "", bearer(admin))); len(got) != 1 ||
			!cmp.Equal(got[0].CallerEffectivePermissions, []string{"WRITE"}) {
			t.Errorf("the admin's shares: %+v", got)
		}
		s.events(t)
	})
}

// FuzzShareMemberBody feeds the member, group and pending bodies through
// the API's decoding and permission parsing: it never panics, and what
// it accepts is a sorted subset of MANAGE and WRITE.
func FuzzShareMemberBody(f *testing.F) {
	for _, s := range []string{`{"email":"bob@example.com","permissions":["MANAGE","WRITE"]}`, `{"permissions":[]}`,
		`{"permissions":["write","Manage","WRITE"]}`, `{"permissions":"WRITE"}`, `{"permissions":[1]}`, `{"permissions":["OWN"]}`,
		`{"id":"0123456789abcdef0123456789abcdef","permissions":null}`, `{"note":"\u0000"}`, `{`, `null`, `[]`} {
		f.Add([]byte(s))
	}
	a := New(Config{})
	f.Fuzz(func(t *testing.T, body []byte) {
		r := &Request{Request: httptest.NewRequest("POST", "/", bytes.NewReader(body)), api: a}
		var b shareMemberBody
		if err := r.Decode(&b); err != nil {
			return
		}
		p, err := parsePermissions(b.Permissions, false)
		if err != nil {
			return
		}
		got := p.Role()
		for i, x := range got {
			if x != "MANAGE" && x != "WRITE" || i > 0 && got[i-1] >= x {
				t.Errorf("permissions %v read as %v", b.Permissions, got)
			}
		}
		if !p.Has(tree.PermRead) {
			t.Errorf("permissions %v give no read", b.Permissions)
		}
	})
}

// FuzzShareBody feeds POST /shares' body through decoding and the name
// check: whatever is accepted is a name the tree takes.
func FuzzShareBody(f *testing.F) {
	for _, s := range []string{`{"name":"Team"}`, `{"name":"a/b"}`, `{"name":".."}`, `{"name":""}`, `{"name":3}`, `{}`, `{`} {
		f.Add([]byte(s))
	}
	a := New(Config{})
	f.Fuzz(func(t *testing.T, body []byte) {
		r := &Request{Request: httptest.NewRequest("POST", "/", bytes.NewReader(body)), api: a}
		var b shareBody
		if err := r.Decode(&b); err != nil || b.Name == nil {
			return
		}
		if tree.CheckName(*b.Name) == nil && (strings.Contains(*b.Name, "/") || *b.Name == ".." || *b.Name == "") {
			t.Errorf("name %q accepted", *b.Name)
		}
	})
}

// TestShares_AdminManages checks that an organization administrator, no
// member, manages another user's share (the events' caller acting as
// the organization) but reads none of its files.
func TestShares_AdminManages(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		s := newSharesEnv(t, b)
		const v = "/api/v1.4"
		sh := decode[SharedFolder](t, s.do(t, "POST", v+"/shares", `{"name":"Finance"}`))
		s.events(t)
		admin, adminDevice := s.signIn(t, adminEmail, adminPW)
		adminCaller := map[string]any{"email": adminEmail, "device": adminDevice, "acting_as": OrgAdminID}
		a := s.call(t, "GET", v+"/shares/"+sh.ID, "", bearer(admin))
		want(t, "the admin reads the share", a, 200)
		if got := decode[SharedFolder](t, a).CallerEffectivePermissions; len(got) != 0 {
			t.Errorf("the admin's effective permissions %v", got)
		}
		want(t, "the admin lists its files", s.call(t, "GET", v+"/children/"+sh.ID, "", bearer(admin)), 404)
		s.events(t)
		want(t, "the admin adds Bob", s.call(t, "POST", v+"/shares/"+sh.ID+"/members", `{"email":"bob@example.com","permissions":["MANAGE"]}`, bearer(admin)), 201)
		s.wantEvents(t, sharing("folder.add", sh.ID, "Finance", adminCaller, event{"target": bobEmail, "role": role("MANAGE")}))
		want(t, "the admin demotes Alice", s.call(t, "PUT", v+"/shares/"+sh.ID+"/members/"+aliceEmail, `{"permissions":[]}`, bearer(admin)), 200)
		s.wantEvents(t, sharing("folder.permission.update", sh.ID, "Finance", adminCaller,
			event{"admin_user": adminEmail, "target": aliceEmail, "old_role": role("MANAGE", "WRITE"), "new_role": role()}))
		want(t, "Alice, a viewer now, writes", s.do(t, "POST", v+"/files", `{"parent":"`+sh.ID+`","name":"x.txt"}`), 403)
		want(t, "Bob, a manager without WRITE, writes", s.bob(t, "POST", v+"/files", `{"parent":"`+sh.ID+`","name":"x.txt"}`), 403)
		want(t, "Bob destroys", s.bob(t, "DELETE", v+"/shares/"+sh.ID, ""), 204)
		s.wantEvents(t, sharing("folder.destroy", sh.ID, "Finance", s.bobCaller(), nil))
	})
}
