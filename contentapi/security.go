package contentapi

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/vigilaudit/vigil/contentapi/ratelimit"
	"github.com/vigilaudit/vigil/contentapi/token"
	"github.com/vigilaudit/vigil/contentapi/totp"
	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/config"
	"github.com/vigilaudit/vigil/internal/httpapi"
)

// ResetTokenLifetime is how long a mailed password reset token works.
const ResetTokenLifetime = time.Hour

// SecurityConfig is the content.security section: the limits on
// password reset requests and on second-factor codes, and what mails
// and authenticator apps show.
type SecurityConfig struct {
	// ResetPerUser limits reset requests per email (default 3 per
	// hour), ResetPerIP per client address (default 10 per hour).
	ResetPerUser ratelimit.Config `yaml:"reset_per_user"`
	ResetPerIP   ratelimit.Config `yaml:"reset_per_ip"`
	// Codes limits failed second-factor codes per user (default 5 per
	// 5 minutes).
	Codes ratelimit.Config `yaml:"codes"`
	// Issuer names the service in authenticator apps (default Vigil).
	Issuer string `yaml:"issuer"`
	// ResetURL, when set, is the page a reset mail links to, with
	// ?token=...; without it the mail holds the token alone.
	ResetURL string `yaml:"reset_url"`
}

// SetDefaults fills in the zero values.
func (c *SecurityConfig) SetDefaults() {
	if c.ResetPerUser.Limit == 0 && c.ResetPerUser.Window == 0 {
		c.ResetPerUser.Limit, c.ResetPerUser.Window = 3, time.Hour
	}
	if c.ResetPerIP.Limit == 0 && c.ResetPerIP.Window == 0 {
		c.ResetPerIP.Limit, c.ResetPerIP.Window = 10, time.Hour
	}
	if c.Codes.Limit == 0 && c.Codes.Window == 0 {
		c.Codes.Limit = 5
	}
	c.ResetPerUser.SetDefaults()
	c.ResetPerIP.SetDefaults()
	c.Codes.SetDefaults()
	if c.Issuer == "" {
		c.Issuer = "Vigil"
	}
}

// Validate checks a configuration after SetDefaults.
func (c SecurityConfig) Validate() error {
	var p config.Problems
	p.Nest("reset_per_user", c.ResetPerUser.Validate())
	p.Nest("reset_per_ip", c.ResetPerIP.Validate())
	p.Nest("codes", c.Codes.Validate())
	if strings.ContainsAny(c.Issuer, ":\r\n") {
		p.Add("issuer", "must be one line without a colon")
	}
	if c.ResetURL != "" && !strings.HasPrefix(c.ResetURL, "https://") && !strings.HasPrefix(c.ResetURL, "http://") {
		p.Add("reset_url", "must be an http or https URL")
	}
	return p.Err()
}

// security is the API's account security: its limiters and settings.
type security struct {
	resetPerUser, resetPerIP, codes *ratelimit.Limiter
	issuer, resetURL                string
}

func newSecurity(cfg SecurityConfig, now func() time.Time) *security {
	cfg.SetDefaults()
	return &security{
		resetPerUser: ratelimit.New(cfg.ResetPerUser, now), resetPerIP: ratelimit.New(cfg.ResetPerIP, now),
		codes: ratelimit.New(cfg.Codes, now), issuer: cfg.Issuer, resetURL: cfg.ResetURL,
	}
}

// The bodies of the security routes.
type (
	// ChangePasswordRequest is POST /auth/password's body.
	ChangePasswordRequest struct {
		CurrentPassword string `json:"current_password"`
		Password        string `json:"password"`
	}
	// ResetRequest is POST /auth/password/reset/request's body.
	ResetRequest struct {
		Email string `json:"email"`
	}
	// ResetPasswordRequest is POST /auth/password/reset's body: the
	// mailed token and the new password.
	ResetPasswordRequest struct {
		Token    string `json:"token"`
		Password string `json:"password"`
	}
	// TwoFactorStatus is GET /users/{email}/two_factor's answer.
	TwoFactorStatus struct {
		// Enforce says that signing in asks for a code.
		Enforce bool `json:"enforce"`
		// Level is the organization's enforcement level.
		Level string `json:"level"`
		// BackupCodes is how many unused backup codes are left.
		BackupCodes int `json:"backup_codes"`
	}
	// TwoFactorSetup is POST /users/{email}/two_factor's answer, shown
	// this once: the secret (base32, for typing), the otpauth URI (for
	// a QR code) and the backup codes.
	TwoFactorSetup struct {
		Secret      string   `json:"secret"`
		URI         string   `json:"uri"`
		BackupCodes []string `json:"backup_codes"`
	}
	// CodeRequest carries a second-factor code.
	CodeRequest struct {
		Code string `json:"code"`
	}
	// TwoFactorLevel is the organization's enforcement level.
	TwoFactorLevel struct {
		Level string `json:"level"`
	}
)

