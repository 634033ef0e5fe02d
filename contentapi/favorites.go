package contentapi

import (
	"net/http"

	"github.com/vigilaudit/vigil/contentapi/tree"
	"github.com/vigilaudit/vigil/internal/httpapi"
)

// Favorites is a user's favorite files and folders, oldest mark first.
type Favorites struct {
	Folders []Folder `json:"folders"`
	Files   []File   `json:"files"`
}

// favoriteRoutes mark, unmark and list a user's favorites (per user,
// not per app). Marking and unmarking read the object (files.read);
// the listing keeps what the token's scopes permit.
func (a *API) favoriteRoutes() []Route {
	if a.files == nil {
		return nil
	}
	read := []string{ScopeFilesRead, ScopeFilesAppData}
	return []Route{
		{Method: http.MethodGet, Path: "/favorites", Since: V(1, 4), Scopes: read, Handle: a.favorites,
			Summary: "The caller's favorite files and folders", Response: Favorites{}},
		{Method: http.MethodPut, Path: "/favorites/{id}", Since: V(1, 4), Scopes: read, Handle: a.favorite,
			Summary: "Mark a file or folder as a favorite (201 when new, 200 when it was one)", Status: http.StatusCreated},
		{Method: http.MethodDelete, Path: "/favorites/{id}", Since: V(1, 4), Scopes: read, Handle: a.unfavorite,
			Summary: "Remove a file or folder from the favorites", Status: http.StatusNoContent},
	}
}

func (a *API) favorites(r *Request) (any, error) {
	scope := r.scopeCheck(false)
	vs, err := a.files.Favorites(r.Context(), r.treeActor(), func(o tree.Object, ancestors []tree.Object) bool {
		return scope(o, ancestors) == nil
	})
	if err != nil {
		return nil, r.treeError(err)
	}
	out := Favorites{Folders: []Folder{}, Files: []File{}}
	for _, v := range vs {
		if v.Kind == tree.Folder {
			out.Folders = append(out.Folders, folderOf(v.Object))
		} else {
			out.Files = append(out.Files, fileOf(v.Object))
		}
	}
	return out, nil
}

func (a *API) favorite(r *Request) (any, error) {
	ref, err := r.pathRef()
	if err != nil {
		return nil, err
	}
	v, added, err := a.files.Favorite(r.Context(), r.treeActor(), "", ref, r.scopeCheck(false))
	if err != nil {
		return nil, r.treeError(err)
	}
	status := http.StatusOK
	if added {
		status = http.StatusCreated
	}
	return httpapi.Response{Status: status, Body: objectOf(v, false, false)}, nil
}

func (a *API) unfavorite(r *Request) (any, error) {
	ref, err := r.pathRef()
	if err != nil {
		return nil, err
	}
	if err := a.files.Unfavorite(r.Context(), r.treeActor(), ref, r.scopeCheck(false)); err != nil {
		return nil, r.treeError(err)
	}
	return nil, nil
}
