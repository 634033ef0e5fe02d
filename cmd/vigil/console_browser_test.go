package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
)

// chromiumEnv names Chromium's binary for the browser tests; they skip
// without it.
const chromiumEnv = "VIGIL_TEST_CHROMIUM"

// screenshotsEnv names a folder the browser tests save their screenshots
// in (a temporary one when unset).
const screenshotsEnv = "VIGIL_SCREENSHOTS"

// The events' values that hold markup and script: the console must show
// them as text, and run none.
var xssUsers = []string{`:<img/src=x/onerror=window.__xss=1>`, `:<script>window.__xss=2</script>`}

// consoleTransfer is a file.transfer at ts toward user.
func consoleTransfer(ts time.Time, n int, user string) string {
	b, _ := json.Marshal(map[string]any{
		"topic": "FILE", "event": "file.transfer", "timestamp": ts.UTC().Format(time.RFC3339Nano),
		"soid":       map[string]string{"sid": "e4c357190e9d314ca135d6f1f6938d9b", "oid": fmt.Sprintf("%032x", n)},
		"event_time": ts.UTC().Format(time.RFC3339Nano), "operations": []string{"CONTENT_REQUEST", "CONTENT_COMPLETED"},
		"device":             "40f9cddab98a432b9c60d734f5f63e7e",
		"path":               map[string]string{"sid": "e4d451120e9d291ca135d6f1f6938d9b", "relative_path": fmt.Sprintf("Finance/report-%d.pdf", n)},
		"destination_device": "b88a707bd70586f7a9f2dfc8fee2def5", "destination_user": user,
	})
	return string(b)
}

// postBatch posts events through ingest as the device, and returns how
// many it accepted.
func (cs *consoleServer) postBatch(t *testing.T, events []string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, cs.base+"/audit/v1/events", strings.NewReader("["+strings.Join(events, ",")+"]"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+cs.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res postResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("post batch: %d %v", resp.StatusCode, err)
	}
	return res.Accepted
}