// securityAuthRoutes are the password routes beside /auth.
func (a *API) securityAuthRoutes() []httpapi.Route {
	route := func(rt httpapi.Route, f httpapi.HandlerFunc) httpapi.Route {
		rt.Method, rt.Access, rt.Family = http.MethodPost, httpapi.Public, httpapi.Content
		rt.Handler = httpapi.NoStore(withWriter(a.mapper.Handle(f)))
		return rt
	}
	return []httpapi.Route{
		route(httpapi.Route{Pattern: "/auth/password", Request: ChangePasswordRequest{}, Status: http.StatusNoContent,
			Summary: "Change one's own password, giving the current one (bearer token with user.password, or session) (user.password.change)"}, a.changePassword),
		route(httpapi.Route{Pattern: "/auth/password/reset/request", Request: ResetRequest{}, Status: http.StatusAccepted,
			Summary: "Mail a password reset token, valid 1 h; always 202 (user.password.reset.request)"}, a.requestReset),
		route(httpapi.Route{Pattern: "/auth/password/reset", Request: ResetPasswordRequest{}, Status: http.StatusNoContent,
			Summary: "Set a new password with a mailed reset token, ending every session and token (user.password.reset)"}, a.resetPassword),
	}
}

// securityTable is the two-factor routes under /api.
func (a *API) securityTable() []Route {
	return []Route{
		{Method: http.MethodGet, Path: "/users/{email}/two_factor", Since: V(1, 3), Scopes: []string{ScopeUserRead}, Handle: a.twoFactorStatus,
			Summary: "Whether signing in asks the user for a second-factor code", Response: TwoFactorStatus{}},
		{Method: http.MethodDelete, Path: "/users/{email}/two_factor", Since: V(1, 3), Scopes: []string{ScopeUserWrite}, Handle: a.disableTwoFactor,
			Summary: "Turn off a user's two-factor authentication (user.2fa.disable)", Status: http.StatusNoContent},
		{Method: http.MethodPost, Path: "/users/{email}/two_factor", Since: V(1, 4), Scopes: []string{ScopeUserWrite}, Handle: a.beginTwoFactor,
			Summary: "Set up two-factor authentication: a new TOTP secret and backup codes, shown once", Response: TwoFactorSetup{}, Status: http.StatusCreated},
		{Method: http.MethodPost, Path: "/users/{email}/two_factor/verify", Since: V(1, 4), Scopes: []string{ScopeUserWrite}, Handle: a.verifyTwoFactor,
			Summary: "Turn two-factor authentication on with a first code (user.2fa.enable)", Request: CodeRequest{}, Response: TwoFactorStatus{}},
		{Method: http.MethodGet, Path: "/organization/two_factor", Since: V(1, 4), Admin: true, Handle: a.twoFactorLevel,
			Summary: "The organization's two-factor enforcement level", Response: TwoFactorLevel{}},
		{Method: http.MethodPut, Path: "/organization/two_factor", Since: V(1, 4), Admin: true, Handle: a.setTwoFactorLevel,
			Summary: "Set the organization's two-factor enforcement level: DISALLOWED, OPT_IN or MANDATORY (org.2fa.level)",
			Request: TwoFactorLevel{}, Response: TwoFactorLevel{}},
	}
}

// checkNewPassword bounds a new password as PUT /users/{email}/password
// does.
func checkNewPassword(pw string) error {
	switch {
	case pw == "":
		return BadArgs("Invalid password: required")
	case len(pw) > maxPasswordBytes:
		return BadArgs("Invalid password: longer than 1024 bytes")
	}
	return nil
}

