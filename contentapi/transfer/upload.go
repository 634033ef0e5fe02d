package transfer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigilaudit/vigil/contentapi/blob"
)

// NoLimit, as Receive's limit, lets an upload be any size.
const NoLimit int64 = -1

// Uploads receives PUTs of content: a plain body streamed straight into
// the store, or the resumable protocol, whose chunks are staged in a
// directory, one file per upload, appended and fsynced chunk by chunk so
// that an upload cut at any byte continues from the last durable byte,
// across restarts too. Each upload belongs to the owner key the caller
// gives (user and file), and expires ttl after its last chunk.
type Uploads struct {
	dir   string
	store blob.Store
	ttl   time.Duration

	mu   sync.Mutex
	busy map[string]*lock
}

// lock serializes the requests of one upload.
type lock struct {
	sem  chan struct{}
	refs int
}

// NewUploads returns the uploads staged in dir, creating it; the uploads
// a previous process left there carry on.
func NewUploads(dir string, store blob.Store, ttl time.Duration) (*Uploads, error) {
	if ttl <= 0 {
		return nil, fmt.Errorf("upload ttl %v is not positive", ttl)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create upload directory: %w", err)
	}
	// Half-written descriptions of uploads that were being created.
	tmps, err := filepath.Glob(filepath.Join(dir, "*.tmp"))
	if err != nil {
		return nil, fmt.Errorf("list upload directory: %w", err)
	}
	for _, t := range tmps {
		if err := os.Remove(t); err != nil {
			return nil, fmt.Errorf("clear %s: %w", filepath.Base(t), err)
		}
	}
	return &Uploads{dir: dir, store: store, ttl: ttl, busy: map[string]*lock{}}, nil
}

// Result is the outcome of one accepted upload request. Done says the
// content is complete and stored as Blob; else UploadID names the
// upload and Received is how many bytes it durably holds.
type Result struct {
	Done     bool
	Blob     blob.Info
	UploadID string
	Received int64
}

// Status is the answer's status: 204 once the content is stored (the
// caller adds the new content ETag), 200 while an upload goes on.
func (r Result) Status() int {
	if r.Done {
		return http.StatusNoContent
	}
	return http.StatusOK
}

// Header is what the answer must carry: for an upload that goes on, its
// Upload-ID and, once it holds bytes, Range: bytes=0-N (N the last byte
// held).
func (r Result) Header() http.Header {
	h := http.Header{}
	if r.Done {
		return h
	}
	h.Set("Upload-ID", r.UploadID)
	if r.Received > 0 {
		h.Set("Range", "bytes=0-"+strconv.FormatInt(r.Received-1, 10))
	}
	return h
}

