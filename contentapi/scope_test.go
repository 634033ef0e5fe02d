package contentapi

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseScopes(t *testing.T) {
	tests := []struct {
		in      string
		want    Scopes
		wantErr string
	}{
		{in: "", want: nil},
		{in: "files.read", want: Scopes{{Name: "files.read"}}},
		{in: "files.write,files.read, user.read", want: Scopes{{Name: "files.read"}, {Name: "files.write"}, {Name: "user.read"}}},
		{in: "files.read files.write", want: Scopes{{Name: "files.read"}, {Name: "files.write"}}},
		{in: "files.read,,files.read", want: Scopes{{Name: "files.read"}}},
		{in: "files.read:" + strings.ToUpper(folder), want: Scopes{{Name: "files.read", Object: folder}}},
		{in: "files.write:" + store + ",files.appdata:" + store + ",acl.read:" + folder,
			want: Scopes{{Name: "acl.read", Object: folder}, {Name: "files.appdata", Object: store}, {Name: "files.write", Object: store}}},
		{in: "files.read,files.read:" + folder, want: Scopes{{Name: "files.read"}, {Name: "files.read", Object: folder}}},
		{in: "organization.admin,linksharing,groups.read,acl.write,acl.invitations,user.write,user.password",
			want: Scopes{{Name: "acl.invitations"}, {Name: "acl.write"}, {Name: "groups.read"}, {Name: "linksharing"},
				{Name: "organization.admin"}, {Name: "user.password"}, {Name: "user.write"}}},
		{in: "files.delete", wantErr: `unknown scope "files.delete"`},
		{in: "FILES.READ", wantErr: "unknown scope"},
		{in: "acl.write:" + folder, wantErr: "scope acl.write takes no object"},
		{in: "user.read:" + folder, wantErr: "takes no object"},
		{in: "files.read:", wantErr: "is not a 32 or 64 hex id"},
		{in: "files.read:root", wantErr: "is not a 32 or 64 hex id"},
		{in: "files.read:" + folder + "0", wantErr: "is not a 32 or 64 hex id"},
		{in: "files.read:" + strings.Repeat("g", 32), wantErr: "is not a 32 or 64 hex id"},
	}
	for _, tt := range tests {
		got, err := ParseScopes(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseScopes(%q) = %v, %v; want error %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseScopes(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseScopes(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestScopes_Permits(t *testing.T) {
	all := scopes(t, "files.read")
	sub := scopes(t, "files.read:"+folder+",files.write:"+store)
	tests := []struct {
		name      string
		ss        Scopes
		scope     string
		object    string
		ancestors []string
		want      bool
	}{
		{"Unrestricted", all, ScopeFilesRead, elsewhere, nil, true},
		{"OtherScope", all, ScopeFilesWrite, folder, nil, false},
		{"TheObject", sub, ScopeFilesRead, folder, nil, true},
		{"BelowIt", sub, ScopeFilesRead, inFolder, []string{store + strings.Repeat("0", 32), folder}, true},
		{"NotBelowIt", sub, ScopeFilesRead, inFolder, []string{store + strings.Repeat("0", 32)}, false},
		{"Elsewhere", sub, ScopeFilesRead, elsewhere, nil, false},
		{"InTheStore", sub, ScopeFilesWrite, inFolder, nil, true},
		{"TheStoreItself", sub, ScopeFilesWrite, store, nil, true},
		{"OtherStore", sub, ScopeFilesWrite, elsewhere, nil, false},
		{"None", nil, ScopeFilesRead, folder, nil, false},
	}
	for _, tt := range tests {
		if got := tt.ss.Permits(tt.scope, tt.object, tt.ancestors...); got != tt.want {
			t.Errorf("%s: Permits = %v, want %v", tt.name, got, tt.want)
		}
	}
	if !sub.Has(ScopeFilesRead) || sub.Has(ScopeUserRead) {
		t.Errorf("Has: a restricted scope is had, an absent one is not")
	}
	if got, want := sub.String(), "files.read:"+folder+",files.write:"+store; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}

func FuzzParseScopes(f *testing.F) {
	for _, s := range []string{"", "files.read", "files.read:" + folder + ",user.read", "acl.read:" + store + " linksharing", "x:y,,", "files.read:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ss, err := ParseScopes(s)
		if err != nil {
			return
		}
		// What parses prints in the form it parses from, to the same set.
		again, err := ParseScopes(ss.String())
		if err != nil {
			t.Fatalf("ParseScopes(%q) = %q, which does not parse: %v", s, ss, err)
		}
		if diff := cmp.Diff(ss, again); diff != "" {
			t.Fatalf("ParseScopes(%q) round trip (-first +second):\n%s", s, diff)
		}
		for _, sc := range ss {
			if sc.Object != "" && (!qualifiable(sc.Name) || !isHex(sc.Object)) {
				t.Fatalf("ParseScopes(%q) kept %v", s, sc)
			}
		}
	})
}
