package contentapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/vigilaudit/vigil/contentapi/token"
	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/config"
	"github.com/vigilaudit/vigil/internal/httpapi"
)

// DefaultOrgName is the organization's name when content.org.name is
// not set: the product's.
const DefaultOrgName = "Vigil"

// OrgConfig is the content.org section: the one organization.
type OrgConfig struct {
	// Name is the organization's name (GET /organizations/{id}).
	Name string `yaml:"name"`
	// OpenSignup lets anyone sign up without an invitation (POST
	// /auth/signup with an email and no signup_code). Off by default:
	// sign-up is by invitation only.
	OpenSignup bool `yaml:"open_signup"`
	// Quota is each user's storage quota ("10GiB"); 0, the default, is
	// none.
	Quota config.ByteSize `yaml:"quota"`
}

// SetDefaults fills in the zero values.
func (c *OrgConfig) SetDefaults() {
	if c.Name == "" {
		c.Name = DefaultOrgName
	}
}

// Validate checks a configuration after SetDefaults.
func (c OrgConfig) Validate() error {
	var p config.Problems
	switch {
	case len(c.Name) > 200:
		p.Add("name", "longer than 200 bytes")
	case hasControl(c.Name):
		p.Add("name", "contains control characters")
	}
	if c.Quota > 1<<62 {
		p.Add("quota", "larger than 4 EiB")
	}
	return p.Err()
}

// Invitee is POST /invitees' body and answer, and GET /invitees/{email}'s
// answer (without the code, which is only given when it is made).
type Invitee struct {
	EmailTo   string `json:"email_to"`
	EmailFrom string `json:"email_from"`
	// SignupCode is what the invitee signs up with (POST /auth/signup):
	// in this answer, for the inviter to pass on, and in the invitation
	// mail queued in the mail outbox.
	SignupCode string `json:"signup_code,omitempty"`
}

// Group is a group of the organization's users.
type Group struct {
	ID      string        `json:"id"`
	Name    string        `json:"name"`
	Members []GroupMember `json:"members"`
}

// GroupMember is a user in a group.
type GroupMember struct {
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}

// groupBody is POST /groups' body.
type groupBody struct {
	Name string `json:"name"`
}

// memberBody is POST /groups/{id}/members' body.
type memberBody struct {
	Email string `json:"email"`
}

// Organization is GET /organizations/{id}'s answer; Quota is each
// user's, in bytes, absent for none.
type Organization struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Quota uint64 `json:"quota,omitempty"`
}

// Quota is GET /users/{email}/quota's answer; BytesAllowed is absent
// without a quota.
type Quota struct {
	BytesUsed    int64  `json:"bytes_used"`
	BytesAllowed uint64 `json:"bytes_allowed,omitempty"`
}

// Count is a GET /stats/{what} answer.
type Count struct {
	Count int64 `json:"count"`
}

// SignUpRequest is POST /auth/signup's body: a signup code from an
// invitation, or, with open sign-up, an email.
type SignUpRequest struct {
	SignupCode string `json:"signup_code"`
	Email      string `json:"email"`
	Password   string `json:"password"`
	FirstName  string `json:"first_name"`
	LastName   string `json:"last_name"`
}

func groupOf(g auth.Group) Group {
	out := Group{ID: g.ID, Name: g.Name, Members: make([]GroupMember, len(g.Members))}
	for i, m := range g.Members {
		out.Members[i] = GroupMember(m)
	}
	return out
}

func groupsOf(gs []auth.Group) []Group {
	out := make([]Group, len(gs))
	for i, g := range gs {
		out[i] = groupOf(g)
	}
	return out
}

