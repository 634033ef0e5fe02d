package contentapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/vigilaudit/vigil/contentapi/link"
	"github.com/vigilaudit/vigil/contentapi/password"
	"github.com/vigilaudit/vigil/contentapi/ratelimit"
	"github.com/vigilaudit/vigil/contentapi/transfer"
	"github.com/vigilaudit/vigil/contentapi/tree"
	"github.com/vigilaudit/vigil/internal/httpapi"
)

// LinkPasswordHeader carries a link's password on the public link
// routes; a POST form's password field does too.
const LinkPasswordHeader = "Link-Password"

// maxLinkPassword bounds a link's password, in bytes.
const maxLinkPassword = 1024

// LinkPrefix is where the public link routes live, outside /api: a
// link's URL is LinkPrefix/{key}.
const LinkPrefix = "/l"

// Link is a link as the API shows it; its password is never shown.
type Link struct {
	Key          string `json:"key"`
	SOID         string `json:"soid"`
	CreatedBy    string `json:"created_by"`
	RequireLogin bool   `json:"require_login"`
	HasPassword  bool   `json:"has_password"`
	Expires      *Time  `json:"expires,omitempty"`
}

// linkBody is the body of POST /links and PUT /links/{key}.
type linkBody struct {
	SOID         *string `json:"soid,omitempty"`
	RequireLogin *bool   `json:"require_login,omitempty"`
	Password     *string `json:"password,omitempty"`
	Expires      *Time   `json:"expires,omitempty"`
}

// linkRoutes are the routes that manage links (linksharing or
// files.write). Only the link's creator, whoever may manage its
// object's store, or an administrator, may read or change a link.
func (a *API) linkRoutes() []Route {
	if a.links == nil || a.acc == nil {
		return nil
	}
	scopes := []string{ScopeLinkSharing, ScopeFilesWrite}
	rt := func(method, path, summary string, h Handler, status int, req any) Route {
		return Route{Method: method, Path: path, Since: V(1, 4), Scopes: scopes, Handle: h, Summary: summary,
			Status: status, Request: req, Response: Link{}}
	}
	none := func(r Route) Route { r.Response = nil; return r }
	return []Route{
		rt(http.MethodPost, "/links", "Create a link to a file or folder", a.createLink, http.StatusCreated, linkBody{}),
		rt(http.MethodGet, "/links/{key}", "A link's settings", a.getLink, 0, nil),
		rt(http.MethodPut, "/links/{key}", "Change several of a link's settings at once", a.updateLink, 0, linkBody{}),
		none(rt(http.MethodDelete, "/links/{key}", "Delete a link", a.deleteLink, http.StatusNoContent, nil)),
		rt(http.MethodPut, "/links/{key}/password", "Set a link's password (a JSON string)", a.setLinkPassword, 0, ""),
		rt(http.MethodDelete, "/links/{key}/password", "Remove a link's password", a.removeLink(link.EventRemovePassword), 0, nil),
		rt(http.MethodPut, "/links/{key}/expires", "Set a link's expiry (a date or epoch milliseconds)", a.setLinkExpiry, 0, Time{}),
		rt(http.MethodDelete, "/links/{key}/expires", "Remove a link's expiry", a.removeLink(link.EventRemoveExpiry), 0, nil),
		rt(http.MethodPut, "/links/{key}/require_login", "Require a signed-in user, or stop (a JSON boolean)", a.setLinkRequireLogin, 0, true),
		rt(http.MethodDelete, "/links/{key}/require_login", "Stop requiring a signed-in user", a.removeLink(link.EventSetRequireLogin), 0, nil),
	}
}

func (a *API) createLink(r *Request) (any, error) {
	var b linkBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	if b.SOID == nil {
		return nil, BadArgs("Invalid soid: required")
	}
	ref, err := tree.ParseRef(strings.TrimSpace(*b.SOID))
	if err != nil || ref.Alias != "" {
		return nil, BadArgs("Invalid soid: want a 64-hex file or folder id or a 32-hex store id")
	}
	set, err := r.linkSettings(b)
	if err != nil {
		return nil, err
	}
	l, err := a.links.Create(r.Context(), r.linkActor(), ref.ID, set)
	if err != nil {
		return nil, linkError(err)
	}
	return httpapi.Response{Status: http.StatusCreated, Body: linkOf(l),
		Header: http.Header{"Location": {Prefix + "/v" + r.Version.String() + "/links/" + l.Key}}}, nil
}

