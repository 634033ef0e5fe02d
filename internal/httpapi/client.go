package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ClientConfig configures a Client.
type ClientConfig struct {
	// URL is the server's, http or https: "https://vigil.example.com:8080".
	URL string
	// Token is sent as "Authorization: Bearer TOKEN".
	Token string
	// HTTP nil means a client with a 30 s timeout and its own
	// connections. Streams want one without a timeout.
	HTTP *http.Client
	// Errors maps error codes to what the *Error of an answer with that
	// code unwraps to, so that errors.Is matches a package's sentinels.
	Errors map[string]error
}

// Client calls a server's APIs: JSON in and out, with a bearer token. An
// error answer is an *Error with the status, code and message of its
// body (either family's shape).
type Client struct {
	base   string // without a trailing slash
	token  string
	hc     *http.Client
	errors map[string]error
}

// NewClient returns a client of cfg.URL. It makes no network call.
func NewClient(cfg ClientConfig) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http://HOST:PORT or https://HOST:PORT", cfg.URL)
	}
	if cfg.Token == "" {
		return nil, errors.New("no token")
	}
	hc := cfg.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return &Client{base: strings.TrimSuffix(u.String(), "/"), token: cfg.Token, hc: hc, errors: cfg.Errors}, nil
}

// Close closes the client's idle connections.
func (c *Client) Close() error {
	c.hc.CloseIdleConnections()
	return nil
}

// Do sends one request to path (with its query) with in as its JSON body
// (nil for none) and decodes a successful answer into out (nil to ignore
// it).
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.Open(ctx, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, resp.Request.URL, err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, resp.Request.URL, err)
	}
	return nil
}

// Open sends one request like Do and returns a successful answer for the
// caller to read (a stream) and close.
func (c *Client) Open(ctx context.Context, method, path string, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err // *url.Error names the method and URL
	}
	if resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return nil, c.answerError(req, resp.StatusCode, b)
}

// answerError decodes an error answer.
func (c *Client) answerError(req *http.Request, status int, b []byte) error {
	var body struct {
		Error   auditDetail `json:"error"`
		Type    string      `json:"type"`
		Message string      `json:"message"`
	}
	e := &Error{Status: status}
	switch {
	case json.Unmarshal(b, &body) != nil:
	case body.Error.Code != "":
		e.Code, e.Message = body.Error.Code, body.Error.Message
	case body.Type != "":
		e.Code, e.Message = body.Type, body.Message
	}
	if e.Code == "" {
		e.Code, e.Message = "http", fmt.Sprintf("%s %s: %s", req.Method, req.URL, firstLine(b))
	}
	e.Err = c.errors[e.Code]
	return e
}

// firstLine returns the start of an answer that is not an error body.
func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	if s == "" {
		return "empty answer"
	}
	return s
}
