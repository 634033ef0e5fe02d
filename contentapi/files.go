package contentapi

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/vigilaudit/vigil/contentapi/tree"
	"github.com/vigilaudit/vigil/internal/httpapi"
)

// RootName is the name the API gives a user's root folder: the
// product's, as the reference's clients expect it.
const RootName = "AeroFS"

// AppDataName is the name of an app's appdata folder.
const AppDataName = "appdata"

// File is a file's metadata as the API shows it.
type File struct {
	ID           string      `json:"id"`
	Name         string      `json:"name"`
	Parent       string      `json:"parent"`
	Path         *ParentPath `json:"path,omitempty"`
	LastModified Time        `json:"last_modified"`
	Size         int64       `json:"size"`
	MimeType     string      `json:"mime_type"`
	// ETag is the content's strong entity tag, as the content routes'
	// ETag header gives it without the quotes.
	ETag         string `json:"etag"`
	ContentState string `json:"content_state"`
}

// Folder is a folder's metadata as the API shows it.
type Folder struct {
	ID       string      `json:"id"`
	Name     string      `json:"name"`
	Parent   string      `json:"parent,omitempty"`
	Path     *ParentPath `json:"path,omitempty"`
	IsShared bool        `json:"is_shared"`
	// SID is a shared folder's store id.
	SID      string    `json:"sid,omitempty"`
	Children *Children `json:"children,omitempty"`
}

// ParentPath is the folders above an object, from the root down.
type ParentPath struct {
	Folders []Folder `json:"folders"`
}

// Children is a folder's content, each list sorted by name.
type Children struct {
	Parent  string   `json:"parent,omitempty"`
	Folders []Folder `json:"folders"`
	Files   []File   `json:"files"`
}

// objectBody is the body of POST and PUT /folders and /files.
type objectBody struct {
	Parent *string `json:"parent"`
	Name   *string `json:"name"`
}

// fileRoutes are the routes of the file tree: metadata of files and
// folders (content and uploads are the transfer routes'). Reads take
// files.read and writes files.write, or files.appdata for the app's
// appdata folder; a scope restricted to an object permits its subtree.
func (a *API) fileRoutes() []Route {
	if a.files == nil {
		return nil
	}
	read := []string{ScopeFilesRead, ScopeFilesAppData}
	write := []string{ScopeFilesWrite, ScopeFilesAppData}
	return []Route{
		{Method: http.MethodGet, Path: "/children", Since: V(0, 8), Scopes: read, Handle: a.children,
			Summary: "The children of the root folder", Response: Children{}},
		{Method: http.MethodGet, Path: "/children/{id}", Since: V(0, 9), Scopes: read, Handle: a.children,
			Summary: "The children of a folder", Response: Children{}},
		{Method: http.MethodGet, Path: "/folders/{id}", Since: V(0, 9), Scopes: read, Handle: a.getObject(tree.Folder),
			Summary: "A folder's metadata; fields=path,children adds them", Response: Folder{}, Query: []string{"fields"}},
		{Method: http.MethodGet, Path: "/folders/{id}/children", Since: V(1, 2), Scopes: read, Handle: a.children,
			Summary: "The children of a folder", Response: Children{}},
		{Method: http.MethodGet, Path: "/folders/{id}/path", Since: V(1, 2), Scopes: read, Handle: a.objectPath(tree.Folder),
			Summary: "The folders above a folder, from the root down", Response: ParentPath{}},
		{Method: http.MethodPost, Path: "/folders", Since: V(0, 10), Scopes: write, Handle: a.createObject(tree.Folder),
			Summary: "Create a folder", Request: objectBody{}, Status: http.StatusCreated, Response: Folder{}},
		{Method: http.MethodPut, Path: "/folders/{id}", Since: V(0, 10), Scopes: write, Handle: a.moveObject(tree.Folder),
			Summary: "Move or rename a folder (If-Match)", Request: objectBody{}, Response: Folder{}},
		{Method: http.MethodDelete, Path: "/folders/{id}", Since: V(0, 10), Scopes: write, Handle: a.deleteObject(tree.Folder),
			Summary: "Delete a folder and everything in it (If-Match)", Status: http.StatusNoContent},
		{Method: http.MethodGet, Path: "/files/{id}", Since: V(0, 9), Scopes: read, Handle: a.getObject(tree.File),
			Summary: "A file's metadata; fields=path adds its path", Response: File{}, Query: []string{"fields"}},
		{Method: http.MethodGet, Path: "/files/{id}/path", Since: V(1, 2), Scopes: read, Handle: a.objectPath(tree.File),
			Summary: "The folders above a file, from the root down", Response: ParentPath{}},
		{Method: http.MethodPost, Path: "/files", Since: V(0, 10), Scopes: write, Handle: a.createObject(tree.File),
			Summary: "Create an empty file", Request: objectBody{}, Status: http.StatusCreated, Response: File{}},
		{Method: http.MethodPut, Path: "/files/{id}", Since: V(0, 10), Scopes: write, Handle: a.moveObject(tree.File),
			Summary: "Move or rename a file (If-Match)", Request: objectBody{}, Response: File{}},
		{Method: http.MethodDelete, Path: "/files/{id}", Since: V(0, 10), Scopes: write, Handle: a.deleteObject(tree.File),
			Summary: "Delete a file (If-Match)", Status: http.StatusNoContent},
		{Method: http.MethodPost, Path: "/files/{id}/copy", Since: V(1, 4), Scopes: write, Handle: a.copyObject(tree.File),
			Summary: "Copy a file into a folder (parent, name to rename the copy)", Request: objectBody{}, Status: http.StatusCreated, Response: File{}},
		{Method: http.MethodPost, Path: "/folders/{id}/copy", Since: V(1, 4), Scopes: write, Handle: a.copyObject(tree.Folder),
			Summary: "Copy a folder and everything in it into a folder (parent, name to rename the copy)", Request: objectBody{}, Status: http.StatusCreated, Response: Folder{}},
	}
}