func (a *API) getLink(r *Request) (any, error) {
	key, err := pathKey(r.Request)
	if err != nil {
		return nil, err
	}
	l, err := a.links.Get(r.Context(), r.linkActor(), key)
	if err != nil {
		return nil, linkError(err)
	}
	return linkOf(l), nil
}

func (a *API) updateLink(r *Request) (any, error) {
	var b linkBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	set, err := r.linkSettings(b)
	if err != nil {
		return nil, err
	}
	if set.RequireLogin == nil && set.PasswordHash == nil && set.Expires == nil {
		return nil, BadArgs("Nothing to change: give require_login, password or expires")
	}
	return a.changeLink(r, set, link.EventUpdate)
}

func (a *API) deleteLink(r *Request) (any, error) {
	key, err := pathKey(r.Request)
	if err != nil {
		return nil, err
	}
	if err := a.links.Delete(r.Context(), r.linkActor(), key); err != nil {
		return nil, linkError(err)
	}
	return nil, nil
}

func (a *API) setLinkPassword(r *Request) (any, error) {
	var pw string
	if err := r.decodeSetting("password", &pw); err != nil {
		return nil, err
	}
	set, err := r.linkSettings(linkBody{Password: &pw})
	if err != nil {
		return nil, err
	}
	return a.changeLink(r, set, link.EventSetPassword)
}

func (a *API) setLinkExpiry(r *Request) (any, error) {
	var t Time
	if err := r.decodeSetting("expires", &t); err != nil {
		return nil, err
	}
	set, err := r.linkSettings(linkBody{Expires: &t})
	if err != nil {
		return nil, err
	}
	return a.changeLink(r, set, link.EventSetExpiry)
}

func (a *API) setLinkRequireLogin(r *Request) (any, error) {
	var on bool
	if err := r.decodeSetting("require_login", &on); err != nil {
		return nil, err
	}
	return a.changeLink(r, link.Settings{RequireLogin: &on}, link.EventSetRequireLogin)
}

// removeLink is a DELETE of one setting: the password, the expiry or
// the sign-in requirement.
func (a *API) removeLink(event string) Handler {
	return func(r *Request) (any, error) {
		var set link.Settings
		switch event {
		case link.EventRemovePassword:
			set.PasswordHash = new(string)
		case link.EventRemoveExpiry:
			set.Expires = new(time.Time)
		default:
			set.RequireLogin = new(bool)
		}
		return a.changeLink(r, set, event)
	}
}

func (a *API) changeLink(r *Request, set link.Settings, event string) (any, error) {
	key, err := pathKey(r.Request)
	if err != nil {
		return nil, err
	}
	l, err := a.links.Change(r.Context(), r.linkActor(), key, set, event)
	if err != nil {
		return nil, linkError(err)
	}
	return linkOf(l), nil
}

// decodeSetting reads a one-setting body: the bare JSON value, or an
// object holding it under name.
func (r *Request) decodeSetting(name string, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, r.api.maxBody))
	if err != nil {
		return BadArgs("Cannot read the body: " + err.Error())
	}
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '{' {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(body, &obj); err != nil {
			return BadArgs("Invalid body: not JSON")
		}
		body = obj[name]
	}
	if len(body) == 0 || string(body) == "null" {
		return BadArgs("Invalid " + name + ": required")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return BadArgs("Invalid " + name + ": " + describeJSONType(v))
	}
	return nil
}

func describeJSONType(v any) string {
	switch v.(type) {
	case *string:
		return "want a string"
	case *bool:
		return "want true or false"
	}
	return "want a date (yyyy-MM-ddTHH:mm:ssZ or epoch milliseconds)"
}

// linkSettings turns a body into settings: a password is hashed (an
// empty one is refused), an expiry must lie ahead.
func (r *Request) linkSettings(b linkBody) (link.Settings, error) {
	set := link.Settings{RequireLogin: b.RequireLogin}
	if b.Password != nil {
		if *b.Password == "" {
			return link.Settings{}, BadArgs("Invalid password: empty (DELETE the link's password to remove it)")
		}
		if len(*b.Password) > maxLinkPassword {
			return link.Settings{}, BadArgs("Invalid password: too long")
		}
		h := r.api.acc.hasher.Hash(*b.Password)
		set.PasswordHash = &h
	}
	if b.Expires != nil {
		if b.Expires.IsZero() || !b.Expires.After(r.api.now()) {
			return link.Settings{}, BadArgs("Invalid expires: must lie in the future")
		}
		t := b.Expires.Time
		set.Expires = &t
	}
	return set, nil
}

