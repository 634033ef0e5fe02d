package contentapi

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/vigilaudit/vigil/schema"
)

// emitters is which route emits which event: the audit trail's map,
// checked against the catalog (TestEmitters_CoverCatalog) and against
// what the package's tests saw each route emit (TestMain). Add a route's
// events here as the route is written; add a topic to auditedTopics once
// every event of it has a route.
var emitters = map[string][]string{
	"device.signin":              {"POST /api/{version}/devices/signin"},
	"device.certify":             {"POST /api/{version}/devices", "POST /api/{version}/devices/mobile", "POST /auth/token"},
	"device.access.code":         {"POST /api/{version}/devices/access_code"},
	"device.mobile.code":         {"POST /api/{version}/devices/access_code"},
	"device.mobile.authenticate": {"POST /api/{version}/devices/mobile"},
	"device.mobile.error":        {"POST /api/{version}/devices/mobile"},
	"device.recertify":           {"POST /api/{version}/devices/{did}/recertify"},
	"user.device.recertify":      {"POST /api/{version}/devices/{did}/recertify"},
	"device.unlink":              {"DELETE /api/{version}/devices/{did}", "DELETE /api/{version}/users/{email}/apps/{client_id}", "POST /auth/token"},
	"device.erase":               {"POST /api/{version}/devices/{did}/erase"},
	"audit.device.rename":        {"PUT /api/{version}/devices/{did}"},
	// Sign-in through a directory or an OpenID issuer (provision_test.go,
	// oidc_test.go); an admin group's member is provisioned an admin.
	"user.org.provision":     {"POST /auth", "POST /auth/signin", "GET /auth/oidc/callback"},
	"user.org.authorization": {"POST /auth/signin", "DELETE /api/{version}/organizations/{id}/users/{email}"},

	// The user management API (accounts_test.go).
	"user.create":          {"POST /api/{version}/users"},
	"user.update":          {"PUT /api/{version}/users/{email}"},
	"user.delete":          {"DELETE /api/{version}/users/{email}"},
	"user.password.update": {"PUT /api/{version}/users/{email}/password"},
	"user.password.revoke": {"DELETE /api/{version}/users/{email}/password"},

	"user.signin":                 {"POST /auth", "POST /auth/signin", "GET /auth/oidc/callback", "POST /signin"},
	"user.password.error":         {"POST /auth", "POST /auth/signin", "POST /auth/password", "POST /signin"},
	"user.password.change":        {"POST /auth/password"},
	"user.password.reset.request": {"POST /auth/password/reset/request"},
	"user.password.reset":         {"POST /auth/password/reset"},
	"user.2fa.enable":             {"POST /api/{version}/users/{email}/two_factor/verify"},
	"user.2fa.disable":            {"DELETE /api/{version}/users/{email}/two_factor"},
	"org.2fa.level":               {"PUT /api/{version}/organization/two_factor"},
	"user.org.invite":             {"POST /api/{version}/invitees"},
	"user.org.signup":             {"POST /auth/signup"},
	"user.org.accept":             {"POST /auth/signup"},
	"user.account.request":        {"POST /auth/signup"},
	"user.org.remove":             {"DELETE /api/{version}/organizations/{id}/users/{email}"},
	"user.quota.warning":          {recordUsage, "PUT /api/{version}/files/{id}/content", "POST /api/{version}/files/{id}/copy"},
	"audit.app.add":               {"POST /api/{version}/apps"},
	"audit.app.remove":            {"DELETE /api/{version}/apps/{client_id}"},
	"audit.oauth.approve":         {"POST /authorize"},
	"audit.oauth.deny":            {"POST /authorize"},
	"audit.oauth.refresh":         {"POST /auth/token"},
	"audit.oauth.revoke":          {"DELETE /auth/token/{token}"},
	"audit.oauth.token.error":     {"POST /auth/token"},
	"audit.oidc.refuse":           {"GET /auth/oidc/callback"},
	"audit.favorite.add":          {"PUT /api/{version}/favorites/{id}"},
	"audit.favorite.remove":       {"DELETE /api/{version}/favorites/{id}"},

	// The file tree (files_test.go): metadata reads and writes.
	"file.transfer": {"GET /api/{version}/children", "GET /api/{version}/children/{id}", "GET /api/{version}/folders/{id}",
		"GET /api/{version}/folders/{id}/children", "GET /api/{version}/folders/{id}/path",
		"GET /api/{version}/files/{id}", "GET /api/{version}/files/{id}/path",
		"GET /api/{version}/files/{id}/content", "HEAD /api/{version}/files/{id}/content", "GET /api/{version}/favorites",
		"GET /api/{version}/files/{id}/revisions", "GET /api/{version}/files/{id}/revisions/{rev}/content"},
	// Links (links_test.go): their management and their use.
	"link.create":               {"POST /api/{version}/links"},
	"link.delete":               {"DELETE /api/{version}/links/{key}"},
	"link.update":               {"PUT /api/{version}/links/{key}"},
	"link.set_password":         {"POST /api/{version}/links", "PUT /api/{version}/links/{key}/password"},
	"link.remove_password":      {"DELETE /api/{version}/links/{key}/password"},
	"link.set_expiry":           {"POST /api/{version}/links", "PUT /api/{version}/links/{key}/expires"},
	"link.remove_expiry":        {"DELETE /api/{version}/links/{key}/expires"},
	"link.set_require_login":    {"POST /api/{version}/links", "PUT /api/{version}/links/{key}/require_login", "DELETE /api/{version}/links/{key}/require_login"},
	"link.access":               {"GET /l/{key}", "GET /l/{key}/{id}"},
	"link.download":             {"GET /l/{key}/content", "POST /l/{key}/content", "GET /l/{key}/{id}/content"},
	"audit.link.password.error": {"GET /l/{key}", "GET /l/{key}/content"},

	"file.notification": {"POST /api/{version}/folders", "PUT /api/{version}/folders/{id}", "DELETE /api/{version}/folders/{id}",
		"POST /api/{version}/files", "PUT /api/{version}/files/{id}", "DELETE /api/{version}/files/{id}",
		"PUT /api/{version}/files/{id}/content", "POST /api/{version}/files/{id}/copy", "POST /api/{version}/folders/{id}/copy",
		"POST /api/{version}/files/{id}/revisions/{rev}/restore"},

	// Shared folders (shares_test.go).
	"folder.create":             {"POST /api/{version}/shares", "PUT /api/{version}/folders/{id}/is_shared"},
	"folder.destroy":            {"DELETE /api/{version}/shares/{id}"},
	"folder.add":                {"POST /api/{version}/shares/{id}/members"},
	"folder.permission.update":  {"PUT /api/{version}/shares/{id}/members/{email}"},
	"folder.permission.delete":  {"DELETE /api/{version}/shares/{id}/members/{email}"},
	"folder.leave":              {"DELETE /api/{version}/shares/{id}/members/{email}"},
	"folder.invite":             {"POST /api/{version}/shares/{id}/pending"},
	"folder.delete_invitation":  {"DELETE /api/{version}/shares/{id}/pending/{email}", "DELETE /api/{version}/users/{email}/invitations/{sid}"},
	"folder.join":               {"POST /api/{version}/users/{email}/invitations/{sid}"},
	"audit.folder.rename":       {"PUT /api/{version}/shares/{id}/name"},
	"audit.folder.group.add":    {"POST /api/{version}/shares/{id}/groups"},
	"audit.folder.group.update": {"PUT /api/{version}/shares/{id}/groups/{gid}"},
	"audit.folder.group.remove": {"DELETE /api/{version}/shares/{id}/groups/{gid}"},
}