// orgTable is the routes of the organization: invitees, groups, the
// organization itself, its counts and quotas (CONTENT-API.md), and
// removing a user from it (Vigil's own).
func (a *API) orgTable() []Route {
	read := []string{ScopeGroupsRead}
	return []Route{
		{Method: http.MethodPost, Path: "/invitees", Since: V(1, 3), Scopes: []string{ScopeUserWrite}, Handle: a.invite,
			Summary: "Invite an email to the organization: its signup code (user.org.invite)", Request: Invitee{}, Response: Invitee{}, Status: http.StatusCreated},
		{Method: http.MethodGet, Path: "/invitees/{email}", Since: V(1, 3), Scopes: []string{ScopeUserRead}, Handle: a.invitee,
			Summary: "A pending invitation: for its inviter or an administrator", Response: Invitee{}},
		{Method: http.MethodDelete, Path: "/invitees/{email}", Since: V(1, 3), Scopes: []string{ScopeUserWrite}, Handle: a.uninvite,
			Summary: "Withdraw an invitation: its signup code stops working", Status: http.StatusNoContent},

		{Method: http.MethodGet, Path: "/groups", Since: V(1, 3), Scopes: read, Handle: a.listGroups,
			Summary: "The organization's groups, oldest first", Response: []Group{}, Query: []string{"offset", "results"}},
		{Method: http.MethodPost, Path: "/groups", Since: V(1, 3), Admin: true, Handle: a.createGroup,
			Summary: "Create a group", Request: groupBody{}, Response: Group{}, Status: http.StatusCreated},
		{Method: http.MethodGet, Path: "/groups/{id}", Since: V(1, 3), Scopes: read, Handle: a.group,
			Summary: "One group with its members", Response: Group{}},
		{Method: http.MethodDelete, Path: "/groups/{id}", Since: V(1, 3), Admin: true, Handle: a.deleteGroup,
			Summary: "Delete a group", Status: http.StatusNoContent},
		{Method: http.MethodGet, Path: "/groups/{id}/members", Since: V(1, 3), Scopes: read, Handle: a.groupMembers,
			Summary: "A group's members", Response: []GroupMember{}},
		{Method: http.MethodPost, Path: "/groups/{id}/members", Since: V(1, 3), Admin: true, Handle: a.addGroupMember,
			Summary: "Add a user to a group", Request: memberBody{}, Response: GroupMember{}, Status: http.StatusCreated},
		{Method: http.MethodGet, Path: "/groups/{id}/members/{email}", Since: V(1, 3), Scopes: read, Handle: a.groupMember,
			Summary: "One member of a group", Response: GroupMember{}},
		{Method: http.MethodDelete, Path: "/groups/{id}/members/{email}", Since: V(1, 3), Admin: true, Handle: a.removeGroupMember,
			Summary: "Take a user out of a group", Status: http.StatusNoContent},
		{Method: http.MethodGet, Path: "/users/{email}/groups", Since: V(1, 3), Scopes: read, Handle: a.userGroups,
			Summary: "The groups a user is in", Response: []Group{}},

		{Method: http.MethodGet, Path: "/organizations/{id}", Since: V(1, 2), Scopes: []string{ScopeUserRead, ScopeOrgAdmin}, Handle: a.organization,
			Summary: "The organization: its id, name and per-user quota", Response: Organization{}},
		{Method: http.MethodDelete, Path: "/organizations/{id}/users/{email}", Since: V(1, 4), Admin: true, Handle: a.removeFromOrg,
			Summary: "Remove a user from the organization (user.org.remove); Vigil's own", Status: http.StatusNoContent},
		{Method: http.MethodGet, Path: "/stats/{what}", Since: V(1, 4), Admin: true, Handle: a.stats,
			Summary: "How many users, devices, groups or shares the organization has", Response: Count{}},
		{Method: http.MethodGet, Path: "/users/{email}/quota", Since: V(1, 2), Scopes: []string{ScopeUserRead}, Handle: a.quota,
			Summary: "A user's storage use and quota", Response: Quota{}},
	}
}

// orgError is the answer for an organization store's error.
func orgError(err error) error {
	if errors.Is(err, auth.ErrNoGroup) {
		return NotFound("No such group")
	}
	return storeError(err)
}

