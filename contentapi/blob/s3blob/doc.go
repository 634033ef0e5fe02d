// Package s3blob keeps blobs in a bucket of an S3-compatible object
// store (AWS S3, MinIO, versitygw, Ceph RGW and the like), through
// minio-go.
//
// A blob lives at PREFIX/blobs/ab/abcdef... (the first two hex digits of
// its key name a folder, as diskblob does). Put streams the caller's
// bytes to a temporary object under PREFIX/tmp/, hashing them on the
// way, then copies it on the server to the blob's name and deletes the
// temporary object. S3 makes an object visible only once its upload or
// copy is complete, so a blob is either whole under its key or absent;
// a failed reader or a canceled context aborts the upload and leaves no
// object behind.
//
// Memory is bounded per Put: blobs up to 1 MiB go up as one request from
// a 1 MiB buffer; larger ones as a multipart upload of PartSize parts
// (16 MiB by default), one part buffer at a time. Reads stream from the
// server.
//
// A temporary object outlives its Put only when the process dies between
// the upload and its removal; a lifecycle rule on the bucket that
// expires PREFIX/tmp/ after a day (and aborts incomplete multipart
// uploads) clears those, or RemoveStale does it on demand.
//
// New makes no network call; Ping checks that the store answers and the
// bucket exists. Every failure to reach or use the store (connection
// refused, wrong credentials, a missing bucket, a server error) wraps
// blob.ErrUnavailable, and no error carries the secret key.
package s3blob
