package auth

import (
	"context"
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"

	"github.com/vigilaudit/vigil/internal/httpapi"
)

// The admin API's app bodies.
type (
	addAppRequest struct {
		Name        string `json:"name"`
		RedirectURI string `json:"redirect_uri"`
		// Public registers an app without a secret, which must use PKCE.
		Public bool `json:"public"`
	}
	// AddedApp answers POST /apps: the app and its client secret, shown
	// only this once (none for a public app).
	AddedApp struct {
		App
		ClientSecret string `json:"client_secret,omitempty"`
	}
	appsResponse struct {
		Apps []App `json:"apps"`
	}
)

// appAdminRoutes are the admin API's OAuth 2.0 app routes; route
// completes each as AdminRoutes does:
//
//	POST   /apps              {name, redirect_uri, public} -> 201 {client_id, client_secret, ...}
//	GET    /apps              -> 200 {"apps": [...]}
//	DELETE /apps/{client_id}  -> 204
func appAdminRoutes(s *Store, route func(httpapi.Route, func(*http.Request, string) (any, error)) httpapi.Route) []httpapi.Route {
	return []httpapi.Route{
		route(httpapi.Route{Method: http.MethodPost, Pattern: "/apps", Summary: "Register an OAuth 2.0 app; its secret is shown only this once",
			Request: addAppRequest{}, Status: http.StatusCreated, Response: AddedApp{}},
			func(r *http.Request, caller string) (any, error) {
				var req addAppRequest
				if err := httpapi.DecodeJSON(r, &req, maxAdminBody); err != nil {
					return nil, err
				}
				app, secret, err := s.AddApp(r.Context(), Actor{Email: caller}, req.Name, req.RedirectURI, req.Public)
				if err != nil {
					return nil, err
				}
				return httpapi.Created(AddedApp{App: app, ClientSecret: secret}), nil
			}),
		route(httpapi.Route{Method: http.MethodGet, Pattern: "/apps", Summary: "List the OAuth 2.0 apps", Response: appsResponse{}},
			func(r *http.Request, _ string) (any, error) {
				apps, err := s.Apps(r.Context())
				return appsResponse{Apps: apps}, err
			}),
		route(httpapi.Route{Method: http.MethodDelete, Pattern: "/apps/{client_id}", Summary: "Remove an OAuth 2.0 app with its authorizations and tokens",
			Status: http.StatusNoContent},
			func(r *http.Request, caller string) (any, error) {
				return nil, s.RemoveApp(r.Context(), Actor{Email: caller}, chi.URLParam(r, "client_id"))
			}),
	}
}

// AddApp registers an OAuth 2.0 app; see Store.AddApp.
func (c *Client) AddApp(ctx context.Context, name, redirectURI string, public bool) (App, string, error) {
	var out AddedApp
	if err := c.c.Do(ctx, http.MethodPost, AdminPath+"/apps", addAppRequest{Name: name, RedirectURI: redirectURI, Public: public}, &out); err != nil {
		return App{}, "", err
	}
	return out.App, out.ClientSecret, nil
}

// ListApps lists the OAuth 2.0 apps; see Store.Apps.
func (c *Client) ListApps(ctx context.Context) ([]App, error) {
	var out appsResponse
	if err := c.c.Do(ctx, http.MethodGet, AdminPath+"/apps", nil, &out); err != nil {
		return nil, err
	}
	return out.Apps, nil
}

// RemoveApp removes an OAuth 2.0 app; see Store.RemoveApp.
func (c *Client) RemoveApp(ctx context.Context, clientID string) error {
	return c.c.Do(ctx, http.MethodDelete, AdminPath+"/apps/"+url.PathEscape(clientID), nil, nil)
}