// bodyEmailField reads a required email of a body.
func bodyEmailField(field, s string) (string, error) {
	if strings.TrimSpace(s) == "" {
		return "", BadArgs("Invalid " + field + ": required")
	}
	e, err := bodyEmail(strings.TrimSpace(s))
	if err != nil {
		return "", BadArgs("Invalid " + field + ": " + err.Error())
	}
	return e, nil
}

func (a *API) invite(r *Request) (any, error) {
	var req Invitee
	if err := r.Decode(&req); err != nil {
		return nil, err
	}
	to, err := bodyEmailField("email_to", req.EmailTo)
	if err != nil {
		return nil, err
	}
	from := r.Principal.Email
	if req.EmailFrom != "" {
		if from, err = bodyEmailField("email_from", req.EmailFrom); err != nil {
			return nil, err
		}
	}
	if from != r.Principal.Email && !r.isAdmin() {
		return nil, Forbidden("Only an administrator may invite on another user's behalf")
	}
	code := token.New()
	m := auth.Mail{Subject: "You are invited to " + a.org.Name, Body: inviteMailBody(from, a.org.Name, code)}
	inv, err := a.acc.store.Invite(r.Context(), from, to, token.Hash(code), m)
	if errors.Is(err, auth.ErrExists) {
		return nil, Conflict("Already a user of the organization")
	}
	if err != nil {
		return nil, storeError(err)
	}
	return httpapi.Response{Status: http.StatusCreated, Body: Invitee{EmailTo: inv.Email, EmailFrom: inv.Inviter, SignupCode: code},
		Header: http.Header{"Location": {Prefix + "/v" + r.Version.String() + "/invitees/" + inv.Email}}}, nil
}

// inviteMailBody is the invitation mail's text: who invites, to which
// organization, and the signup code with how to use it.
func inviteMailBody(from, org, code string) string {
	return from + " invites you to " + org + ".\n\n" +
		"Your signup code, usable once:\n\n  " + code + "\n\n" +
		"Send it with a password of your choice to POST /auth/signup:\n" +
		"  {\"signup_code\": \"<the code>\", \"password\": \"<your password>\", \"first_name\": \"...\", \"last_name\": \"...\"}\n"
}

// invitation is the path's pending invitation, which r's principal
// must have sent, or administer.
func (a *API) invitation(r *Request) (auth.Invitation, error) {
	email, err := r.PathEmail("email")
	if err != nil {
		return auth.Invitation{}, err
	}
	inv, err := a.acc.store.Invitation(r.Context(), email)
	if errors.Is(err, auth.ErrNotFound) {
		return auth.Invitation{}, NotFound("No such invitee")
	}
	if err != nil {
		return auth.Invitation{}, err
	}
	if inv.Inviter != r.Principal.Email && !r.isAdmin() {
		return auth.Invitation{}, Forbidden("Only the inviter or an administrator may see or withdraw an invitation")
	}
	return inv, nil
}

func (a *API) invitee(r *Request) (any, error) {
	inv, err := a.invitation(r)
	if err != nil {
		return nil, err
	}
	return Invitee{EmailTo: inv.Email, EmailFrom: inv.Inviter}, nil
}

func (a *API) uninvite(r *Request) (any, error) {
	inv, err := a.invitation(r)
	if err != nil {
		return nil, err
	}
	if err := a.acc.store.DeleteInvitation(r.Context(), inv.Email); errors.Is(err, auth.ErrNotFound) {
		return nil, NotFound("No such invitee")
	} else if err != nil {
		return nil, err
	}
	return nil, nil
}

func (a *API) listGroups(r *Request) (any, error) {
	w, err := ParseWindow(r.URL.Query(), 20, 1000)
	if err != nil {
		return nil, err
	}
	gs, err := a.acc.store.Groups(r.Context(), w.Offset, w.Results)
	if err != nil {
		return nil, err
	}
	return groupsOf(gs), nil
}