// apiStats is GET /audit/v1/stats with the admin token.
func (cs *consoleServer) apiStats(t *testing.T, q url.Values) (st struct {
	Total int64
	Top   []struct {
		Value string
		Count int64
	}
}) {
	t.Helper()
	resp, body := cs.do(t, "GET", "/audit/v1/stats?"+q.Encode(), "token", false, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stats %s: %d %s", q.Encode(), resp.StatusCode, body)
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// openAlerts counts the open alerts with the admin token.
func (cs *consoleServer) openAlerts(t *testing.T) int {
	t.Helper()
	resp, body := cs.do(t, "GET", "/audit/v1/alerts?state=open&limit=1000", "token", false, "")
	var page struct{ Alerts []json.RawMessage }
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &page) != nil {
		t.Fatalf("alerts: %d %s", resp.StatusCode, body)
	}
	return len(page.Alerts)
}

// overviewDOM is what the overview shows, read from the page.
type overviewDOM struct {
	Total, Transfers, Alerts, Quarantine int64
	TotalText                            string
	Topics, Users                        [][2]any
	Since, Until, Range, Search          string
	Canvases, XSS, Injected              int
	Rendered                             string
}

const readOverview = `(() => {
  const v = (sel) => { const el = document.querySelector(sel); return el ? Number(el.dataset.value) : -1; };
  const rows = (sel) => [...document.querySelectorAll(sel + ' tbody tr')].filter((tr) => tr.cells.length === 2)
    .map((tr) => [tr.cells[0].textContent, Number(tr.cells[1].textContent.replace(/,/g, ''))]);
  const t = (sel) => document.querySelector(sel);
  return {
    Total: v('[data-metric="events-total"]'), Transfers: v('[data-metric="transfers-total"]'),
    Alerts: v('[data-metric="alerts-open"]'), Quarantine: v('[data-metric="quarantine-size"]'),
    TotalText: (t('[data-metric="events-total"]') || {}).textContent || '',
    Topics: rows('[data-table="topics"]'), Users: rows('[data-table="top-users"]'),
    Since: t('time[data-since]').dataset.since, Until: t('time[data-until]').dataset.until,
    Range: document.getElementById('range').value, Search: location.search,
    Canvases: document.querySelectorAll('[data-chart] canvas').length,
    XSS: window.__xss === undefined ? 0 : window.__xss,
    Injected: document.querySelectorAll('main img, main script, main iframe').length,
    Rendered: document.body.dataset.rendered || '',
  };
})()`

// TestConsole_Browser drives Chromium, headless, through the console of
// a real server loaded through ingest: sign in on the sign-in page, read
// the overview's numbers from the page and compare them with the API's,
// check that event values holding markup show as text and run nothing,
// change the range, sign out, and see a user without a role refused.
// Screenshots go to VIGIL_SCREENSHOTS (or a temporary folder).
func TestConsole_Browser(t *testing.T) {
	chromium := os.Getenv(chromiumEnv)
	if chromium == "" {
		t.Skip(chromiumEnv + " is not set")
	}
	shots := os.Getenv(screenshotsEnv)
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o750); err != nil {
		t.Fatal(err)
	}
	cs := startConsoleServer(t, "")

	// Six hours of events two days ago: transfers toward a few users
	// (and the markup-holding ones), sign-ins, and one event that ingest
	// rejects into the quarantine.
	from := time.Now().UTC().Truncate(time.Hour).Add(-48 * time.Hour)
	to := from.Add(6 * time.Hour)
	var events []string
	n := 0
	for i, u := range []string{"alice@example.com", "bob@example.com", "erin@example.com", xssUsers[0], xssUsers[1]} {
		for j := range 12 - 2*i {
			n++
			events = append(events, consoleTransfer(from.Add(time.Duration(n)*4*time.Minute+time.Duration(j)*time.Second), n, u))
		}
	}
	for i := range 9 {
		events = append(events, fmt.Sprintf(`{"topic":"USER","event":"user.signin","timestamp":%q,"user":"u%d@example.com","authority":"Credential"}`,
			from.Add(time.Duration(i)*37*time.Minute).Format(time.RFC3339Nano), i%3))
	}
	accepted := cs.postBatch(t, events)
	if accepted != len(events) {
		t.Fatalf("ingest accepted %d of %d events", accepted, len(events))
	}
	if got := cs.postBatch(t, []string{`{"topic":"USER","event":"user.signin"}`}); got != 0 {
		t.Fatalf("the malformed event was accepted")
	}
	span := url.Values{"since": {from.Format(time.RFC3339)}, "until": {to.Format(time.RFC3339)}}
	waitFor(t, "the store to hold the events", func() bool { return cs.apiStats(t, span).Total == int64(accepted) })

	errs := &browserErrors{}
	ctx := newBrowser(t, chromium, errs)
	page := cs.base + "/?" + url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}.Encode()
	alertsBefore := cs.openAlerts(t)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(page),
		chromedp.WaitVisible(css(`input[name="email"]`)),
		chromedp.SendKeys(css(`input[name="email"]`), consoleUsers[0].email),
		chromedp.SendKeys(css(`input[name="password"]`), consoleUsers[0].password),
		chromedp.Click(css(`button[type="submit"]`)),
		chromedp.WaitVisible(css(`[data-metric="events-total"]`)),
		chromedp.WaitVisible(css(`[data-chart] canvas`)),
	); err != nil {
		t.Fatalf("sign in and open the overview: %v (browser errors: %v)", err, errs.list())
	}
	dom, err := chromedp.Run(ctx, chromedp.Evaluate[overviewDOM](readOverview))
	if err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, filepath.Join(shots, "overview.png"))

	// The page's numbers are the API's for the range it shows.
	if dom.Since != from.Format("2006-01-02T15:04:05.000Z") || dom.Until != to.Format("2006-01-02T15:04:05.000Z") || dom.Range != "custom" {
		t.Errorf("the page shows %s to %s (%s), want the link's range %s to %s", dom.Since, dom.Until, dom.Range, from, to)
	}
	q := url.Values{"since": {dom.Since}, "until": {dom.Until}}
	if want := cs.apiStats(t, q).Total; dom.Total != want || dom.Total != int64(accepted) || strings.ReplaceAll(dom.TotalText, ",", "") != fmt.Sprint(want) {
		t.Errorf("events total: page %d (%q), API %d, posted %d", dom.Total, dom.TotalText, want, accepted)
	}
	rows := func(st struct {
		Total int64
		Top   []struct {
			Value string
			Count int64
		}
	}) [][2]any {
		out := [][2]any{}
		for _, c := range st.Top {
			out = append(out, [2]any{c.Value, float64(c.Count)})
		}
		return out
	}
	byTopic := url.Values{"since": {dom.Since}, "until": {dom.Until}, "by": {"topic"}, "top": {"50"}}
	if diff := cmp.Diff(rows(cs.apiStats(t, byTopic)), dom.Topics); diff != "" {
		t.Errorf("topics (-API +page):\n%s", diff)
	}
	byUser := url.Values{"since": {dom.Since}, "until": {dom.Until}, "event": {"file.transfer"}, "by": {"user"}, "top": {"10"}}
	users := cs.apiStats(t, byUser)
	if diff := cmp.Diff(rows(users), dom.Users); diff != "" {
		t.Errorf("top users (-API +page):\n%s", diff)
	}
	if dom.Transfers != users.Total || dom.Transfers == 0 {
		t.Errorf("transfers: page %d, API %d", dom.Transfers, users.Total)
	}
	if alertsAfter := cs.openAlerts(t); dom.Alerts < int64(alertsBefore) || dom.Alerts > int64(alertsAfter) {
		t.Errorf("open alerts: page %d, API %d before and %d after", dom.Alerts, alertsBefore, alertsAfter)
	}
	if dom.Quarantine != 1 {
		t.Errorf("quarantine: page %d, want 1", dom.Quarantine)
	}
	if dom.Canvases == 0 {
		t.Error("no chart drawn")
	}

	// Markup in events is text.
	shown := map[string]bool{}
	for _, r := range dom.Users {
		shown[r[0].(string)] = true
	}
	for _, u := range xssUsers {
		if !shown[u] {
			t.Errorf("the top users do not show %q as text: %v", u, dom.Users)
		}
	}
	if dom.XSS != 0 || dom.Injected != 0 {
		t.Errorf("markup from events ran (window.__xss = %d) or became elements (%d)", dom.XSS, dom.Injected)
	}

	// The range picker puts the range in the URL and renders again.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(css(`#range`), "7d"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('range').dispatchEvent(new Event('change'))`),
	); err != nil {
		t.Fatalf("change the range: %v", err)
	}
	rendered := `location.search === '?range=7d' && document.body.dataset.rendered !== undefined && document.body.dataset.rendered !== '` + dom.Rendered + `'`
	waitPage(t, ctx, "the 7d overview", rendered)
	if dom, err = chromedp.Run(ctx, chromedp.Evaluate[overviewDOM](readOverview)); err != nil {
		t.Fatal(err)
	}
	if dom.Range != "7d" || dom.Total < int64(accepted) {
		t.Errorf("after choosing 7d: range %q, total %d (want at least %d)", dom.Range, dom.Total, accepted)
	}
	screenshot(t, ctx, filepath.Join(shots, "overview-7d.png"))
	if e := errs.list(); len(e) > 0 {
		t.Errorf("the console logged errors:\n%s", strings.Join(e, "\n"))
	}

	// Sign out; a user without a role is refused with a page that says
	// why.
	if err := chromedp.Do(ctx, chromedp.Click(css(`#signout`))); err != nil {
		t.Fatalf("sign out: %v", err)
	}
	signedOut := `location.pathname === '/signin' && document.readyState === 'complete'`
	waitPage(t, ctx, "the sign-in page after signing out", signedOut)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(cs.base+"/"),
		chromedp.WaitVisible(css(`input[name="email"]`)),
		chromedp.SendKeys(css(`input[name="email"]`), consoleUsers[2].email),
		chromedp.SendKeys(css(`input[name="password"]`), consoleUsers[2].password),
		chromedp.Click(css(`button[type="submit"]`)),
	); err != nil {
		t.Fatalf("sign out and in as a plain user: %v", err)
	}
	// The sign-in page is at /signin; the console's answer, at /.
	refused := `location.pathname === '/' && document.readyState === 'complete' && document.querySelector('h1') !== null`
	waitPage(t, ctx, "the console's answer to a plain user", refused)
	title, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('h1').textContent`))
	if err != nil {
		t.Fatal(err)
	}
	if title != "No access to the console" {
		t.Errorf("a plain user sees %q", title)
	}
	screenshot(t, ctx, filepath.Join(shots, "refused.png"))
	t.Logf("screenshots in %s", shots)
}

// browserErrors collects what the page reports as going wrong: thrown
// exceptions, console errors, and the browser's own errors (CSP
// violations among them).
type browserErrors struct {
	mu   sync.Mutex
	errs []string
}

func (b *browserErrors) add(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errs = append(b.errs, s)
}

func (b *browserErrors) list() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errs...)
}

// waitPage waits until the expression is true in the page, across
// navigations (an evaluation that a navigation cuts off is tried again).
func waitPage(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s (last error: %v)", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// css selects the first element that matches a CSS selector.
func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

// newBrowser starts Chromium headless with a fresh profile, ended with
// the test; what the page reports as errors goes to errs.
func newBrowser(t *testing.T, chromium string, errs *browserErrors) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	base, cancelTimeout := context.WithTimeout(context.Background(), 3*time.Minute)
	alloc, cancelAlloc := chromedp.NewExecAllocator(base, opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		cancelCtx()
		cancelAlloc()
		cancelTimeout()
		t.Fatalf("start %s: %v", chromium, err)
	}
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				errs.add(fmt.Sprintf("%s %s:%d: %s", m.Type, m.URL, m.Line+1, m.Text))
			}
		}
	}()
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
		cancelTimeout()
		<-done
	})
	return ctx
}

// screenshot saves the whole page as a PNG.
func screenshot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o640); err != nil {
		t.Fatal(err)
	}
}
