package config

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in      string
		want    ByteSize
		wantErr bool
	}{
		{in: "1000", want: 1000},
		{in: "0", want: 0},
		{in: "10GiB", want: 10 << 30},
		{in: "256MiB", want: 256 << 20},
		{in: "256mib", want: 256 << 20},
		{in: "1 KiB", want: 1024},
		{in: "2GB", want: 2_000_000_000},
		{in: "1.5GiB", want: 3 << 29},
		{in: "", wantErr: true},
		{in: "ten", wantErr: true},
		{in: "10XB", wantErr: true},
		{in: "-1MiB", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseByteSize(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseByteSize(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseByteSize(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestByteSize_String(t *testing.T) {
	tests := []struct {
		in   ByteSize
		want string
	}{
		{0, "0"},
		{1000, "1000"},
		{1024, "1KiB"},
		{256 << 20, "256MiB"},
		{10 << 30, "10GiB"},
		{3 << 29, "1536MiB"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("ByteSize(%d).String() = %q, want %q", uint64(tt.in), got, tt.want)
		}
		back, err := ParseByteSize(tt.in.String())
		if err != nil || back != tt.in {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", tt.in.String(), back, err, tt.in)
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "30s", want: 30 * time.Second},
		{in: "5m", want: 5 * time.Minute},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "0", want: 0},
		{in: "7d", want: 7 * 24 * time.Hour},
		{in: "0d", want: 0},
		{in: "1d12h", want: 36 * time.Hour},
		{in: "-1d6h", want: -30 * time.Hour},
		{in: "+2d", want: 48 * time.Hour},
		{in: "", wantErr: true},
		{in: "30", wantErr: true},
		{in: "d", wantErr: true},
		{in: "1.5d", wantErr: true},
		{in: "1d-1h", wantErr: true},
		{in: "1h2d", wantErr: true},
		{in: "999999999999d", wantErr: true},
		{in: "106751d23h59m", wantErr: true},
		{in: "week", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseDuration(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if time.Duration(got) != tt.want {
				t.Errorf("ParseDuration(%q) = %v, want %v", tt.in, time.Duration(got), tt.want)
			}
		})
	}
}

func TestDuration_String(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{30 * time.Second, "30s"},
		{7 * 24 * time.Hour, "7d"},
		{36 * time.Hour, "36h0m0s"},
	}
	for _, tt := range tests {
		if got := Duration(tt.in).String(); got != tt.want {
			t.Errorf("Duration(%v).String() = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestUnits_MarshalRoundTrip(t *testing.T) {
	type units struct {
		Size  ByteSize `yaml:"size"`
		Every Duration `yaml:"every"`
	}
	in := units{Size: 256 << 20, Every: Duration(7 * 24 * time.Hour)}
	data, err := yaml.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("size: 256MiB\nevery: 7d\n", string(data)); diff != "" {
		t.Errorf("Marshal (-want +got):\n%s", diff)
	}
	var out units
	if err := Decode(data, &out); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, out); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}
