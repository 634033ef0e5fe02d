package contentapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/httpapi"
)

// Devices is the device store behind the device routes; *auth.Store is
// one. Each action writes its DEVICE event in the action's transaction
// (the store's outbox), so an action whose event cannot be written
// fails.
type Devices interface {
	DeviceInfo(ctx context.Context, id string) (auth.DeviceInfo, error)
	UserDevices(ctx context.Context, user string) ([]auth.DeviceInfo, error)
	CertifyDevice(ctx context.Context, a auth.Actor, nd auth.NewDevice) (auth.DeviceInfo, string, error)
	IssueAccessCode(ctx context.Context, a auth.Actor, qr bool, ttl time.Duration) (string, time.Time, error)
	CertifyMobile(ctx context.Context, ip, code string, nd auth.NewDevice) (auth.DeviceInfo, string, error)
	SignInDevice(ctx context.Context, token, ip string) (auth.DeviceInfo, error)
	RecertifyDevice(ctx context.Context, token, id, ip string) (auth.DeviceInfo, string, error)
	RenameDevice(ctx context.Context, a auth.Actor, id, name string) (auth.DeviceInfo, error)
	RemoveDevice(ctx context.Context, a auth.Actor, id string, how auth.Removal) (auth.DeviceInfo, error)
}

// The defaults of the device routes' Config.
const (
	// DefaultDeviceOnline is how recently a device must have been seen
	// to be online.
	DefaultDeviceOnline = 5 * time.Minute
	// DefaultAccessCodeTimeout is how long a mobile access code is valid.
	DefaultAccessCodeTimeout = 3 * time.Minute
)

// Device is a device as the API shows it.
type Device struct {
	ID          string `json:"id"`
	Owner       string `json:"owner"`
	Name        string `json:"name"`
	OSFamily    string `json:"os_family,omitempty"`
	InstallDate Time   `json:"install_date"`
}

// DeviceStatus is GET /devices/{did}/status's answer: online when the
// device called within the API's online window.
type DeviceStatus struct {
	Online   bool `json:"online"`
	LastSeen Time `json:"last_seen,omitzero"`
}

// CertifiedDevice answers a certification or recertification: the device
// and its credential (the upload token ingest and vigil agent accept),
// shown this once.
type CertifiedDevice struct {
	Device
	DeviceType string `json:"device_type"`
	Credential string `json:"credential"`
}

// AccessCode is a one-time code with which a mobile app certifies itself
// (POST /devices/mobile), shown this once.
type AccessCode struct {
	Code      string `json:"code"`
	ExpiresIn int64  `json:"expires_in"`
	ExpiresAt Time   `json:"expires_at"`
}

// The bodies of the device routes.
type (
	deviceName struct {
		Name *string `json:"name"`
	}
	certifyBody struct {
		Name       string `json:"name"`
		OSFamily   string `json:"os_family"`
		OSName     string `json:"os_name"`
		DeviceType string `json:"device_type"`
	}
	accessCodeBody struct {
		QR bool `json:"qr"`
	}
	mobileBody struct {
		Code     string `json:"code"`
		Name     string `json:"name"`
		OSFamily string `json:"os_family"`
		OSName   string `json:"os_name"`
	}
)

// deviceRoutes are the device routes: the content API's (1.3) and
// Vigil's own certification and lifecycle routes (1.4). Reading or
// changing one's own devices takes user.read or user.write; others'
// organization.admin held by an administrator.
func (a *API) deviceRoutes() []Route {
	if a.devices == nil {
		return nil
	}
	read := []string{ScopeUserRead, ScopeOrgAdmin}
	write := []string{ScopeUserWrite, ScopeOrgAdmin}
	return []Route{
		{Method: http.MethodGet, Path: "/devices/{did}", Since: V(1, 3), Scopes: read, Handle: a.device,
			Summary: "One device", Response: Device{}},
		{Method: http.MethodPut, Path: "/devices/{did}", Since: V(1, 3), Scopes: write, Handle: a.renameDevice,
			Summary: "Rename a device", Request: deviceName{}, Response: Device{}},
		{Method: http.MethodGet, Path: "/devices/{did}/status", Since: V(1, 3), Scopes: read, Handle: a.deviceStatus,
			Summary: "Whether a device is online, and when it was last seen", Response: DeviceStatus{}},
		{Method: http.MethodGet, Path: "/users/{email}/devices", Since: V(1, 3), Scopes: read, Handle: a.userDevices,
			Summary: "A user's linked devices", Response: []Device{}},

		// Vigil's own.
		{Method: http.MethodPost, Path: "/devices", Since: V(1, 4), Scopes: write, Handle: a.certifyDevice,
			Summary: "Certify a desktop client or (administrators) a Team Server", Request: certifyBody{},
			Status: http.StatusCreated, Response: CertifiedDevice{}},
		{Method: http.MethodPost, Path: "/devices/access_code", Since: V(1, 4), Scopes: write, Handle: a.accessCode,
			Summary: "A one-time code to certify a mobile app, as text or for a QR code", Request: accessCodeBody{},
			Status: http.StatusCreated, Response: AccessCode{}},
		{Method: http.MethodPost, Path: "/devices/mobile", Since: V(1, 4), Public: true, Handle: a.certifyMobile,
			Summary: "Certify a mobile app with a one-time access code", Request: mobileBody{},
			Status: http.StatusCreated, Response: CertifiedDevice{}},
		{Method: http.MethodPost, Path: "/devices/signin", Since: V(1, 4), Public: true, Handle: a.signInDevice,
			Summary: "A device signs in with its credential (Authorization: Bearer CREDENTIAL)", Response: Device{}},
		{Method: http.MethodPost, Path: "/devices/{did}/recertify", Since: V(1, 4), Public: true, Handle: a.recertifyDevice,
			Summary: "A device replaces its credential (Authorization: Bearer CREDENTIAL)", Response: CertifiedDevice{}},
		{Method: http.MethodDelete, Path: "/devices/{did}", Since: V(1, 4), Scopes: write, Handle: a.removeDevice(auth.RemovalUnlinked),
			Summary: "Unlink a device: it keeps its files, and its credential stops working", Status: http.StatusNoContent},
		{Method: http.MethodPost, Path: "/devices/{did}/erase", Since: V(1, 4), Scopes: write, Handle: a.removeDevice(auth.RemovalErased),
			Summary: "Erase a device remotely: it wipes its synced folder, and its credential stops working", Status: http.StatusNoContent},
	}
}

