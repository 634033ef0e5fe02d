package contentapi

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/vigilaudit/vigil/contentapi/blob"
	"github.com/vigilaudit/vigil/contentapi/transfer"
	"github.com/vigilaudit/vigil/contentapi/tree"
	"github.com/vigilaudit/vigil/internal/httpapi"
)

// contentRoutes are the routes of file contents: download (GET, HEAD)
// and upload (PUT, plain or resumable). Both stream through the
// transfer package; the tree keeps the file's content reference and
// records the FILE events.
func (a *API) contentRoutes() []Route {
	if a.files == nil || a.blobs == nil || a.uploads == nil {
		return nil
	}
	read := []string{ScopeFilesRead, ScopeFilesAppData}
	write := []string{ScopeFilesWrite, ScopeFilesAppData}
	return []Route{
		{Method: http.MethodGet, Path: "/files/{id}/content", Since: V(0, 9), Scopes: read, Handle: a.download,
			Summary: "A file's content: Range, If-Range, If-None-Match"},
		{Method: http.MethodHead, Path: "/files/{id}/content", Since: V(0, 9), Scopes: read, Handle: a.download,
			Summary: "A file's content headers only"},
		{Method: http.MethodPut, Path: "/files/{id}/content", Since: V(0, 10), Scopes: write, Handle: a.upload,
			Summary: "Upload a file's content, whole or in resumable chunks (If-Match)"},
	}
}

// download serves a file's content. A GET records file.transfer
// CONTENT_REQUEST, durable before the first byte, and CONTENT_COMPLETED
// once the whole answer is out, with the content bytes sent (a range's
// bytes for a 206): a client that hangs up midway leaves
// the request alone. A 304 moves no content, so it completes nothing.
// A HEAD reads the content's metadata (size, type, ETag) and no byte of
// it, which is what META_REQUEST means in the catalog: it records that.
func (a *API) download(r *Request) (any, error) {
	ref, err := r.pathRef()
	if err != nil {
		return nil, err
	}
	op := "CONTENT_REQUEST"
	if r.Method == http.MethodHead {
		op = "META_REQUEST"
	}
	actor := r.treeActor()
	v, err := a.files.Get(r.Context(), actor, ref, tree.Query{Kind: tree.File, Check: r.scopeCheck(false), Op: op})
	if err != nil {
		return nil, r.treeError(err)
	}
	return a.serve(r, actor, v, op)
}

// serve answers with v's content through transfer.Serve, and records
// CONTENT_COMPLETED after a whole GET's body (see download).
func (a *API) serve(r *Request, actor tree.Actor, v tree.View, op string) (any, error) {
	b, err := a.openContent(r.Context(), v)
	if err != nil {
		return nil, err
	}
	return httpapi.WriteFunc(func(w http.ResponseWriter) error {
		defer b.Close()
		c := transfer.Content{Blob: b, ETag: transfer.ETag{Opaque: v.ContentETag}, MIMEType: mimeType(v.Name), Modified: v.MTime}
		s, err := transfer.Serve(w, r.Request, c)
		if err != nil {
			return transferError(err)
		}
		if s.Err != nil {
			return s.Err
		}
		if op == "CONTENT_REQUEST" && s.Complete && s.Status != http.StatusNotModified {
			// The body is out; the client may have gone since, so the
			// record does not hang on its request.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
			defer cancel()
			return a.files.Transferred(ctx, actor, v, "CONTENT_COMPLETED", s.Bytes)
		}
		return nil
	}), nil
}

// openContent opens a file's blob; a file without content (created
// empty) reads as no bytes.
func (a *API) openContent(ctx context.Context, v tree.View) (blob.Reader, error) {
	if v.ContentKey == "" {
		return emptyBlob{bytes.NewReader(nil)}, nil
	}
	b, err := a.blobs.Open(ctx, v.ContentKey)
	if err != nil {
		return nil, blobError(err)
	}
	return b, nil
}

