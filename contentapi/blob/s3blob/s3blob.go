package s3blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/vigilaudit/vigil/contentapi/blob"
)

// smallPut is the largest blob sent as one PUT request, from a buffer
// of this size; larger blobs go as a multipart upload.
const smallPut = 1 << 20

// cleanupTimeout bounds removing a temporary object after the caller's
// context ended.
const cleanupTimeout = time.Minute

// Store is a bucket of blobs.
type Store struct {
	client   *minio.Client
	bucket   string
	prefix   string
	endpoint string // for messages
	access   string // the access key, for messages
	partSize uint64
}

var _ blob.Store = (*Store)(nil)

// New returns the store cfg describes (after SetDefaults and Validate).
// It reads secret_key_file but makes no network call: the first request
// connects.
func New(cfg Config) (*Store, error) {
	u, err := parseEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("s3 endpoint: %w", err)
	}
	secret, err := cfg.secret()
	if err != nil {
		return nil, err
	}
	secure := u.Scheme == "https"
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, fmt.Errorf("s3 transport: %w", err)
	}
	tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	if cfg.TLS != nil {
		tc, err := cfg.TLS.ClientConfig(u.Host)
		if err != nil {
			return nil, fmt.Errorf("s3 tls: %w", err)
		}
		tr.TLSClientConfig = tc
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, secret, ""),
		Secure:       secure,
		Transport:    tr,
		Region:       cfg.Region,
		BucketLookup: lookup,
		// A request that cannot connect is tried again a few times
		// (with backoff), not minio-go's default ten.
		MaxRetries: 3,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 client: %w", err)
	}
	partSize := uint64(cfg.PartSize)
	if partSize == 0 {
		partSize = DefaultPartSize
	}
	return &Store{
		client:   client,
		bucket:   cfg.Bucket,
		prefix:   cfg.Prefix,
		endpoint: u.Redacted(),
		access:   cfg.AccessKey,
		partSize: partSize,
	}, nil
}

// name is the object name of the blob key.
func (s *Store) name(key string) string {
	return s.prefix + "blobs/" + key[:2] + "/" + key
}

// tmpPrefix is where Put's temporary objects live.
func (s *Store) tmpPrefix() string { return s.prefix + "tmp/" }

// Ping checks that the store answers, accepts the credentials and has
// the bucket. It lists one blob rather than asking for the bucket with
// HEAD, whose answer has no body to tell a missing bucket from refused
// credentials.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the listing
	opts := minio.ListObjectsOptions{Prefix: s.prefix + "blobs/", MaxKeys: 1}
	for o := range s.client.ListObjects(ctx, s.bucket, opts) {
		if o.Err != nil {
			return s.fail(ctx, "check bucket", o.Err)
		}
		break
	}
	return nil
}

// Put uploads r to a temporary object while hashing it, then copies
// that on the server to the blob's name and removes it.
func (s *Store) Put(ctx context.Context, r io.Reader) (blob.Info, error) {
	hr := &hashReader{r: r, ctx: ctx, h: sha256.New()}
	tmp := s.tmpPrefix() + randomName()
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream", PartSize: s.partSize}

	// Small blobs, the common case, go up as one request from a small
	// buffer; a multipart upload would hold a whole part.
	small := make([]byte, smallPut)
	n, err := io.ReadFull(hr, small)
	var body io.Reader
	size := int64(-1)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		body, size = bytes.NewReader(small[:n]), int64(n)
	case err != nil:
		return blob.Info{}, hr.failure(err)
	default:
		body = io.MultiReader(bytes.NewReader(small), hr)
	}
	defer s.removeTemp(ctx, tmp)
	if _, err := s.client.PutObject(ctx, s.bucket, tmp, body, size, opts); err != nil {
		if rerr := hr.failure(nil); rerr != nil {
			return blob.Info{}, rerr
		}
		return blob.Info{}, s.fail(ctx, "put blob", err)
	}
	if rerr := hr.failure(nil); rerr != nil {
		// The client stopped reading at an error of ours it did not
		// return: the object must not count.
		return blob.Info{}, rerr
	}
	info := blob.Info{Key: hex.EncodeToString(hr.h.Sum(nil)), Size: hr.n}
	final := s.name(info.Key)
	if _, err := s.client.StatObject(ctx, s.bucket, final, minio.StatObjectOptions{}); err == nil {
		return info, nil // the same bytes are there already
	} else if !notFound(err) {
		return blob.Info{}, s.fail(ctx, "store blob "+info.Key, err)
	}
	dst := minio.CopyDestOptions{Bucket: s.bucket, Object: final, PartSize: s.copyPartSize()}
	src := minio.CopySrcOptions{Bucket: s.bucket, Object: tmp}
	if _, err := s.client.ComposeObject(ctx, dst, src); err != nil {
		return blob.Info{}, s.fail(ctx, "store blob "+info.Key, err)
	}
	return info, nil
}

// copyPartSize is the part of a server-side copy of a blob over 5 GiB;
// smaller ones are copied in one request.
func (s *Store) copyPartSize() uint64 { return MaxPartSize }