// Receive handles one PUT of content for owner, whose stored content
// may not exceed limit bytes (NoLimit for any). Without Content-Range
// the body is the whole content. With it, the request is part of the
// resumable protocol:
//
//   - "bytes */*", empty body, no Upload-ID: start an upload (its
//     Upload-ID is in the Result);
//   - "bytes */*" with an Upload-ID: ask how much the upload holds;
//   - "bytes a-b/*" or "bytes a-b/TOTAL" with the Upload-ID: bytes a to
//     b, a being what the upload holds; the first chunk (a = 0) may come
//     without an Upload-ID, which starts one;
//   - "bytes */TOTAL" with the Upload-ID, empty body: announce the
//     total.
//
// The upload completes, and its bytes go to the store, when it holds
// the announced TOTAL. Refusals are *Error: 400 for a malformed or
// misplaced chunk (out of order, overlapping, of the wrong length, cut
// short; the error carries the Upload-ID and Range to continue from),
// 404 for an unknown, expired or someone else's Upload-ID, 507 over the
// limit. Nothing is stored unless the whole content arrived; a chunk cut
// short keeps the bytes that did arrive.
func (u *Uploads) Receive(r *http.Request, owner string, limit int64) (Result, error) {
	ctx := r.Context()
	id := strings.TrimSpace(r.Header.Get("Upload-ID"))
	crv := strings.TrimSpace(r.Header.Get("Content-Range"))
	if crv == "" {
		if id != "" {
			return Result{}, badRequest("a request with an Upload-ID needs a Content-Range")
		}
		return u.putWhole(ctx, r.Body, r.ContentLength, limit)
	}
	cr, err := ParseContentRange(crv)
	if err != nil {
		return Result{}, badRequest("%v", err)
	}
	if id != "" && !validID(id) {
		return Result{}, badRequest("Upload-ID %q is not one this server gives", clip(id))
	}
	if limit >= 0 && (cr.Total > limit || (cr.First >= 0 && cr.Last >= limit)) {
		return Result{}, overLimit(limit)
	}
	if cr.First < 0 && r.ContentLength > 0 {
		return Result{}, badRequest("a Content-Range of bytes */... comes with an empty body")
	}
	if cr.First >= 0 && r.ContentLength >= 0 && r.ContentLength != cr.Len() {
		return Result{}, badRequest("the body has %d bytes but Content-Range %q announces %d", r.ContentLength, crv, cr.Len())
	}
	if id == "" {
		if cr.First > 0 {
			return Result{}, badRequest("an upload starts at byte 0; continue one with its Upload-ID")
		}
		if id, err = u.create(owner); err != nil {
			return Result{}, err
		}
	}
	release, err := u.acquire(ctx, id)
	if err != nil {
		return Result{}, err
	}
	defer release()
	up, err := u.load(id, owner, time.Now())
	if err != nil {
		return Result{}, err
	}
	refuse := func(e *Error) (Result, error) {
		for k, v := range (Result{UploadID: id, Received: up.size}).Header() {
			e.Header = cloneInto(e.Header, k, v)
		}
		return Result{}, e
	}
	if cr.Total >= 0 {
		switch {
		case up.Total >= 0 && up.Total != cr.Total:
			return refuse(badRequest("the upload's total is %d bytes, not %d", up.Total, cr.Total))
		case up.size > cr.Total:
			return refuse(badRequest("the upload holds %d bytes, more than the total of %d", up.size, cr.Total))
		case up.Total < 0:
			up.Total = cr.Total
			if err := u.writeMeta(id, up.meta); err != nil {
				return Result{}, err
			}
		}
	}
	if cr.First >= 0 {
		if cr.First != up.size {
			return refuse(badRequest("the chunk starts at byte %d but the upload holds %d bytes: send from byte %d", cr.First, up.size, up.size))
		}
		n, bodyErr, err := u.appendChunk(id, r.Body, cr.Len())
		up.size += n
		if err != nil {
			return Result{}, err
		}
		if bodyErr != nil {
			return refuse(bodyErr)
		}
	}
	if up.Total >= 0 && up.size == up.Total {
		info, err := u.commit(ctx, id, up.Total)
		if err != nil {
			return Result{}, err
		}
		return Result{Done: true, Blob: info}, nil
	}
	return Result{UploadID: id, Received: up.size}, nil
}

// cloneInto sets key to vals in h, making h if needed.
func cloneInto(h http.Header, key string, vals []string) http.Header {
	if h == nil {
		h = http.Header{}
	}
	h[key] = append([]string(nil), vals...)
	return h
}

// putWhole streams a plain upload into the store.
func (u *Uploads) putWhole(ctx context.Context, body io.Reader, length, limit int64) (Result, error) {
	if limit >= 0 && length > limit {
		return Result{}, overLimit(limit)
	}
	rec := &bodyReader{r: body, limit: limit}
	info, err := u.store.Put(ctx, rec)
	switch {
	case rec.over:
		return Result{}, overLimit(limit)
	case rec.err != nil:
		return Result{}, badRequest("the body ended after %d bytes: %v", rec.n, rec.err)
	case err != nil:
		return Result{}, fmt.Errorf("store upload: %w", err)
	}
	return Result{Done: true, Blob: info}, nil
}

// bodyReader remembers why a request body failed and refuses to read
// past limit (when not negative).
type bodyReader struct {
	r     io.Reader
	limit int64
	n     int64
	over  bool
	err   error
}

