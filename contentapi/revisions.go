package contentapi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/vigilaudit/vigil/contentapi/transfer"
	"github.com/vigilaudit/vigil/contentapi/tree"
	"github.com/vigilaudit/vigil/internal/httpapi"
)

// FileRevision is an earlier content of a file.
type FileRevision struct {
	Rev          int64  `json:"rev"`
	Size         int64  `json:"size"`
	ETag         string `json:"etag"`
	LastModified Time   `json:"last_modified"`
}

// Revisions is a file's kept revisions, newest first.
type Revisions struct {
	Revisions []FileRevision `json:"revisions"`
}

// revisionRoutes list a file's revisions, serve one and restore one.
func (a *API) revisionRoutes() []Route {
	if a.files == nil || a.blobs == nil {
		return nil
	}
	read := []string{ScopeFilesRead, ScopeFilesAppData}
	write := []string{ScopeFilesWrite, ScopeFilesAppData}
	return []Route{
		{Method: http.MethodGet, Path: "/files/{id}/revisions", Since: V(1, 4), Scopes: read, Handle: a.listRevisions,
			Summary: "A file's earlier contents, newest first", Response: Revisions{}},
		{Method: http.MethodGet, Path: "/files/{id}/revisions/{rev}/content", Since: V(1, 4), Scopes: read, Handle: a.revisionContent,
			Summary: "An earlier content of a file: Range, If-Range, If-None-Match"},
		{Method: http.MethodPost, Path: "/files/{id}/revisions/{rev}/restore", Since: V(1, 4), Scopes: write, Handle: a.restoreRevision,
			Summary: "Make an earlier content the file's content again (If-Match on the content ETag)", Response: File{}},
	}
}

func (a *API) listRevisions(r *Request) (any, error) {
	ref, err := r.pathRef()
	if err != nil {
		return nil, err
	}
	_, revs, err := a.files.Revisions(r.Context(), r.treeActor(), ref, r.scopeCheck(false))
	if err != nil {
		return nil, r.revisionError(err)
	}
	out := Revisions{Revisions: []FileRevision{}}
	for _, rv := range revs {
		out.Revisions = append(out.Revisions, FileRevision{Rev: rv.Rev, Size: rv.Size, ETag: rv.ContentETag, LastModified: Time{rv.MTime}})
	}
	return out, nil
}

func (a *API) revisionContent(r *Request) (any, error) {
	ref, err := r.pathRef()
	if err != nil {
		return nil, err
	}
	rev, err := pathRev(r)
	if err != nil {
		return nil, err
	}
	actor := r.treeActor()
	v, err := a.files.GetRevision(r.Context(), actor, ref, rev, "CONTENT_REQUEST", r.scopeCheck(false))
	if err != nil {
		return nil, r.revisionError(err)
	}
	return a.serve(r, actor, v, "CONTENT_REQUEST")
}

func (a *API) restoreRevision(r *Request) (any, error) {
	ref, err := r.pathRef()
	if err != nil {
		return nil, err
	}
	rev, err := pathRev(r)
	if err != nil {
		return nil, err
	}
	actor := r.treeActor()
	v, err := a.files.RestoreRevision(r.Context(), actor, ref, rev, r.contentMatch())
	if err != nil {
		return nil, r.revisionError(err)
	}
	if err := a.measure(r.Context(), actor.User); err != nil {
		return nil, err
	}
	h := http.Header{"Etag": {transfer.ETag{Opaque: v.ContentETag}.String()}}
	return httpapi.Response{Status: http.StatusOK, Header: h, Body: fileOf(v.Object)}, nil
}

// pathRev reads the path's {rev}: a revision number from 1.
func pathRev(r *Request) (int64, error) {
	n, err := strconv.ParseInt(chi.URLParam(r.Request, "rev"), 10, 64)
	if err != nil || n < 1 {
		return 0, BadArgs("Invalid rev: a revision number from 1")
	}
	return n, nil
}

func (r *Request) revisionError(err error) error {
	if errors.Is(err, tree.ErrNoRevision) {
		return NotFound("No such revision")
	}
	return r.treeError(err)
}