// auditedTopics are the topics every catalog event of which some route
// emits; auditedEvents single events of the others.
var (
	auditedTopics = []schema.Topic{schema.TopicUser, schema.TopicDevice, schema.TopicOrg, schema.TopicFile, schema.TopicLink, schema.TopicSharing}
	auditedEvents = []string{"device.mobile.error", "user.org.provision", "user.signin", "user.password.error", "user.password.change",
		"user.password.reset.request", "user.password.reset", "user.2fa.enable", "user.2fa.disable",
		"user.org.invite", "user.org.signup", "user.org.accept", "user.account.request", "user.org.remove", "user.quota.warning",
		"audit.oauth.approve", "audit.oauth.deny", "audit.oauth.refresh", "audit.oauth.revoke", "audit.oauth.token.error", "audit.oidc.refuse"}
)

// emitted records, for the whole package's tests, which route emitted
// which event (event name, then "METHOD pattern").
var emitted = struct {
	sync.Mutex
	by map[string]map[string]bool
}{by: map[string]map[string]bool{}}

// recordEmitted notes that route emitted event.
func recordEmitted(route, event string) {
	emitted.Lock()
	defer emitted.Unlock()
	if emitted.by[event] == nil {
		emitted.by[event] = map[string]bool{}
	}
	emitted.by[event][route] = true
}

