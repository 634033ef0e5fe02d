package s3blob

import (
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/vigilaudit/vigil/internal/config"
)

// Defaults for the zero values of Config.
const (
	// DefaultPartSize is the size of one part of a multipart upload,
	// and so the memory one Put holds at a time.
	DefaultPartSize = 16 << 20
	// MinPartSize is S3's smallest part (all but the last).
	MinPartSize = 5 << 20
	// MaxPartSize is S3's largest part.
	MaxPartSize = 5 << 30
)

// Config is the content.blobs.s3 section: where the bucket is and how
// to sign in to it.
type Config struct {
	// Endpoint is the object store's URL: https://s3.eu-west-1.amazonaws.com
	// or http://127.0.0.1:7070. The scheme chooses TLS; no path.
	Endpoint string `yaml:"endpoint"`
	// Bucket holds the blobs. It must exist: Vigil does not create it.
	Bucket string `yaml:"bucket"`
	// Region is the bucket's region; empty asks the store once.
	Region string `yaml:"region"`
	// Prefix is put before every object name, so that one bucket can
	// hold other things too ("vigil/" keeps the blobs under vigil/blobs/).
	Prefix string `yaml:"prefix"`
	// AccessKey and SecretKey sign the requests (AWS signature v4).
	// Give the secret as ${VAR}, or in a file named by SecretKeyFile
	// (surrounding white space ignored); exactly one of the two.
	AccessKey     string `yaml:"access_key"`
	SecretKey     string `yaml:"secret_key"`
	SecretKeyFile string `yaml:"secret_key_file"`
	// PathStyle addresses the bucket as ENDPOINT/BUCKET/... instead of
	// BUCKET.ENDPOINT/...; most stores other than AWS want it. False
	// lets the client choose (virtual-host style for AWS, path style
	// elsewhere).
	PathStyle bool `yaml:"path_style"`
	// TLS is how an https endpoint is verified (absent: against the
	// system roots) and, for mutual TLS, the client certificate. It
	// requires an https endpoint.
	TLS *config.ClientTLS `yaml:"tls"`
	// PartSize is the size of each part of a multipart upload (default
	// 16MiB; at least 5MiB, at most 5GiB). Each Put holds one part in
	// memory; with S3's 10000 parts, it also bounds the largest blob
	// (16MiB parts: about 156GiB).
	PartSize config.ByteSize `yaml:"part_size"`
}

// SetDefaults fills in the zero values.
func (c *Config) SetDefaults() {
	if c.PartSize == 0 {
		c.PartSize = DefaultPartSize
	}
}

// Validate checks a configuration after SetDefaults, naming each key,
// all at once. It makes no network call and reads no file.
func (c Config) Validate() error {
	var p config.Problems
	if u, err := parseEndpoint(c.Endpoint); err != nil {
		p.Add("endpoint", "%v", err)
	} else if c.TLS != nil && u.Scheme != "https" {
		p.Add("tls", "requires an https endpoint")
	}
	if c.Bucket == "" {
		p.Add("bucket", "required")
	} else if !validBucket(c.Bucket) {
		p.Add("bucket", "%q is not a bucket name: 3 to 63 lower-case letters, digits, dots and hyphens", c.Bucket)
	}
	if strings.HasPrefix(c.Prefix, "/") || strings.Contains(c.Prefix, "//") {
		p.Add("prefix", "must not start with / or hold //")
	}
	if c.AccessKey == "" {
		p.Add("access_key", "required")
	}
	switch {
	case c.SecretKey == "" && c.SecretKeyFile == "":
		p.Add("secret_key", "required (or secret_key_file)")
	case c.SecretKey != "" && c.SecretKeyFile != "":
		p.Add("secret_key_file", "must not be set with secret_key")
	}
	if c.PartSize < MinPartSize || c.PartSize > MaxPartSize {
		p.Add("part_size", "%s: must be between 5MiB and 5GiB", c.PartSize)
	}
	if c.TLS != nil {
		p.Nest("tls", c.TLS.Validate())
	}
	return p.Err()
}

// parseEndpoint checks that s is an http or https URL with a host and
// nothing after it.
func parseEndpoint(s string) (*url.URL, error) {
	if s == "" {
		return nil, fmt.Errorf("required")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http or https URL", s)
	}
	if u.User != nil {
		return nil, fmt.Errorf("must not hold credentials; use access_key and secret_key")
	}
	if strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("must be the store's root URL, without a path or query (the bucket goes in bucket)")
	}
	return u, nil
}

// validBucket reports whether s follows S3's bucket naming rules (the
// common part of them).
func validBucket(s string) bool {
	if len(s) < 3 || len(s) > 63 || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		edge := i == 0 || i == len(s)-1
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case (c == '.' || c == '-') && !edge:
		default:
			return false
		}
	}
	return true
}

// secret returns the secret key, read from its file when one is named.
func (c Config) secret() (string, error) {
	if c.SecretKeyFile == "" {
		return c.SecretKey, nil
	}
	b, err := os.ReadFile(c.SecretKeyFile)
	if err != nil {
		return "", fmt.Errorf("read secret_key_file: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("secret_key_file %s is empty", c.SecretKeyFile)
	}
	return s, nil
}