// removeTemp deletes Put's temporary object (and any incomplete upload
// of it), even when ctx has ended.
func (s *Store) removeTemp(ctx context.Context, name string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	// Errors are left to RemoveStale or the bucket's lifecycle rule: the
	// blob itself is either stored or not, whatever happens here.
	_ = s.client.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{})
	_ = s.client.RemoveIncompleteUpload(ctx, s.bucket, name)
}

// hashReader hashes and counts what it reads, stops once ctx ends, and
// remembers its own failure so that Put returns the caller's error
// rather than the client's account of it.
type hashReader struct {
	r   io.Reader
	ctx context.Context
	h   hash.Hash
	n   int64
	err error // the first error of r or ctx, not io.EOF
}

func (h *hashReader) Read(p []byte) (int, error) {
	if err := h.ctx.Err(); err != nil {
		h.err = err
		return 0, err
	}
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	if err != nil && err != io.EOF && h.err == nil {
		h.err = err
	}
	return n, err
}

// failure returns the reader's or the context's error, if there was
// one, or else err.
func (h *hashReader) failure(err error) error {
	if h.err != nil {
		return fmt.Errorf("read blob: %w", h.err)
	}
	if cerr := h.ctx.Err(); cerr != nil {
		return fmt.Errorf("put blob: %w", cerr)
	}
	return err
}

// randomName is a name no other Put picks.
func randomName() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails, per crypto/rand
	return hex.EncodeToString(b[:])
}

// Open returns the blob for reading. The reads are requests made with
// ctx, so the blob can be read only while ctx lasts.
func (s *Store) Open(ctx context.Context, key string) (blob.Reader, error) {
	if err := blob.CheckKey(key); err != nil {
		return nil, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, s.name(key), minio.GetObjectOptions{})
	if err != nil {
		return nil, s.fail(ctx, "open blob "+key, err)
	}
	st, err := obj.Stat()
	if err != nil {
		obj.Close()
		return nil, s.fail(ctx, "open blob "+key, err)
	}
	return object{Object: obj, size: st.Size}, nil
}

// object is an open blob.
type object struct {
	*minio.Object
	size int64
}

func (o object) Size() int64 { return o.size }

// Delete removes the blob.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := blob.CheckKey(key); err != nil {
		return err
	}
	err := s.client.RemoveObject(ctx, s.bucket, s.name(key), minio.RemoveObjectOptions{})
	if err != nil && !notFound(err) {
		return s.fail(ctx, "delete blob "+key, err)
	}
	return nil
}

// RemoveStale deletes the temporary objects and incomplete uploads that
// Puts interrupted by a crash left behind, when they are older than
// before. It returns how many objects it removed.
func (s *Store) RemoveStale(ctx context.Context, before time.Time) (int, error) {
	n := 0
	for o := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.tmpPrefix(), Recursive: true}) {
		if o.Err != nil {
			return n, s.fail(ctx, "list temporary objects", o.Err)
		}
		if !o.LastModified.Before(before) {
			continue
		}
		if err := s.client.RemoveObject(ctx, s.bucket, o.Key, minio.RemoveObjectOptions{}); err != nil && !notFound(err) {
			return n, s.fail(ctx, "remove "+o.Key, err)
		}
		n++
	}
	for u := range s.client.ListIncompleteUploads(ctx, s.bucket, s.tmpPrefix(), true) {
		if u.Err != nil {
			return n, s.fail(ctx, "list incomplete uploads", u.Err)
		}
		if !u.Initiated.Before(before) {
			continue
		}
		if err := s.client.RemoveIncompleteUpload(ctx, s.bucket, u.Key); err != nil && !notFound(err) {
			return n, s.fail(ctx, "abort upload of "+u.Key, err)
		}
	}
	return n, nil
}

// notFound reports whether err is the store's answer that the object
// is not there.
func notFound(err error) bool {
	return minio.ToErrorResponse(err).Code == minio.NoSuchKey
}

// fail turns an error of the client into one of ours: ErrNotFound for a
// missing object, the context's error once ctx ended, and ErrUnavailable
// for everything else, worded for the operator. The secret key is in
// none of them.
func (s *Store) fail(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return fmt.Errorf("%s: %w", op, ctx.Err())
	}
	resp := minio.ToErrorResponse(err)
	switch resp.Code {
	case minio.NoSuchKey:
		return fmt.Errorf("%s: %w", op, blob.ErrNotFound)
	case minio.NoSuchBucket:
		return s.noBucket(op)
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken",
		"XAdminUserNotFound": // versitygw's answer for an unknown access key
		return fmt.Errorf("%s: %w: %s refused access key %q to bucket %q (%s: %s)",
			op, blob.ErrUnavailable, s.endpoint, s.access, s.bucket, resp.Code, resp.Message)
	}
	if resp.StatusCode == http.StatusForbidden {
		return fmt.Errorf("%s: %w: %s refused access key %q to bucket %q (403 Forbidden)",
			op, blob.ErrUnavailable, s.endpoint, s.access, s.bucket)
	}
	return fmt.Errorf("%s: %w: %s: %w", op, blob.ErrUnavailable, s.endpoint, err)
}

func (s *Store) noBucket(op string) error {
	return fmt.Errorf("%s: %w: bucket %q does not exist at %s (create it; Vigil does not)",
		op, blob.ErrUnavailable, s.bucket, s.endpoint)
}