var errOverLimit = errors.New("over the size limit")

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.limit >= 0 && int64(len(p)) > b.limit-b.n+1 {
		p = p[:b.limit-b.n+1]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.limit >= 0 && b.n > b.limit {
		b.over = true
		return n, errOverLimit
	}
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// meta describes one staged upload; it is written when the upload
// starts and when it learns its total.
type meta struct {
	Owner   string    `json:"owner"`
	Total   int64     `json:"total"`
	Created time.Time `json:"created"`
}

// staged is an upload as found on disk.
type staged struct {
	meta
	size int64
}

func (u *Uploads) metaPath(id string) string { return filepath.Join(u.dir, id+".json") }
func (u *Uploads) partPath(id string) string { return filepath.Join(u.dir, id+".part") }

// validID says whether id has the form create gives.
func validID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// create starts an empty upload for owner.
func (u *Uploads) create(owner string) (string, error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	f, err := os.OpenFile(u.partPath(id), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("create upload: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("create upload: %w", err)
	}
	if err := u.writeMeta(id, meta{Owner: owner, Total: -1, Created: time.Now().UTC()}); err != nil {
		os.Remove(u.partPath(id))
		return "", err
	}
	return id, nil
}

// writeMeta replaces the upload's description atomically and durably.
func (u *Uploads) writeMeta(id string, m meta) error {
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode upload %s: %w", id, err)
	}
	tmp := u.metaPath(id) + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write upload %s: %w", id, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, u.metaPath(id))
	}
	if err == nil {
		err = syncDir(u.dir)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write upload %s: %w", id, err)
	}
	return nil
}

// load finds the upload id of owner; an unknown, expired or foreign one
// is 404 alike, so that a caller learns nothing of others' uploads.
func (u *Uploads) load(id, owner string, now time.Time) (staged, error) {
	gone := notFound("no upload %s: unknown, expired or finished; start a new one", id)
	data, err := os.ReadFile(u.metaPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return staged{}, gone
	}
	if err != nil {
		return staged{}, fmt.Errorf("read upload %s: %w", id, err)
	}
	var m meta
	if err := json.Unmarshal(data, &m); err != nil {
		return staged{}, fmt.Errorf("decode upload %s: %w", id, err)
	}
	if m.Owner != owner {
		return staged{}, gone
	}
	st, err := os.Stat(u.partPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return staged{}, gone
	}
	if err != nil {
		return staged{}, fmt.Errorf("read upload %s: %w", id, err)
	}
	if now.Sub(st.ModTime()) > u.ttl {
		if err := u.remove(id); err != nil {
			return staged{}, err
		}
		return staged{}, gone
	}
	return staged{meta: m, size: st.Size()}, nil
}

// appendChunk appends up to n bytes of body to the upload and makes them
// durable, whatever happens to the body. It returns how many bytes it
// kept, a 400 *Error when the body was short or long, and the error of
// the disk.
func (u *Uploads) appendChunk(id string, body io.Reader, n int64) (int64, *Error, error) {
	f, err := os.OpenFile(u.partPath(id), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return 0, nil, fmt.Errorf("open upload %s: %w", id, err)
	}
	defer f.Close()
	start, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, nil, fmt.Errorf("open upload %s: %w", id, err)
	}
	rec := &bodyReader{r: io.LimitReader(body, n), limit: NoLimit}
	buf := bufs.Get().(*[]byte)
	written, copyErr := io.CopyBuffer(f, rec, *buf)
	bufs.Put(buf)
	var refused *Error
	switch {
	case rec.err != nil:
		refused = badRequest("the chunk ended after %d of its %d bytes: %v", written, n, rec.err)
	case copyErr != nil:
		// The disk failed: keep nothing of this chunk.
		if err := f.Truncate(start); err != nil {
			return 0, nil, fmt.Errorf("append to upload %s: %w", id, err)
		}
		return 0, nil, fmt.Errorf("append to upload %s: %w", id, copyErr)
	case written < n:
		refused = badRequest("the chunk ended after %d of its %d bytes", written, n)
	default:
		var one [1]byte
		if m, _ := io.ReadFull(body, one[:]); m > 0 {
			if err := f.Truncate(start); err != nil {
				return 0, nil, fmt.Errorf("append to upload %s: %w", id, err)
			}
			written = 0
			refused = badRequest("the body is longer than the %d bytes of its Content-Range", n)
		}
	}
	if err := f.Sync(); err != nil {
		return 0, nil, fmt.Errorf("sync upload %s: %w", id, err)
	}
	return written, refused, nil
}