func (a *API) changePassword(r *http.Request) (any, error) {
	p, err := a.authenticate(r)
	if err != nil {
		return nil, err
	}
	if !p.Scopes.Has(ScopeUserPassword) {
		return nil, lacksScope([]string{ScopeUserPassword})
	}
	var req ChangePasswordRequest
	if err := httpapi.DecodeJSONLax(r, &req, a.maxBody); err != nil {
		return nil, err
	}
	if req.CurrentPassword == "" {
		return nil, BadArgs("Invalid current_password: required")
	}
	if err := checkNewPassword(req.Password); err != nil {
		return nil, err
	}
	// A wrong current password is a failed sign-in: limited, and
	// recorded as user.password.error.
	if _, _, err := a.checkPassword(r, "email", p.Email, req.CurrentPassword); err != nil {
		return nil, err
	}
	return nil, storeError(a.acc.store.ChangePassword(r.Context(), p.Email, a.acc.hasher.Hash(req.Password)))
}

func (a *API) requestReset(r *http.Request) (any, error) {
	var req ResetRequest
	if err := httpapi.DecodeJSONLax(r, &req, a.maxBody); err != nil {
		return nil, err
	}
	if strings.TrimSpace(req.Email) == "" {
		return nil, BadArgs("Invalid email: required")
	}
	email, err := bodyEmail(strings.TrimSpace(req.Email))
	if err != nil {
		return nil, BadArgs("Invalid email: " + err.Error())
	}
	ip := ClientIP(r)
	du, di := a.sec.resetPerUser.Allow(ratelimit.Key(email)), a.sec.resetPerIP.Allow(ratelimit.Key(ip))
	if !du.Allowed || !di.Allowed {
		return nil, TooManyRequests("Too many password reset requests: try again later", max(du.RetryAfter, di.RetryAfter))
	}
	tok := token.New()
	m := auth.Mail{Subject: "Reset your password", Body: a.resetMailBody(email, tok)}
	// The requester is the user the mail goes to: the caller of the
	// event, from the request's address.
	err = a.acc.store.RequestPasswordReset(r.Context(), auth.Actor{Email: email, IP: ip}, email, token.Hash(tok),
		a.now().Add(ResetTokenLifetime), m)
	if err != nil && !errors.Is(err, auth.ErrNotFound) && !errors.Is(err, auth.ErrExternalAccount) {
		return nil, err
	}
	// The same answer whether the user exists or not, and for a user
	// LDAP or OpenID Connect provisioned (no token, no mail: their
	// password is not Vigil's).
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

// resetMailBody is the text of a reset mail carrying tok.
func (a *API) resetMailBody(email, tok string) string {
	var b strings.Builder
	b.WriteString("Someone asked to reset the password of " + email + ".\n\n")
	if a.sec.resetURL != "" {
		b.WriteString("To choose a new password, open this link within an hour:\n\n  " + a.sec.resetURL + "?token=" + tok + "\n\n")
	}
	b.WriteString("Your reset token, valid for one hour and usable once:\n\n  " + tok + "\n\n")
	b.WriteString("Send it with your new password to POST /auth/password/reset:\n" +
		"  {\"token\": \"<the token>\", \"password\": \"<your new password>\"}\n\n" +
		"Resetting signs you out everywhere. If you did not ask for this, ignore this mail: your password stays as it is.\n")
	return b.String()
}

func (a *API) resetPassword(r *http.Request) (any, error) {
	var req ResetPasswordRequest
	if err := httpapi.DecodeJSONLax(r, &req, a.maxBody); err != nil {
		return nil, err
	}
	if req.Token == "" {
		return nil, BadArgs("Invalid token: required")
	}
	if err := checkNewPassword(req.Password); err != nil {
		return nil, err
	}
	if !token.Valid(req.Token) {
		return nil, BadArgs("Invalid token: unknown, expired or used")
	}
	_, err := a.acc.store.ResetPassword(r.Context(), token.Hash(req.Token), a.acc.hasher.Hash(req.Password), a.now())
	switch {
	case errors.Is(err, auth.ErrRefused):
		return nil, BadArgs("Invalid token: unknown, expired or used")
	case errors.Is(err, auth.ErrExternalAccount):
		return nil, externalAccount()
	}
	return nil, err
}

// twoFactorRequired is the 401 of a sign-in that needs a second-factor
// code: none was sent, or the one sent was refused.
func twoFactorRequired(msg string) httpapi.Response {
	return httpapi.Response{Status: http.StatusUnauthorized,
		Header: http.Header{"Www-Authenticate": {`Bearer realm="` + httpapi.Realm + `"`}},
		Body:   twoFactorBody{"UNAUTHORIZED", msg, true}}
}

// twoFactorBody is the body of twoFactorRequired's 401.
type twoFactorBody struct {
	Type              string `json:"type"`
	Message           string `json:"message"`
	TwoFactorRequired bool   `json:"two_factor_required"`
}

// secondFactor checks the code of a sign-in whose password was right.
// It returns nil to go on, or the answer to give instead: a 401 with
// two_factor_required for a missing or refused code, 429 when the code
// limiter refuses, 403 for a user without two-factor authentication in
// an organization that makes it mandatory. A refused code is recorded
// as user.password.error with two_factor.
func (a *API) secondFactor(r *http.Request, u auth.User, code string) (any, error) {
	ctx := r.Context()
	level, err := a.acc.store.TwoFactorLevel(ctx)
	if err != nil || level == auth.TwoFactorDisallowed {
		return nil, err
	}
	tf, err := a.acc.store.TwoFactor(ctx, u.Email)
	if err != nil && !errors.Is(err, auth.ErrNotFound) {
		return nil, err
	}
	if !tf.Enabled {
		if level == auth.TwoFactorMandatory {
			return nil, Forbidden("Two-factor authentication is mandatory in this organization: ask an administrator to let you set it up")
		}
		return nil, nil
	}
	if code == "" {
		return twoFactorRequired("Two-factor code required"), nil
	}
	actor, key := signinActor(r), ratelimit.Key(u.Email)
	if d := a.sec.codes.Check(key); !d.Allowed {
		if err := a.acc.store.SecondFactorFailed(ctx, actor, u.Email, true); err != nil {
			return nil, err
		}
		return nil, TooManyRequests("Too many wrong two-factor codes: try again later", d.RetryAfter)
	}
	if ok, err := a.useCode(r, u.Email, tf, code); err != nil {
		return nil, err
	} else if ok {
		a.sec.codes.Reset(key)
		return nil, nil
	}
	a.sec.codes.Record(key)
	if err := a.acc.store.SecondFactorFailed(ctx, actor, u.Email, false); err != nil {
		return nil, err
	}
	return twoFactorRequired("Invalid two-factor code"), nil
}

// useCode spends code, a TOTP code (of a step later than the last
// accepted) or a backup code, for email.
func (a *API) useCode(r *http.Request, email string, tf auth.TwoFactor, code string) (bool, error) {
	secret, err := totp.DecodeSecret(tf.Secret)
	if err != nil {
		return false, err
	}
	if step, ok := totp.Verify(secret, code, a.now(), tf.LastStep); ok {
		err = a.acc.store.UseTOTPStep(r.Context(), email, step)
	} else if h, ok := totp.HashBackupCode(code); ok {
		err = a.acc.store.UseBackupCode(r.Context(), email, h)
	} else {
		return false, nil
	}
	switch {
	case errors.Is(err, auth.ErrRefused):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

func (a *API) twoFactorStatus(r *Request) (any, error) {
	email, err := r.selfOrAdmin()
	if err != nil {
		return nil, err
	}
	if _, err := a.acc.store.User(r.Context(), email); err != nil {
		return nil, storeError(err)
	}
	level, err := a.acc.store.TwoFactorLevel(r.Context())
	if err != nil {
		return nil, err
	}
	tf, err := a.acc.store.TwoFactor(r.Context(), email)
	if err != nil && !errors.Is(err, auth.ErrNotFound) {
		return nil, err
	}
	st := TwoFactorStatus{Enforce: tf.Enabled && level != auth.TwoFactorDisallowed, Level: level}
	if tf.Enabled {
		st.BackupCodes = tf.BackupCodes
	}
	return st, nil
}

func (a *API) disableTwoFactor(r *Request) (any, error) {
	email, err := r.selfOrAdmin()
	if err != nil {
		return nil, err
	}
	level, err := a.acc.store.TwoFactorLevel(r.Context())
	if err != nil {
		return nil, err
	}
	if level == auth.TwoFactorMandatory && !r.isAdmin() {
		return nil, Forbidden("Two-factor authentication is mandatory in this organization")
	}
	err = a.acc.store.DisableTwoFactor(r.Context(), r.actor(), email)
	if errors.Is(err, auth.ErrNotFound) {
		return nil, NotFound("Two-factor authentication is not enabled")
	}
	return nil, err
}

// self reads the path's user, who must be r's principal: secrets are
// set up by their holder only.
func (r *Request) self() (string, error) {
	email, err := r.PathEmail("email")
	if err != nil {
		return "", err
	}
	if email != r.Principal.Email {
		return "", Forbidden("Only the user may set up their two-factor authentication")
	}
	return email, nil
}

func (a *API) beginTwoFactor(r *Request) (any, error) {
	email, err := r.self()
	if err != nil {
		return nil, err
	}
	level, err := a.acc.store.TwoFactorLevel(r.Context())
	if err != nil {
		return nil, err
	}
	if level == auth.TwoFactorDisallowed {
		return nil, Forbidden("Two-factor authentication is disallowed in this organization")
	}
	secret := totp.NewSecret()
	codes, hashes := totp.NewBackupCodes()
	err = a.acc.store.BeginTwoFactor(r.Context(), email, totp.EncodeSecret(secret), hashes)
	switch {
	case errors.Is(err, auth.ErrExists):
		return nil, Conflict("Two-factor authentication is already enabled: disable it first")
	case err != nil:
		return nil, storeError(err)
	}
	return httpapi.Created(TwoFactorSetup{Secret: totp.EncodeSecret(secret), URI: totp.URI(a.sec.issuer, email, secret), BackupCodes: codes}), nil
}

func (a *API) verifyTwoFactor(r *Request) (any, error) {
	email, err := r.self()
	if err != nil {
		return nil, err
	}
	var req CodeRequest
	if err := r.Decode(&req); err != nil {
		return nil, err
	}
	if req.Code == "" {
		return nil, BadArgs("Invalid code: required")
	}
	key := ratelimit.Key(email)
	if d := a.sec.codes.Check(key); !d.Allowed {
		return nil, TooManyRequests("Too many wrong two-factor codes: try again later", d.RetryAfter)
	}
	tf, err := a.acc.store.TwoFactor(r.Context(), email)
	switch {
	case errors.Is(err, auth.ErrNotFound):
		return nil, NotFound("No two-factor setup: POST /users/{email}/two_factor first")
	case err != nil:
		return nil, err
	case tf.Enabled:
		return nil, Conflict("Two-factor authentication is already enabled")
	}
	secret, err := totp.DecodeSecret(tf.Secret)
	if err != nil {
		return nil, err
	}
	step, ok := totp.Verify(secret, req.Code, a.now(), 0)
	if !ok {
		a.sec.codes.Record(key)
		return nil, BadArgs("Invalid code: not the authenticator's current code")
	}
	err = a.acc.store.EnableTwoFactor(r.Context(), email, step)
	switch {
	case errors.Is(err, auth.ErrExists):
		return nil, Conflict("Two-factor authentication is already enabled")
	case errors.Is(err, auth.ErrNotFound):
		return nil, NotFound("No two-factor setup: POST /users/{email}/two_factor first")
	case err != nil:
		return nil, err
	}
	a.sec.codes.Reset(key)
	level, err := a.acc.store.TwoFactorLevel(r.Context())
	if err != nil {
		return nil, err
	}
	return TwoFactorStatus{Enforce: level != auth.TwoFactorDisallowed, Level: level, BackupCodes: tf.BackupCodes}, nil
}

func (a *API) twoFactorLevel(r *Request) (any, error) {
	level, err := a.acc.store.TwoFactorLevel(r.Context())
	if err != nil {
		return nil, err
	}
	return TwoFactorLevel{Level: level}, nil
}

func (a *API) setTwoFactorLevel(r *Request) (any, error) {
	var req TwoFactorLevel
	if err := r.Decode(&req); err != nil {
		return nil, err
	}
	level, err := auth.CheckTwoFactorLevel(req.Level)
	if err != nil {
		return nil, storeError(err)
	}
	if level == auth.TwoFactorMandatory {
		// An administrator who could not sign in afterwards would lock
		// the organization out.
		tf, err := a.acc.store.TwoFactor(r.Context(), r.Principal.Email)
		if err != nil && !errors.Is(err, auth.ErrNotFound) {
			return nil, err
		}
		if !tf.Enabled {
			return nil, Conflict("Enable your own two-factor authentication before making it mandatory")
		}
	}
	if _, err := a.acc.store.SetTwoFactorLevel(r.Context(), r.actor(), OrgAdminID, level); err != nil {
		return nil, storeError(err)
	}
	return TwoFactorLevel{Level: level}, nil
}
