// Package httpapitest checks HTTP exchanges against the OpenAPI document
// that httpapi makes of a route table.
package httpapitest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// Document is a loaded and validated OpenAPI document.
type Document struct {
	Doc    *openapi3.T
	router routers.Router
}

// Load loads an OpenAPI 3.1 document and validates it, failing t if it
// is not one.
func Load(t testing.TB, data []byte) *Document {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		t.Fatalf("load the OpenAPI document: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("validate the OpenAPI document: %v", err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatalf("route the OpenAPI document: %v", err)
	}
	return &Document{Doc: doc, router: router}
}

// Check validates a request (whose body was reqBody) and the answer to
// it (whose body was respBody) against the document: the route and
// method exist, the parameters and the JSON bodies match their schemas,
// and the status is documented.
func (d *Document) Check(t testing.TB, req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) {
	t.Helper()
	d.check(t, req, reqBody, resp, respBody, true)
}

// CheckAnswer is Check for a request made not to match the document (a
// malformed body): it checks only that the route exists and that the
// answer matches.
func (d *Document) CheckAnswer(t testing.TB, req *http.Request, resp *http.Response, respBody []byte) {
	t.Helper()
	d.check(t, req, nil, resp, respBody, false)
}

func (d *Document) check(t testing.TB, req *http.Request, reqBody []byte, resp *http.Response, respBody []byte, checkRequest bool) {
	t.Helper()
	ctx := context.Background()
	r := req.Clone(ctx)
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := d.router.FindRoute(r)
	if err != nil {
		t.Errorf("%s %s: not in the OpenAPI document: %v", req.Method, req.URL.Path, err)
		return
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: opts}
	if !checkRequest {
		opts.ExcludeRequestBody = true
	} else if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		t.Errorf("%s %s: the request does not match the OpenAPI document: %v", req.Method, req.URL, err)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode,
		Header: resp.Header, Body: io.NopCloser(bytes.NewReader(respBody)), Options: opts}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		t.Errorf("%s %s: the %d answer does not match the OpenAPI document: %v\n%s", req.Method, req.URL, resp.StatusCode, err, respBody)
	}
}