func (a *API) children(r *Request) (any, error) {
	ref, err := r.pathRef()
	if err != nil {
		return nil, err
	}
	v, err := a.files.Get(r.Context(), r.treeActor(), ref, tree.Query{Kind: tree.Folder, Children: true, Check: r.scopeCheck(false)})
	if err != nil {
		return nil, r.treeError(err)
	}
	return childrenOf(v), nil
}

func (a *API) getObject(kind tree.Kind) Handler {
	return func(r *Request) (any, error) {
		ref, err := r.pathRef()
		if err != nil {
			return nil, err
		}
		fields, asked, err := parseFields(r, kind)
		if err != nil {
			return nil, err
		}
		v, err := a.files.Get(r.Context(), r.treeActor(), ref, tree.Query{Kind: kind, Children: fields["children"], Check: r.scopeCheck(false)})
		if err != nil {
			return nil, r.treeError(err)
		}
		body := objectOf(v, fields["path"], fields["children"])
		if asked {
			return body, nil
		}
		etag := v.ETag()
		h := http.Header{"Etag": {etag}}
		if inm, ok := r.IfNoneMatch(); ok && etagMatches(inm, etag) {
			return httpapi.Response{Status: http.StatusNotModified, Header: h}, nil
		}
		return httpapi.Response{Status: http.StatusOK, Header: h, Body: body}, nil
	}
}

func (a *API) objectPath(kind tree.Kind) Handler {
	return func(r *Request) (any, error) {
		ref, err := r.pathRef()
		if err != nil {
			return nil, err
		}
		v, err := a.files.Get(r.Context(), r.treeActor(), ref, tree.Query{Kind: kind, Check: r.scopeCheck(false)})
		if err != nil {
			return nil, r.treeError(err)
		}
		return pathOf(v), nil
	}
}

func (a *API) createObject(kind tree.Kind) Handler {
	return func(r *Request) (any, error) {
		var b objectBody
		if err := r.Decode(&b); err != nil {
			return nil, err
		}
		if b.Parent == nil {
			return nil, BadArgs("Invalid parent: required")
		}
		if b.Name == nil {
			return nil, BadArgs("Invalid name: required")
		}
		parent, err := bodyRef(*b.Parent)
		if err != nil {
			return nil, err
		}
		v, err := a.files.Create(r.Context(), r.treeActor(), kind, parent, *b.Name, r.scopeCheck(true))
		if err != nil {
			return nil, r.treeError(err)
		}
		return r.createdObject(kind, v), nil
	}
}

// createdObject is 201 with the new object, its ETag and Location.
func (r *Request) createdObject(kind tree.Kind, v tree.View) httpapi.Response {
	h := http.Header{"Etag": {v.ETag()}, "Location": {r.location(kind, v.ID)}}
	return httpapi.Response{Status: http.StatusCreated, Header: h, Body: objectOf(v, false, false)}
}

func (a *API) moveObject(kind tree.Kind) Handler {
	return func(r *Request) (any, error) {
		ref, err := r.pathRef()
		if err != nil {
			return nil, err
		}
		var b objectBody
		if err := r.Decode(&b); err != nil {
			return nil, err
		}
		to := tree.Move{Name: b.Name}
		if b.Parent != nil {
			p, err := bodyRef(*b.Parent)
			if err != nil {
				return nil, err
			}
			to.Parent = &p
		}
		v, err := a.files.Move(r.Context(), r.treeActor(), kind, ref, to, r.ifMatchCheck(), r.scopeCheck(true))
		if err != nil {
			return nil, r.treeError(err)
		}
		return httpapi.Response{Status: http.StatusOK, Header: http.Header{"Etag": {v.ETag()}}, Body: objectOf(v, false, false)}, nil
	}
}