func TestMain(m *testing.M) {
	// Whatever logs to the default logger is in the suite's log too.
	slog.SetDefault(testLogger(io.Discard))
	noteSecrets(adminPW, alicePW, bobPW, tokUser, tokAdmin, tokDemoted, tokExpired, tokSubtree, tokLinks)
	code := m.Run()
	if code == 0 {
		if problems := checkEmitted(flag.Lookup("test.run").Value.String() == ""); len(problems) > 0 {
			for _, p := range problems {
				fmt.Fprintln(os.Stderr, "audit trail:", p)
			}
			code = 1
		}
		if problems := checkSuiteSecrets(); len(problems) > 0 {
			for _, p := range problems {
				fmt.Fprintln(os.Stderr, "secrets:", p)
			}
			code = 1
		}
	}
	os.Exit(code)
}

// onlyWith lists the rows of emitters that only tests needing an outside
// server exercise, with that server's variable: without it, those tests
// skip and the rows are not expected to be seen.
var onlyWith = map[string]map[string]string{
	"user.org.provision":     {"POST /auth": "VIGIL_TEST_SLAPD", "POST /auth/signin": "VIGIL_TEST_SLAPD"},
	"user.org.authorization": {"POST /auth/signin": "VIGIL_TEST_SLAPD"},
}

// checkEmitted compares what the tests saw emitted with emitters: a
// route emitting an event emitters does not give it is always a problem;
// a listed route no test saw emit its event only when all tests ran.
func checkEmitted(all bool) []string {
	emitted.Lock()
	defer emitted.Unlock()
	var out []string
	for event, routes := range emitted.by {
		for route := range routes {
			if !slices.Contains(emitters[event], route) {
				out = append(out, fmt.Sprintf("%s emitted %s, which emitters does not list", route, event))
			}
		}
	}
	if all {
		for event, routes := range emitters {
			for _, route := range routes {
				if v := onlyWith[event][route]; v != "" && os.Getenv(v) == "" {
					continue // its only tests skipped
				}
				if !emitted.by[event][route] {
					out = append(out, fmt.Sprintf("no test saw %s emit %s", route, event))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestEmitters_CoverCatalog checks that every catalog event of the
// audited topics, and each audited event, has a route that emits it, and
// that emitters names only catalog events.
func TestEmitters_CoverCatalog(t *testing.T) {
	for _, s := range schema.Catalog() {
		if (slices.Contains(auditedTopics, s.Topic) || slices.Contains(auditedEvents, s.Name)) && len(emitters[s.Name]) == 0 {
			t.Errorf("no route emits %s (%s)", s.Name, s.Topic)
		}
	}
	for event := range emitters {
		if _, ok := schema.Lookup(event); !ok {
			t.Errorf("emitters lists %s, which is not in the catalog", event)
		}
	}
}
