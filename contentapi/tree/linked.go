package tree

import (
	"context"
	"fmt"
	"slices"

	"github.com/vigilaudit/vigil/internal/metadb"
)

// Lookup reads id's object with its ancestors (root first) in tx,
// whoever asks: the caller decides who may see it (Access for a user, a
// link for its holder). A missing object is ErrNotFound.
func Lookup(ctx context.Context, tx *metadb.Tx, id ID) (View, error) {
	o, err := get(ctx, tx, id)
	if err != nil {
		return View{}, err
	}
	return withAncestors(ctx, tx, o)
}

// withAncestors is o's View: o with its ancestors read in tx, root
// first, at most maxDepth of them.
func withAncestors(ctx context.Context, tx *metadb.Tx, o Object) (View, error) {
	v := View{Object: o}
	for p := o.Parent; !p.IsZero(); {
		if len(v.Ancestors) == maxDepth {
			return View{}, fmt.Errorf("object %s: deeper than %d folders", o.ID, maxDepth)
		}
		po, err := get(ctx, tx, p)
		if err != nil {
			return View{}, fmt.Errorf("read parent %s: %w", p, err)
		}
		v.Ancestors = append(v.Ancestors, po)
		p = po.Parent
	}
	slices.Reverse(v.Ancestors)
	return v, nil
}

// Children lists a folder's children in tx, sorted by name; a file has
// none.
func Children(ctx context.Context, tx *metadb.Tx, o Object) ([]Object, error) {
	return children(ctx, tx, o)
}

// Within reports whether v is top or lies below it.
func (v View) Within(top ID) bool {
	return v.ID == top || slices.ContainsFunc(v.Ancestors, func(o Object) bool { return o.ID == top })
}