// upload receives a file's content. It checks the scope and If-Match
// against the current content before it takes the body (the upload is
// bound to the user and the file: its Upload-ID serves no one else and
// no other file), receives it within the user's remaining quota, then
// commits it through SetContent, which checks If-Match again and
// records file.notification MODIFY, and measures the user's use
// (user.quota.warning on crossing 80%).
func (a *API) upload(r *Request) (any, error) {
	ref, err := r.pathRef()
	if err != nil {
		return nil, err
	}
	actor := r.treeActor()
	check := r.contentMatch()
	v, err := a.files.Stat(r.Context(), actor, ref, tree.File, tree.PermWrite, check)
	if err != nil {
		return nil, r.treeError(err)
	}
	limit := transfer.NoLimit
	if quota := int64(a.org.Quota); quota > 0 {
		used, err := a.files.Usage(r.Context(), actor.User)
		if err != nil {
			return nil, r.treeError(err)
		}
		// The new content replaces the file's: its bytes count again.
		limit = max(quota-used+v.Size, 0)
	}
	res, err := a.uploads.Receive(r.Request, actor.User+" "+v.ID.String(), limit)
	if err != nil {
		return nil, transferError(err)
	}
	if !res.Done {
		return httpapi.Response{Status: res.Status(), Header: res.Header()}, nil
	}
	key := res.Blob.Key
	c := tree.Content{Key: key, Size: res.Blob.Size, ETag: key, Verify: func(ctx context.Context) error {
		b, err := a.blobs.Open(ctx, key)
		if err != nil {
			return err
		}
		return b.Close()
	}}
	nv, err := a.files.SetContent(r.Context(), actor, tree.Ref{ID: v.ID}, c, check)
	if err != nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
		defer cancel()
		_ = a.files.Forget(ctx, key) // best effort: a stray blob costs space only
		if errors.Is(err, tree.ErrBlobGone) {
			return nil, Unavailable("The content was removed while it was committed; upload it again", time.Second)
		}
		return nil, r.treeError(err)
	}
	if err := a.measure(r.Context(), actor.User); err != nil {
		return nil, err
	}
	h := http.Header{"Etag": {transfer.ETag{Opaque: nv.ContentETag}.String()}}
	// CONTENT-API.md (v1.x) answers a finished upload 204 with the new
	// ETag; the v0.10 tutorial and playground answer 200 with an empty
	// body. Each version gets its own documents' answer.
	status := http.StatusNoContent
	if r.Version.Less(V(1, 0)) {
		status = http.StatusOK
	}
	return httpapi.Response{Status: status, Header: h}, nil
}

// measure records the user's use after a change of content, with its
// quota warning: right after the change commits.
func (a *API) measure(ctx context.Context, user string) error {
	if a.acc == nil {
		return nil
	}
	used, err := a.files.Usage(ctx, user)
	if err != nil {
		return err
	}
	if _, err := a.acc.store.RecordUsage(ctx, user, used, int64(a.org.Quota)); err != nil {
		return err
	}
	return nil
}

// contentMatch is the scope check of a write, then If-Match against the
// file's strong content ETag: 412 with the current ETag.
func (r *Request) contentMatch() tree.Check {
	scope := r.scopeCheck(true)
	return func(o tree.Object, ancestors []tree.Object) error {
		if err := scope(o, ancestors); err != nil {
			return err
		}
		return transferError(transfer.CheckIfMatch(r.Header, transfer.ETag{Opaque: o.ContentETag}, true))
	}
}

// transferError maps the transfer package's refusals to the API's
// errors; an unavailable store is 503.
func transferError(err error) error {
	var te *transfer.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &te):
		code := map[int]string{http.StatusBadRequest: httpapi.CodeInvalid, http.StatusNotFound: httpapi.CodeNotFound,
			http.StatusConflict: httpapi.CodeExists, http.StatusPreconditionFailed: "precondition_failed",
			http.StatusRequestedRangeNotSatisfiable: "range", http.StatusInsufficientStorage: "over_quota"}[te.Status]
		return &httpapi.Error{Status: te.Status, Code: code, Message: upper(te.Message), Header: te.Header}
	}
	return blobError(err)
}

// blobError is 503 for a store that cannot be reached; any other error
// stays the server's.
func blobError(err error) error {
	if errors.Is(err, blob.ErrUnavailable) {
		e := Unavailable("The content store is unavailable; try again later", 5*time.Second)
		e.Err = err
		return e
	}
	return err
}

// upper starts a message with a capital, as the API's messages read.
func upper(s string) string {
	if s != "" && s[0] >= 'a' && s[0] <= 'z' {
		return string(s[0]-'a'+'A') + s[1:]
	}
	return s
}

// emptyBlob is the content of a file that has none.
type emptyBlob struct{ *bytes.Reader }

func (emptyBlob) Close() error { return nil }