// copyObject copies a file or a folder's subtree into the body's
// parent, under the body's name or its own. The source is read with
// files.read, the parent written with files.write; a copy refers to the
// same blobs, yet its bytes count toward the quota (507 over it).
func (a *API) copyObject(kind tree.Kind) Handler {
	return func(r *Request) (any, error) {
		ref, err := r.pathRef()
		if err != nil {
			return nil, err
		}
		var b objectBody
		if err := r.Decode(&b); err != nil {
			return nil, err
		}
		if b.Parent == nil {
			return nil, BadArgs("Invalid parent: required")
		}
		parent, err := bodyRef(*b.Parent)
		if err != nil {
			return nil, err
		}
		to := tree.CopyTo{Parent: parent, Name: b.Name, Quota: int64(a.org.Quota)}
		v, err := a.files.Copy(r.Context(), r.treeActor(), kind, ref, to, r.scopeCheck(false), r.scopeCheck(true))
		if err != nil {
			return nil, r.treeError(err)
		}
		if err := a.measure(r.Context(), r.Principal.Email); err != nil {
			return nil, err
		}
		return r.createdObject(kind, v), nil
	}
}

func (a *API) deleteObject(kind tree.Kind) Handler {
	return func(r *Request) (any, error) {
		ref, err := r.pathRef()
		if err != nil {
			return nil, err
		}
		actor := r.treeActor()
		if err := a.files.Delete(r.Context(), actor, kind, ref, r.ifMatchCheck()); err != nil {
			return nil, r.treeError(err)
		}
		// The deleted content no longer counts: the recorded use (the
		// quota route's bytes_used, and the 80% warning's state) is
		// measured again right after the delete commits, as after an
		// upload. A move stays in its store, so it changes no one's use.
		if err := a.measure(r.Context(), actor.User); err != nil {
			return nil, err
		}
		return nil, nil
	}
}

// treeActor is the request's actor in the tree: the user and the app's
// device.
func (r *Request) treeActor() tree.Actor {
	return tree.Actor{User: r.Principal.Email, Device: r.Principal.Device}
}

// pathRef reads the path's {id} (root when the route has none): an
// alias, a store id or an object id.
func (r *Request) pathRef() (tree.Ref, error) {
	s := chi.URLParam(r.Request, "id")
	if s == "" {
		return tree.Ref{Alias: tree.AliasRoot}, nil
	}
	ref, err := tree.ParseRef(s)
	if err != nil {
		return tree.Ref{}, BadArgs("Invalid id: " + err.Error())
	}
	return ref, nil
}

// bodyRef reads a body's parent.
func bodyRef(s string) (tree.Ref, error) {
	ref, err := tree.ParseRef(strings.TrimSpace(s))
	if err != nil {
		return tree.Ref{}, BadArgs("Invalid parent: " + err.Error())
	}
	return ref, nil
}

// scopeCheck permits an object to the token's scopes: files.appdata for
// what lies in an appdata folder, files.read (or files.write) for the
// rest, either unrestricted or restricted to the object or one of its
// ancestors.
func (r *Request) scopeCheck(write bool) tree.Check {
	return func(o tree.Object, ancestors []tree.Object) error {
		name := ScopeFilesRead
		if write {
			name = ScopeFilesWrite
		}
		if o.AppData {
			name = ScopeFilesAppData
		}
		ids := make([]string, len(ancestors))
		for i, a := range ancestors {
			ids[i] = a.ID.String()
		}
		if !r.Principal.Scopes.Permits(name, o.ID.String(), ids...) {
			return lacksScope([]string{name})
		}
		return nil
	}
}

// ifMatchCheck is the scope check of a write, then the If-Match
// precondition against the object's metadata ETag: 412, with the
// current ETag, when it does not match.
func (r *Request) ifMatchCheck() tree.Check {
	scope := r.scopeCheck(true)
	return func(o tree.Object, ancestors []tree.Object) error {
		if err := scope(o, ancestors); err != nil {
			return err
		}
		if im, ok := r.IfMatch(); ok && !etagMatches(im, o.ETag()) {
			return PreconditionFailed("The object changed: its ETag does not match If-Match").With("Etag", o.ETag())
		}
		return nil
	}
}

// etagMatches says whether a header's list of entity tags holds etag or
// "*". Tags are compared by their opaque part, weak or not, quoted or
// not, as clients send them back.
func etagMatches(header, etag string) bool {
	want := opaque(etag)
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || t != "" && opaque(t) == want {
			return true
		}
	}
	return false
}

func opaque(tag string) string {
	return strings.Trim(strings.TrimPrefix(strings.TrimSpace(tag), "W/"), `"`)
}

