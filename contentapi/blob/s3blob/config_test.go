package s3blob_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/contentapi/blob/s3blob"
	"github.com/vigilaudit/vigil/internal/config"
)

func TestConfig_Validate(t *testing.T) {
	valid := func() s3blob.Config {
		c := s3blob.Config{Endpoint: "https://s3.example.com", Bucket: "vigil-blobs", AccessKey: "AKIA1", SecretKey: "s3cr3t"}
		c.SetDefaults()
		return c
	}
	tests := []struct {
		name   string
		change func(c *s3blob.Config)
		want   []string
	}{
		{"Valid", func(*s3blob.Config) {}, nil},
		{"ValidHTTPWithPort", func(c *s3blob.Config) { c.Endpoint = "http://127.0.0.1:7070/" }, nil},
		{"NoEndpoint", func(c *s3blob.Config) { c.Endpoint = "" }, []string{"endpoint: required"}},
		{"EndpointNotURL", func(c *s3blob.Config) { c.Endpoint = "s3.example.com" }, []string{`endpoint: "s3.example.com" is not an http or https URL`}},
		{"EndpointWithPath", func(c *s3blob.Config) { c.Endpoint = "https://s3.example.com/bucket" }, []string{"endpoint: must be the store's root URL, without a path or query (the bucket goes in bucket)"}},
		{"EndpointWithUser", func(c *s3blob.Config) { c.Endpoint = "https://a:b@s3.example.com" }, []string{"endpoint: must not hold credentials; use access_key and secret_key"}},
		{"TLSNeedsHTTPS", func(c *s3blob.Config) { c.Endpoint = "http://s3.example.com"; c.TLS = &config.ClientTLS{} }, []string{"tls: requires an https endpoint"}},
		{"BadTLS", func(c *s3blob.Config) { c.TLS = &config.ClientTLS{CertFile: "c.pem"} }, []string{"tls.key_file: required when cert_file is set"}},
		{"NoBucket", func(c *s3blob.Config) { c.Bucket = "" }, []string{"bucket: required"}},
		{"BadBucket", func(c *s3blob.Config) { c.Bucket = "Vigil_Blobs" }, []string{`bucket: "Vigil_Blobs" is not a bucket name: 3 to 63 lower-case letters, digits, dots and hyphens`}},
		{"BadPrefix", func(c *s3blob.Config) { c.Prefix = "/vigil" }, []string{"prefix: must not start with / or hold //"}},
		{"NoCredentials", func(c *s3blob.Config) { c.AccessKey, c.SecretKey = "", "" }, []string{"access_key: required", "secret_key: required (or secret_key_file)"}},
		{"SecretTwice", func(c *s3blob.Config) { c.SecretKeyFile = "secret" }, []string{"secret_key_file: must not be set with secret_key"}},
		{"SecretFile", func(c *s3blob.Config) { c.SecretKey, c.SecretKeyFile = "", "secret" }, nil},
		{"PartTooSmall", func(c *s3blob.Config) { c.PartSize = 1 << 20 }, []string{"part_size: 1MiB: must be between 5MiB and 5GiB"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.change(&c)
			var got []string
			if err := c.Validate(); err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
		})
	}
}

// TestConfig_Decode: the section reads from YAML with ${VAR} secrets
// and a size with a unit.
func TestConfig_Decode(t *testing.T) {
	var c s3blob.Config
	doc := "endpoint: https://s3.example.com\nbucket: b-1\naccess_key: AK\nsecret_key: ${S3_SECRET}\npath_style: true\npart_size: 32MiB\n"
	lookup := func(name string) (string, bool) { return "from-env", name == "S3_SECRET" }
	if err := config.Decode([]byte(doc), &c, config.WithLookup(lookup)); err != nil {
		t.Fatal(err)
	}
	c.SetDefaults()
	want := s3blob.Config{Endpoint: "https://s3.example.com", Bucket: "b-1", AccessKey: "AK", SecretKey: "from-env", PathStyle: true, PartSize: 32 << 20}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
}