// commit streams the complete upload into the store and removes it; when
// the store fails the upload stays, and a "bytes */TOTAL" request
// retries.
func (u *Uploads) commit(ctx context.Context, id string, total int64) (blob.Info, error) {
	f, err := os.Open(u.partPath(id))
	if err != nil {
		return blob.Info{}, fmt.Errorf("open upload %s: %w", id, err)
	}
	info, err := u.store.Put(ctx, io.LimitReader(f, total))
	f.Close()
	if err != nil {
		return blob.Info{}, fmt.Errorf("store upload %s: %w", id, err)
	}
	if info.Size != total {
		return blob.Info{}, fmt.Errorf("store upload %s: stored %d bytes of %d", id, info.Size, total)
	}
	if err := u.remove(id); err != nil {
		return blob.Info{}, err
	}
	return info, nil
}

// remove deletes the upload's files.
func (u *Uploads) remove(id string) error {
	for _, p := range []string{u.metaPath(id), u.partPath(id)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove upload %s: %w", id, err)
		}
	}
	return nil
}

// acquire waits, until ctx ends, for the upload to be free, and returns
// the function that frees it.
func (u *Uploads) acquire(ctx context.Context, id string) (func(), error) {
	u.mu.Lock()
	l := u.busy[id]
	if l == nil {
		l = &lock{sem: make(chan struct{}, 1)}
		u.busy[id] = l
	}
	l.refs++
	u.mu.Unlock()
	done := func() {
		u.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(u.busy, id)
		}
		u.mu.Unlock()
	}
	select {
	case l.sem <- struct{}{}:
		return func() { <-l.sem; done() }, nil
	case <-ctx.Done():
		done()
		return nil, fmt.Errorf("wait for upload %s: %w", id, ctx.Err())
	}
}

// tryAcquire is acquire without waiting: ok false when the upload is
// busy.
func (u *Uploads) tryAcquire(id string) (func(), bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.busy[id] != nil {
		return nil, false
	}
	l := &lock{sem: make(chan struct{}, 1), refs: 1}
	l.sem <- struct{}{}
	u.busy[id] = l
	return func() {
		<-l.sem
		u.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(u.busy, id)
		}
		u.mu.Unlock()
	}, true
}

// Sweep removes the uploads whose last chunk is older than the ttl at
// now, and returns how many it removed.
func (u *Uploads) Sweep(now time.Time) (int, error) {
	metas, err := filepath.Glob(filepath.Join(u.dir, "*.json"))
	if err != nil {
		return 0, fmt.Errorf("list uploads: %w", err)
	}
	removed := 0
	for _, m := range metas {
		id := strings.TrimSuffix(filepath.Base(m), ".json")
		if !validID(id) {
			continue
		}
		release, ok := u.tryAcquire(id)
		if !ok {
			continue
		}
		last := time.Time{}
		if st, err := os.Stat(u.partPath(id)); err == nil {
			last = st.ModTime()
		}
		var err error
		if now.Sub(last) > u.ttl {
			if err = u.remove(id); err == nil {
				removed++
			}
		}
		release()
		if err != nil {
			return removed, err
		}
	}
	return removed, nil
}

// Run sweeps expired uploads every quarter of the ttl (at least once a
// second, at most once an hour apart) until ctx ends.
func (u *Uploads) Run(ctx context.Context) error {
	every := min(max(u.ttl/4, time.Second), time.Hour)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := u.Sweep(time.Now()); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// syncDir makes the renames and removals in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