func (a *API) createGroup(r *Request) (any, error) {
	var req groupBody
	if err := r.Decode(&req); err != nil {
		return nil, err
	}
	g, err := a.acc.store.CreateGroup(r.Context(), req.Name)
	if err != nil {
		return nil, storeError(err)
	}
	return httpapi.Response{Status: http.StatusCreated, Body: groupOf(g),
		Header: http.Header{"Location": {Prefix + "/v" + r.Version.String() + "/groups/" + g.ID}}}, nil
}

func (a *API) group(r *Request) (any, error) {
	g, err := a.acc.store.Group(r.Context(), chi.URLParam(r.Request, "id"))
	if errors.Is(err, auth.ErrNotFound) {
		return nil, orgError(auth.ErrNoGroup)
	} else if err != nil {
		return nil, err
	}
	return groupOf(g), nil
}

func (a *API) deleteGroup(r *Request) (any, error) {
	if err := a.acc.store.DeleteGroup(r.Context(), chi.URLParam(r.Request, "id")); errors.Is(err, auth.ErrNotFound) {
		return nil, orgError(auth.ErrNoGroup)
	} else if err != nil {
		return nil, err
	}
	return nil, nil
}

func (a *API) groupMembers(r *Request) (any, error) {
	g, err := a.acc.store.Group(r.Context(), chi.URLParam(r.Request, "id"))
	if errors.Is(err, auth.ErrNotFound) {
		return nil, orgError(auth.ErrNoGroup)
	} else if err != nil {
		return nil, err
	}
	return groupOf(g).Members, nil
}

func (a *API) addGroupMember(r *Request) (any, error) {
	var req memberBody
	if err := r.Decode(&req); err != nil {
		return nil, err
	}
	email, err := bodyEmailField("email", req.Email)
	if err != nil {
		return nil, err
	}
	m, err := a.acc.store.AddGroupMember(r.Context(), chi.URLParam(r.Request, "id"), email)
	if errors.Is(err, auth.ErrExists) {
		return nil, Conflict("Already a member of the group")
	}
	if err != nil {
		return nil, orgError(err)
	}
	return httpapi.Response{Status: http.StatusCreated, Body: GroupMember(m),
		Header: http.Header{"Location": {Prefix + "/v" + r.Version.String() + "/groups/" + strings.ToLower(chi.URLParam(r.Request, "id")) + "/members/" + m.Email}}}, nil
}

func (a *API) groupMember(r *Request) (any, error) {
	email, err := r.PathEmail("email")
	if err != nil {
		return nil, err
	}
	m, err := a.acc.store.GroupMember(r.Context(), chi.URLParam(r.Request, "id"), email)
	if errors.Is(err, auth.ErrNotFound) && !errors.Is(err, auth.ErrNoGroup) {
		return nil, NotFound("No such member")
	}
	if err != nil {
		return nil, orgError(err)
	}
	return GroupMember(m), nil
}

func (a *API) removeGroupMember(r *Request) (any, error) {
	email, err := r.PathEmail("email")
	if err != nil {
		return nil, err
	}
	err = a.acc.store.RemoveGroupMember(r.Context(), chi.URLParam(r.Request, "id"), email)
	if errors.Is(err, auth.ErrNotFound) && !errors.Is(err, auth.ErrNoGroup) {
		return nil, NotFound("No such member")
	}
	if err != nil {
		return nil, orgError(err)
	}
	return nil, nil
}

func (a *API) userGroups(r *Request) (any, error) {
	email, err := r.PathEmail("email")
	if err != nil {
		return nil, err
	}
	gs, err := a.acc.store.UserGroups(r.Context(), email)
	if err != nil {
		return nil, orgError(err)
	}
	return groupsOf(gs), nil
}