func (a *API) device(r *Request) (any, error) {
	d, err := r.ownDevice(ScopeUserRead)
	if err != nil {
		return nil, err
	}
	return deviceOf(d), nil
}

func (a *API) renameDevice(r *Request) (any, error) {
	var b deviceName
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	if b.Name == nil {
		return nil, BadArgs("Invalid name: required")
	}
	d, err := r.ownDevice(ScopeUserWrite)
	if err != nil {
		return nil, err
	}
	if d, err = a.devices.RenameDevice(r.Context(), r.actor(), d.ID, *b.Name); err != nil {
		return nil, deviceError(err)
	}
	return deviceOf(d), nil
}

func (a *API) deviceStatus(r *Request) (any, error) {
	d, err := r.ownDevice(ScopeUserRead)
	if err != nil {
		return nil, err
	}
	var st DeviceStatus
	if d.LastSeen != nil {
		st.LastSeen = Time{d.LastSeen.UTC()}
		st.Online = a.now().Sub(*d.LastSeen) <= a.deviceOnline
	}
	return st, nil
}

func (a *API) userDevices(r *Request) (any, error) {
	email, err := r.PathEmail("email")
	if err != nil {
		return nil, err
	}
	if err := mayActFor(r.Principal, email, ScopeUserRead); err != nil {
		return nil, err
	}
	list, err := a.devices.UserDevices(r.Context(), email)
	if err != nil {
		return nil, deviceError(err)
	}
	out := make([]Device, 0, len(list))
	for _, d := range list {
		out = append(out, deviceOf(d))
	}
	return out, nil
}

func (a *API) certifyDevice(r *Request) (any, error) {
	var b certifyBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	switch strings.ToLower(strings.TrimSpace(b.DeviceType)) {
	case "", strings.ToLower(auth.TypeDesktopClient):
	case strings.ToLower(auth.TypeTeamServer):
		if !r.Principal.Admin || !r.Principal.Scopes.Has(ScopeOrgAdmin) {
			return nil, Forbidden("Only an organization administrator certifies a Team Server")
		}
	default:
		return nil, BadArgs("Invalid device_type: must be " + auth.TypeDesktopClient + " or " + auth.TypeTeamServer +
			" (mobile apps certify with an access code)")
	}
	d, cred, err := a.devices.CertifyDevice(r.Context(), r.actor(), auth.NewDevice{Owner: r.Principal.Email,
		Name: b.Name, Type: b.DeviceType, OSFamily: b.OSFamily, OSName: b.OSName})
	if err != nil {
		return nil, deviceError(err)
	}
	return httpapi.Created(certified(d, cred)), nil
}

func (a *API) accessCode(r *Request) (any, error) {
	var b accessCodeBody
	if r.ContentLength != 0 {
		if err := r.Decode(&b); err != nil {
			return nil, err
		}
	}
	code, expires, err := a.devices.IssueAccessCode(r.Context(), r.actor(), b.QR, a.accessCodeTimeout)
	if err != nil {
		return nil, deviceError(err)
	}
	return httpapi.Created(AccessCode{Code: code, ExpiresIn: int64(a.accessCodeTimeout / time.Second), ExpiresAt: Time{expires}}), nil
}

func (a *API) certifyMobile(r *Request) (any, error) {
	var b mobileBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	d, cred, err := a.devices.CertifyMobile(r.Context(), r.IP(), strings.TrimSpace(b.Code),
		auth.NewDevice{Name: b.Name, OSFamily: b.OSFamily, OSName: b.OSName})
	if err != nil {
		return nil, deviceError(err)
	}
	return httpapi.Created(certified(d, cred)), nil
}