// linkActor is the request's principal as the links see it, with its
// scopes' say on the linked object.
func (r *Request) linkActor() link.Actor {
	c, _ := json.Marshal(r.Caller()) // strings only: never fails
	p := r.Principal
	return link.Actor{User: p.Email, Admin: p.Admin && p.Scopes.Has(ScopeOrgAdmin), Caller: c, IP: r.IP(),
		Check: func(o tree.Object, ancestors []tree.Object) error {
			ids := make([]string, len(ancestors))
			for i, a := range ancestors {
				ids[i] = a.ID.String()
			}
			id := o.ID.String()
			if p.Scopes.Permits(ScopeLinkSharing, id, ids...) || p.Scopes.Permits(ScopeFilesWrite, id, ids...) {
				return nil
			}
			return lacksScope([]string{ScopeLinkSharing, ScopeFilesWrite})
		}}
}

// pathKey reads the path's {key}.
func pathKey(r *http.Request) (string, error) {
	key, err := link.ParseKey(chi.URLParam(r, "key"))
	if err != nil {
		return "", BadArgs("Invalid key: " + err.Error())
	}
	return key, nil
}

// linkError maps the links' errors to the API's.
func linkError(err error) error {
	var he *httpapi.Error
	switch {
	case errors.As(err, &he):
		return err
	case errors.Is(err, link.ErrNotFound):
		return NotFound("No such link")
	case errors.Is(err, link.ErrNoObject):
		return NotFound("No such file or folder")
	case errors.Is(err, link.ErrForbidden):
		return Forbidden("Only the link's creator or a manager of its folder may do this")
	case errors.Is(err, link.ErrNotFile):
		return NotFound("Not a file: only files have content")
	}
	return err
}

func linkOf(l link.Link) Link {
	out := Link{Key: l.Key, SOID: l.Object.String(), CreatedBy: l.CreatedBy, RequireLogin: l.RequireLogin, HasPassword: l.PasswordHash != ""}
	if !l.Expires.IsZero() {
		out.Expires = &Time{l.Expires}
	}
	return out
}

// Gone is 410: a link that expired.
func Gone(msg string) *httpapi.Error {
	return httpapi.NewError(http.StatusGone, "gone", msg)
}

// LinkTarget is what the public link routes answer for metadata: the
// object (a File or a Folder with its children) below the link.
type LinkTarget struct {
	File   *File   `json:"file,omitempty"`
	Folder *Folder `json:"folder,omitempty"`
}

// publicLinkRoutes are the routes a link's holder calls without an
// account: the linked object's metadata and content, and for a folder
// the metadata and content of what lies inside. Each takes the password
// in the Link-Password header (GET) or a form's password field (POST).
func (a *API) publicLinkRoutes() []httpapi.Route {
	if a.links == nil || a.acc == nil {
		return nil
	}
	var out []httpapi.Route
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		out = append(out,
			httpapi.Route{Method: method, Pattern: LinkPrefix + "/{key}", Summary: "A link's object: a file, or a folder with its children",
				Access: httpapi.Public, Family: httpapi.Content, Response: LinkTarget{}, Handler: httpapi.NoStore(a.mapper.Handle(a.linkMeta))},
			httpapi.Route{Method: method, Pattern: LinkPrefix + "/{key}/content", Summary: "A file link's content (Range)",
				Access: httpapi.Public, Family: httpapi.Content, Handler: a.linkContent()},
			httpapi.Route{Method: method, Pattern: LinkPrefix + "/{key}/{id}", Summary: "An object inside a folder link",
				Access: httpapi.Public, Family: httpapi.Content, Response: LinkTarget{}, Handler: httpapi.NoStore(a.mapper.Handle(a.linkMeta))},
			httpapi.Route{Method: method, Pattern: LinkPrefix + "/{key}/{id}/content", Summary: "A file's content inside a folder link (Range)",
				Access: httpapi.Public, Family: httpapi.Content, Handler: a.linkContent()},
		)
	}
	return out
}

