package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client calls a running server's admin API (AdminAPI) with an admin
// token. Its methods mirror the Store's, without the caller: the server
// records the token's.
type Client struct {
	base  string // server URL + AdminPath, without a trailing slash
	token string
	hc    *http.Client
}

// NewClient returns a client of the server at serverURL (http or https,
// such as "https://vigil.example.com:8080"). hc nil means a client with a
// 30 s timeout and its own connections. It makes no network call.
func NewClient(serverURL, token string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(serverURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http://HOST:PORT or https://HOST:PORT", serverURL)
	}
	if token == "" {
		return nil, errors.New("no admin token")
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return &Client{base: strings.TrimSuffix(u.String(), "/") + AdminPath, token: token, hc: hc}, nil
}

// Close closes the client's idle connections.
func (c *Client) Close() error {
	c.hc.CloseIdleConnections()
	return nil
}

// APIError is an error answer of the admin API. errors.Is matches it to
// ErrNotFound, ErrExists, ErrRevoked and ErrUnauthenticated by its code.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	return e.Message + " (HTTP " + strconv.Itoa(e.Status) + " " + e.Code + ")"
}

// Is reports whether target is the store error that e's code stands for.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Code == CodeNotFound
	case ErrExists:
		return e.Code == CodeExists
	case ErrRevoked:
		return e.Code == CodeRevoked
	case ErrUnauthenticated:
		return e.Code == CodeUnauthenticated
	}
	return false
}

// AddDevice registers a device; see Store.AddDevice.
func (c *Client) AddDevice(ctx context.Context, user, name string) (Device, string, error) {
	var out AddedDevice
	if err := c.do(ctx, http.MethodPost, "/devices", addDeviceRequest{User: user, Name: name}, &out); err != nil {
		return Device{}, "", err
	}
	return out.Device, out.Token, nil
}

// ListDevices lists every device; see Store.ListDevices.
func (c *Client) ListDevices(ctx context.Context) ([]Device, error) {
	var out devicesResponse
	if err := c.do(ctx, http.MethodGet, "/devices", nil, &out); err != nil {
		return nil, err
	}
	return out.Devices, nil
}

// RevokeDevice revokes a device; see Store.RevokeDevice.
func (c *Client) RevokeDevice(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/devices/"+url.PathEscape(id), nil, nil)
}

// AddToken issues an API token; see Store.AddToken.
func (c *Client) AddToken(ctx context.Context, role Role, name string) (Token, string, error) {
	var out AddedToken
	if err := c.do(ctx, http.MethodPost, "/tokens", addTokenRequest{Role: role, Name: name}, &out); err != nil {
		return Token{}, "", err
	}
	return out.Token, out.Secret, nil
}

// ListTokens lists every API token; see Store.ListTokens.
func (c *Client) ListTokens(ctx context.Context) ([]Token, error) {
	var out tokensResponse
	if err := c.do(ctx, http.MethodGet, "/tokens", nil, &out); err != nil {
		return nil, err
	}
	return out.Tokens, nil
}

// RevokeToken revokes an API token; see Store.RevokeToken.
func (c *Client) RevokeToken(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/tokens/"+url.PathEscape(name), nil, nil)
}

// do sends one request with in as its JSON body (nil for none) and decodes
// a successful answer into out (nil to ignore it). An error answer is an
// *APIError.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err // *url.Error names the method and URL
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, req.URL, err)
	}
	if resp.StatusCode >= 300 {
		var e errorBody
		if json.Unmarshal(b, &e) != nil || e.Error.Code == "" {
			return &APIError{Status: resp.StatusCode, Code: "http", Message: fmt.Sprintf("%s %s: %s", method, req.URL, firstLine(b))}
		}
		return &APIError{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, req.URL, err)
	}
	return nil
}

// firstLine returns the start of a non-JSON answer, for an error message.
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
