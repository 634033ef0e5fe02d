// Package transfer moves file contents between HTTP and a blob.Store:
// Serve answers GET and HEAD of one blob (ranges, multipart/byteranges,
// If-Range, If-None-Match, If-Modified-Since) and Uploads receives PUTs,
// whole or in resumable chunks staged on local disk. It knows nothing
// of the file tree: the caller finds the blob, checks the credential,
// audits, and keeps the metadata.
//
// Errors: the package cannot import contentapi, so everything that
// should reach the client as an HTTP error is an *Error carrying the
// status, a message for people and the headers the answer needs (the
// Content-Range of a 416, the Upload-ID and Range of a refused chunk).
// The caller maps it to the content API's JSON error with errors.As;
// any other error is the server's (500, or 503 when it wraps
// blob.ErrUnavailable). Serve writes only successful answers (200,
// 206, 304) itself; once it has written the status line it reports
// copy failures in Served, never as an error, since the caller can no
// longer answer with one.
//
// Memory stays flat whatever the size: bodies are copied through one
// fixed buffer per request, ranges are read through io.SectionReader,
// and an upload streams from the request into the store.
package transfer
