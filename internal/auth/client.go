package auth

import (
	"context"
	"net/http"
	"net/url"

	"github.com/vigilaudit/vigil/internal/httpapi"
)

// Client calls a running server's admin API (AdminRoutes) with an admin
// token, over httpapi.Client. Its methods mirror the Store's, without the
// caller: the server records the token's.
type Client struct {
	c *httpapi.Client
}

// APIError is an error answer of the admin API. errors.Is matches it to
// ErrNotFound, ErrExists, ErrRevoked and ErrUnauthenticated by its code.
type APIError = httpapi.Error

// ErrorCodes maps the audit APIs' error codes to the sentinels they stand
// for, for httpapi.ClientConfig.Errors.
func ErrorCodes() map[string]error {
	return map[string]error{
		CodeNotFound:        ErrNotFound,
		CodeExists:          ErrExists,
		CodeRevoked:         ErrRevoked,
		CodeInUse:           ErrInUse,
		CodeUnauthenticated: ErrUnauthenticated,
		CodeCredentialReq:   ErrUnauthenticated,
		CodeUnknownToken:    ErrUnauthenticated,
	}
}

// NewClient returns a client of the server at serverURL (http or https,
// such as "https://vigil.example.com:8080"). hc nil means a client with a
// 30 s timeout and its own connections. It makes no network call.
func NewClient(serverURL, token string, hc *http.Client) (*Client, error) {
	c, err := httpapi.NewClient(httpapi.ClientConfig{URL: serverURL, Token: token, HTTP: hc, Errors: ErrorCodes()})
	if err != nil {
		return nil, err
	}
	return &Client{c: c}, nil
}

// Close closes the client's idle connections.
func (c *Client) Close() error { return c.c.Close() }

// AddDevice registers a device; see Store.AddDevice.
func (c *Client) AddDevice(ctx context.Context, user, name string) (Device, string, error) {
	var out AddedDevice
	if err := c.c.Do(ctx, http.MethodPost, AdminPath+"/devices", addDeviceRequest{User: user, Name: name}, &out); err != nil {
		return Device{}, "", err
	}
	return out.Device, out.Token, nil
}

// ListDevices lists every device; see Store.ListDevices.
func (c *Client) ListDevices(ctx context.Context) ([]Device, error) {
	var out devicesResponse
	if err := c.c.Do(ctx, http.MethodGet, AdminPath+"/devices", nil, &out); err != nil {
		return nil, err
	}
	return out.Devices, nil
}

// RevokeDevice revokes a device; see Store.RevokeDevice.
func (c *Client) RevokeDevice(ctx context.Context, id string) error {
	return c.c.Do(ctx, http.MethodDelete, AdminPath+"/devices/"+url.PathEscape(id), nil, nil)
}

// AddToken issues an API token; see Store.AddToken.
func (c *Client) AddToken(ctx context.Context, role Role, name string) (Token, string, error) {
	var out AddedToken
	if err := c.c.Do(ctx, http.MethodPost, AdminPath+"/tokens", addTokenRequest{Role: role, Name: name}, &out); err != nil {
		return Token{}, "", err
	}
	return out.Token, out.Secret, nil
}

// ListTokens lists every API token; see Store.ListTokens.
func (c *Client) ListTokens(ctx context.Context) ([]Token, error) {
	var out tokensResponse
	if err := c.c.Do(ctx, http.MethodGet, AdminPath+"/tokens", nil, &out); err != nil {
		return nil, err
	}
	return out.Tokens, nil
}

// RevokeToken revokes an API token; see Store.RevokeToken.
func (c *Client) RevokeToken(ctx context.Context, name string) error {
	return c.c.Do(ctx, http.MethodDelete, AdminPath+"/tokens/"+url.PathEscape(name), nil, nil)
}

// AddUser creates a user of the content API; see AdminRoutes.
func (c *Client) AddUser(ctx context.Context, nu NewUser, password string) (User, error) {
	var out User
	req := addUserRequest{Email: nu.Email, FirstName: nu.FirstName, LastName: nu.LastName, Admin: nu.Level == LevelAdmin, Password: password}
	if err := c.c.Do(ctx, http.MethodPost, AdminPath+"/users", req, &out); err != nil {
		return User{}, err
	}
	return out, nil
}

// ListUsers lists every user; see Store.AllUsers.
func (c *Client) ListUsers(ctx context.Context) ([]User, error) {
	var out usersResponse
	if err := c.c.Do(ctx, http.MethodGet, AdminPath+"/users", nil, &out); err != nil {
		return nil, err
	}
	return out.Users, nil
}

// SetLevel promotes or demotes a user; see Store.SetLevel.
func (c *Client) SetLevel(ctx context.Context, email string, level Level) (User, error) {
	var out User
	if err := c.c.Do(ctx, http.MethodPut, AdminPath+"/users/"+url.PathEscape(email)+"/level", setLevelRequest{Level: level}, &out); err != nil {
		return User{}, err
	}
	return out, nil
}

// SetUserRole gives a user an audit role or takes it away; see
// Store.SetUserRole.
func (c *Client) SetUserRole(ctx context.Context, email string, role Role) (User, error) {
	var out User
	if err := c.c.Do(ctx, http.MethodPut, AdminPath+"/users/"+url.PathEscape(email)+"/role", setRoleRequest{Role: role}, &out); err != nil {
		return User{}, err
	}
	return out, nil
}

// RemoveUser deletes a user; see Store.DeleteUser.
func (c *Client) RemoveUser(ctx context.Context, email string) error {
	return c.c.Do(ctx, http.MethodDelete, AdminPath+"/users/"+url.PathEscape(email), nil, nil)
}
