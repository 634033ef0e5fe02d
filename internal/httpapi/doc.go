// Package httpapi is the one HTTP kit of Vigil's APIs: handlers that
// return data or an error (HandlerFunc, StreamFunc), one mapping from
// errors to statuses (Mapper), one error body shape per API family
// (Family), one JSON writer and body decoder, one paging parser, the
// route table every package exports (Route), the OpenAPI document made
// from it, and the one client of these APIs (Client).
//
// It imports nothing of Vigil's: packages turn their own errors into
// *Error, either by implementing HTTPError on their error types or by
// listing their sentinels in a Mapper's Matches.
package httpapi