// orgID reads the path's organization id: the one organization's, or
// 404.
func orgID(r *Request) error {
	if chi.URLParam(r.Request, "id") != auth.OrgID {
		return NotFound("No such organization")
	}
	return nil
}

func (a *API) organization(r *Request) (any, error) {
	if err := orgID(r); err != nil {
		return nil, err
	}
	return Organization{ID: auth.OrgID, Name: a.org.Name, Quota: uint64(a.org.Quota)}, nil
}

func (a *API) removeFromOrg(r *Request) (any, error) {
	if err := orgID(r); err != nil {
		return nil, err
	}
	email, err := r.PathEmail("email")
	if err != nil {
		return nil, err
	}
	return nil, orgError(a.acc.store.RemoveFromOrg(r.Context(), r.actor(), email))
}

func (a *API) stats(r *Request) (any, error) {
	what := chi.URLParam(r.Request, "what")
	switch what {
	case "users", "devices", "groups":
	case "shares":
		if a.files == nil {
			return Count{}, nil
		}
		n, err := a.files.CountShares(r.Context())
		if err != nil {
			return nil, err
		}
		return Count{Count: n}, nil
	default:
		return nil, NotFound("No such statistic: " + what)
	}
	st, err := a.acc.store.Stats(r.Context())
	if err != nil {
		return nil, err
	}
	n := map[string]int64{"users": st.Users, "devices": st.Devices, "groups": st.Groups}[what]
	return Count{Count: n}, nil
}

func (a *API) quota(r *Request) (any, error) {
	email, err := r.selfOrAdmin()
	if err != nil {
		return nil, err
	}
	used, err := a.acc.store.Usage(r.Context(), email)
	if err != nil {
		return nil, orgError(err)
	}
	return Quota{BytesUsed: used, BytesAllowed: uint64(a.org.Quota)}, nil
}

// signupRoute is POST /auth/signup, beside the sign-in routes: public,
// never cached.
func (a *API) signupRoute() httpapi.Route {
	return httpapi.Route{Method: http.MethodPost, Pattern: "/auth/signup", Access: httpapi.Public, Family: httpapi.Content,
		Handler: httpapi.NoStore(a.mapper.Handle(a.signUp)), Request: SignUpRequest{}, Response: User{}, Status: http.StatusCreated,
		Summary: "Sign up with an invitation's signup code (user.org.signup, or user.org.accept for a user removed from the organization), or with an email where open sign-up is on (user.account.request)"}
}

func (a *API) signUp(r *http.Request) (any, error) {
	var req SignUpRequest
	if err := httpapi.DecodeJSONLax(r, &req, a.maxBody); err != nil {
		return nil, err
	}
	if req.Password == "" {
		return nil, BadArgs("Invalid password: required")
	}
	if len(req.Password) > maxPasswordBytes {
		return nil, BadArgs("Invalid password: longer than 1024 bytes")
	}
	ctx := r.Context()
	code := strings.ToLower(strings.TrimSpace(req.SignupCode))
	var (
		u   auth.User
		err error
	)
	switch {
	case code != "":
		if !token.Valid(code) {
			return nil, BadArgs("Invalid signup_code: must be 32 hex digits")
		}
		// Hash before the transaction: argon2id takes its time.
		u, _, err = a.acc.store.SignUp(ctx, token.Hash(code), a.acc.hasher.Hash(req.Password), req.FirstName, req.LastName)
	case !a.org.OpenSignup:
		return nil, Forbidden("Sign-up is by invitation only: a signup_code is required")
	default:
		email, ferr := bodyEmailField("email", req.Email)
		if ferr != nil {
			return nil, ferr
		}
		u, err = a.acc.store.OpenSignUp(ctx, email, a.acc.hasher.Hash(req.Password), req.FirstName, req.LastName)
	}
	if errors.Is(err, auth.ErrExists) {
		return nil, Conflict("Already a user of the organization")
	}
	if err != nil {
		return nil, storeError(err)
	}
	return httpapi.Created(userOf(u)), nil
}