func (a *API) signInDevice(r *Request) (any, error) {
	tok, err := deviceCredential(r.Request)
	if err != nil {
		return nil, err
	}
	d, err := a.devices.SignInDevice(r.Context(), tok, r.IP())
	if err != nil {
		return nil, deviceError(err)
	}
	return deviceOf(d), nil
}

func (a *API) recertifyDevice(r *Request) (any, error) {
	tok, err := deviceCredential(r.Request)
	if err != nil {
		return nil, err
	}
	d, cred, err := a.devices.RecertifyDevice(r.Context(), tok, chi.URLParam(r.Request, "did"), r.IP())
	if err != nil {
		return nil, deviceError(err)
	}
	return certified(d, cred), nil
}

func (a *API) removeDevice(how auth.Removal) Handler {
	return func(r *Request) (any, error) {
		d, err := r.ownDevice(ScopeUserWrite)
		if err != nil {
			return nil, err
		}
		if _, err := a.devices.RemoveDevice(r.Context(), r.actor(), d.ID, how); err != nil {
			return nil, deviceError(err)
		}
		return nil, nil
	}
}

// ownDevice reads the path's linked device, which the principal may
// read or change: its own with scope, anyone's as an administrator. An
// unlinked, erased or revoked device is 404.
func (r *Request) ownDevice(scope string) (auth.DeviceInfo, error) {
	d, err := r.api.devices.DeviceInfo(r.Context(), chi.URLParam(r.Request, "did"))
	if err != nil {
		return auth.DeviceInfo{}, deviceError(err)
	}
	if !d.Linked() {
		return auth.DeviceInfo{}, NotFound("No such device")
	}
	if err := mayActFor(r.Principal, d.UserID, scope); err != nil {
		return auth.DeviceInfo{}, err
	}
	return d, nil
}

// mayActFor checks that p may act on owner's devices with scope: its own
// with scope, anyone's with organization.admin held by an administrator.
func mayActFor(p Principal, owner, scope string) error {
	switch {
	case p.Admin && p.Scopes.Has(ScopeOrgAdmin):
		return nil
	case p.Email != owner:
		return Forbidden("Not your device: organization administrator required")
	case !p.Scopes.Has(scope):
		return lacksScope([]string{scope})
	}
	return nil
}

// deviceCredential reads a device's credential from the Authorization
// header: "Bearer <64 lower-case hex>", the scheme in any case.
func deviceCredential(r *http.Request) (string, error) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if h == "" {
		return "", httpapi.NewError(http.StatusUnauthorized, httpapi.CodeCredentialReq, "Missing device credential").
			With("WWW-Authenticate", `Bearer realm="`+httpapi.Realm+`"`)
	}
	return parseDeviceBearer(h)
}

// parseDeviceBearer reads "Bearer <64 lower-case hex>".
func parseDeviceBearer(h string) (string, error) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || len(tok) != 64 || !isHex(tok) || strings.ToLower(tok) != tok {
		return "", invalidDeviceCredential("Malformed device credential")
	}
	return tok, nil
}

func invalidDeviceCredential(msg string) *httpapi.Error {
	return httpapi.NewError(http.StatusUnauthorized, httpapi.CodeUnknownToken, msg).With("WWW-Authenticate", invalidToken)
}

// deviceError maps the store's errors to the API's; messages never
// quote a credential or a code.
func deviceError(err error) error {
	var (
		fe *auth.FieldError
		re *auth.RevokedError
	)
	switch {
	case errors.As(err, &fe):
		return BadArgs(strings.ToUpper(fe.Error()[:1]) + fe.Error()[1:])
	case errors.Is(err, auth.ErrNotFound):
		return NotFound("No such device")
	case errors.Is(err, auth.ErrCodeRefused):
		return invalidDeviceCredential("Access code refused: unknown, expired or already used")
	case errors.Is(err, auth.ErrUnauthenticated):
		return invalidDeviceCredential("Invalid device credential")
	case errors.As(err, &re) && re.Removal != "":
		return Forbidden("Device "+string(re.Removal)).With("Device-Removal", string(re.Removal))
	case errors.Is(err, auth.ErrRevoked):
		return Forbidden("Device revoked").With("Device-Removal", "revoked")
	case errors.Is(err, auth.ErrOtherDevice):
		return Forbidden("The credential is another device's")
	}
	return err
}

func deviceOf(d auth.DeviceInfo) Device {
	return Device{ID: d.ID, Owner: d.UserID, Name: d.Name, OSFamily: d.OSFamily, InstallDate: Time{d.CreatedAt}}
}

func certified(d auth.DeviceInfo, cred string) CertifiedDevice {
	return CertifiedDevice{Device: deviceOf(d), DeviceType: d.Type, Credential: cred}
}