// parseFields reads fields= (repeated or comma-separated; empty is
// none): path for both kinds, children for folders. asked says whether
// the parameter was given at all.
func parseFields(r *Request, kind tree.Kind) (map[string]bool, bool, error) {
	vals, asked := r.URL.Query()["fields"]
	out := map[string]bool{}
	for _, v := range vals {
		for _, f := range strings.Split(v, ",") {
			switch f = strings.TrimSpace(f); {
			case f == "":
			case f == "path", f == "children" && kind == tree.Folder:
				out[f] = true
			default:
				return nil, false, BadArgs("Invalid fields: unknown field " + `"` + f + `"`)
			}
		}
	}
	return out, asked, nil
}

// location is the URL path of a new object.
func (r *Request) location(kind tree.Kind, id tree.ID) string {
	return Prefix + "/v" + r.Version.String() + "/" + string(kind) + "s/" + id.String()
}

// treeError maps the tree's errors to the API's. Anything else is 503
// when the tree's database does not answer, or a 500.
func (r *Request) treeError(err error) error {
	var (
		ne *tree.NameError
		he *httpapi.Error
	)
	switch {
	case errors.As(err, &he):
		return err // a check's answer
	case errors.As(err, &ne):
		return BadArgs("Invalid " + ne.Field + ": " + ne.Reason)
	case errors.Is(err, tree.ErrNotFound):
		return NotFound("No such file or folder")
	case errors.Is(err, tree.ErrNoParent):
		return NotFound("No such parent folder")
	case errors.Is(err, tree.ErrConflict):
		return Conflict("A file or folder with that name already exists")
	case errors.Is(err, tree.ErrRoot):
		return Forbidden("The root folder cannot be moved, renamed or deleted")
	case errors.Is(err, tree.ErrIntoItself):
		return BadArgs("Invalid parent: a folder cannot move or be copied into itself")
	case errors.Is(err, tree.ErrOtherStore):
		return BadArgs("Invalid parent: moving between stores is not supported")
	case errors.Is(err, tree.ErrReadOnly):
		return Forbidden("No permission to change this folder")
	case errors.Is(err, tree.ErrHoldsShare):
		return Conflict("The folder holds a shared folder: destroy or move it first")
	case errors.Is(err, tree.ErrOverQuota):
		return InsufficientStorage("The copy would exceed the quota")
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 2*time.Second)
	defer cancel()
	if perr := r.api.files.Ping(ctx); perr != nil {
		e := Unavailable("The content store is unavailable; try again later", 5*time.Second)
		e.Err = err
		return e
	}
	return err
}

// The objects' JSON.

func childrenOf(v tree.View) Children {
	c := Children{Parent: v.ID.String(), Folders: []Folder{}, Files: []File{}}
	for _, o := range v.Children {
		if o.Kind == tree.Folder {
			c.Folders = append(c.Folders, folderOf(o))
		} else {
			c.Files = append(c.Files, fileOf(o))
		}
	}
	return c
}

func objectOf(v tree.View, withPath, withChildren bool) any {
	if v.Kind == tree.File {
		f := fileOf(v.Object)
		if withPath {
			p := pathOf(v)
			f.Path = &p
		}
		return f
	}
	f := folderOf(v.Object)
	if withPath {
		p := pathOf(v)
		f.Path = &p
	}
	if withChildren {
		c := childrenOf(v)
		c.Parent = ""
		f.Children = &c
	}
	return f
}

func pathOf(v tree.View) ParentPath {
	p := ParentPath{Folders: make([]Folder, 0, len(v.Ancestors))}
	for _, a := range v.Ancestors {
		p.Folders = append(p.Folders, folderOf(a))
	}
	return p
}

func folderOf(o tree.Object) Folder {
	f := Folder{ID: o.ID.String(), Name: o.Name}
	if !o.Parent.IsZero() {
		f.Parent = o.Parent.String()
	}
	if o.ID.IsRoot() && o.Share == "" {
		f.Name = RootName
		if o.AppData {
			f.Name = AppDataName
		}
	}
	if o.Share != "" {
		f.IsShared, f.SID = true, o.Share
	}
	return f
}

func fileOf(o tree.Object) File {
	return File{ID: o.ID.String(), Name: o.Name, Parent: o.Parent.String(), LastModified: Time{o.MTime},
		Size: o.Size, MimeType: mimeType(o.Name), ETag: o.ContentETag, ContentState: "AVAILABLE"}
}

// mimeType guesses a file's type from its name's extension; unknown is
// application/octet-stream.
func mimeType(name string) string {
	t, _, _ := strings.Cut(mime.TypeByExtension(strings.ToLower(path.Ext(name))), ";")
	if t = strings.TrimSpace(t); t == "" {
		return "application/octet-stream"
	}
	return t
}