// openLink reads the request's link and checks what it asks, in order:
// the key (400, 404), the expiry (410), a signed-in user (401), the
// password (429 when the limit refuses, 403 when wrong, both audited).
func (a *API) openLink(r *http.Request) (link.Link, tree.ID, error) {
	key, err := pathKey(r)
	if err != nil {
		return link.Link{}, tree.ID{}, err
	}
	var target tree.ID
	if s := chi.URLParam(r, "id"); s != "" {
		ref, err := tree.ParseRef(s)
		if err != nil || ref.Alias != "" {
			return link.Link{}, tree.ID{}, BadArgs("Invalid id: want a 64-hex file or folder id")
		}
		target = ref.ID
	}
	l, err := a.links.Find(r.Context(), key)
	if err != nil {
		return link.Link{}, tree.ID{}, linkError(err)
	}
	if l.Expired(a.now()) {
		return link.Link{}, tree.ID{}, Gone("The link expired")
	}
	if l.RequireLogin {
		if _, err := a.authenticate(r); err != nil {
			return link.Link{}, tree.ID{}, err
		}
	}
	if l.PasswordHash != "" {
		if err := a.checkLinkPassword(r, l); err != nil {
			return link.Link{}, tree.ID{}, err
		}
	}
	return l, target, nil
}

func (a *API) checkLinkPassword(r *http.Request, l link.Link) error {
	ip := ClientIP(r)
	k := ratelimit.Key(ip, l.Key)
	if d := a.linkLimit.Check(k); !d.Allowed {
		if err := a.links.Refused(r.Context(), l.Key, ip, true); err != nil {
			return err
		}
		return TooManyRequests("Too many wrong passwords for this link; try again later", d.RetryAfter)
	}
	pw := r.Header.Get(LinkPasswordHeader)
	if pw == "" && r.Method == http.MethodPost {
		pw = r.PostFormValue("password")
	}
	if pw == "" {
		return Forbidden("The link needs its password (" + LinkPasswordHeader + " header or password form field)")
	}
	ok, err := password.Verify(pw, l.PasswordHash)
	if err != nil {
		return err
	}
	if !ok {
		a.linkLimit.Record(k)
		if err := a.links.Refused(r.Context(), l.Key, ip, false); err != nil {
			return err
		}
		return Forbidden("Wrong password for the link")
	}
	a.linkLimit.Reset(k)
	return nil
}

func (a *API) linkMeta(r *http.Request) (any, error) {
	l, target, err := a.openLink(r)
	if err != nil {
		return nil, err
	}
	v, err := a.links.Access(r.Context(), l, link.Use{Target: target, Children: true, IP: ClientIP(r)})
	if err != nil {
		return nil, linkError(err)
	}
	if v.Kind == tree.File {
		f := fileOf(v.Object)
		if v.ID == l.Object {
			f.Parent = "" // nothing above the link is shown
		}
		return LinkTarget{File: &f}, nil
	}
	f := folderOf(v.Object)
	if v.ID == l.Object {
		f.Parent = ""
	}
	c := childrenOf(v)
	c.Parent = ""
	f.Children = &c
	return LinkTarget{Folder: &f}, nil
}

// linkContent serves a file's content through a link with
// transfer.Serve (ranges, conditions), once link.download committed.
func (a *API) linkContent() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.serveLinkContent(w, r); err != nil {
			a.mapper.WriteError(w, r, transferError(err))
		}
	})
}

func (a *API) serveLinkContent(w http.ResponseWriter, r *http.Request) error {
	l, target, err := a.openLink(r)
	if err != nil {
		return err
	}
	v, err := a.links.Access(r.Context(), l, link.Use{Target: target, Download: true, IP: ClientIP(r)})
	if err != nil {
		return linkError(err)
	}
	rd, err := a.openContent(r.Context(), v)
	if err != nil {
		return err
	}
	defer rd.Close()
	etag := v.ContentETag
	w.Header().Set("Cache-Control", "no-store")
	served, err := transfer.Serve(w, r, transfer.Content{Blob: rd, ETag: transfer.ETag{Opaque: etag}, MIMEType: mimeType(v.Name), Modified: v.MTime})
	if err != nil {
		return err
	}
	if served.Err != nil && a.mapper.Logger != nil {
		a.mapper.Logger.Debug("link download stopped", "key", l.Key, "err", served.Err)
	}
	return nil
}
