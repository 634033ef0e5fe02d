package auth

import (
	"context"
	"net/http"

	"github.com/vigilaudit/vigil/internal/httpapi"
)

// mailResponse is GET /mail's answer.
type mailResponse struct {
	Mail []Mail `json:"mail"`
}

// mailAdminRoutes are the admin API's mail routes; route completes each
// as AdminRoutes does.
func mailAdminRoutes(s *Store, route func(httpapi.Route, func(*http.Request, string) (any, error)) httpapi.Route) []httpapi.Route {
	return []httpapi.Route{
		route(httpapi.Route{Method: http.MethodGet, Pattern: "/mail", Summary: "List the mail outbox, sent or not, oldest first", Response: mailResponse{}},
			func(r *http.Request, _ string) (any, error) {
				ms, err := s.ListMail(r.Context())
				return mailResponse{Mail: ms}, err
			}),
	}
}

// ListMail lists the mail outbox; see Store.ListMail.
func (c *Client) ListMail(ctx context.Context) ([]Mail, error) {
	var out mailResponse
	if err := c.c.Do(ctx, http.MethodGet, AdminPath+"/mail", nil, &out); err != nil {
		return nil, err
	}
	return out.Mail, nil
}
