package anywhere

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// PKCS11Prefix starts a private_key that names a key in a PKCS#11 token
// (RFC 7512) rather than a PEM file.
const PKCS11Prefix = "pkcs11:"

// PKCS#11 errors, matched with errors.Is.
var (
	ErrBadPKCS11URI = errors.New("want pkcs11:token=LABEL;object=KEY-LABEL?module-path=/path/to/module.so&pin-source=/path/to/pin-file")
	ErrPKCS11PIN    = errors.New("a PIN in the URI (pin-value) would sit in the config: put it in a file readable only by the daemon and give pin-source=FILE")
	// ErrPKCS11Unsupported: this build has no cgo, and a PKCS#11 module
	// is a C library.
	ErrPKCS11Unsupported = errors.New("this imdsd was built without cgo, and PKCS#11 modules are C libraries: use a PEM private key, or a build with CGO_ENABLED=1")
)

// PKCS11URI is the part of an RFC 7512 URI imdsd reads.
type PKCS11URI struct {
	Token     string // token label
	Object    string // the private key's label
	Module    string // module-path
	PINSource string // pin-source: a file holding the user PIN
}

var pinValue = regexp.MustCompile(`(?i)pin-value=[^;&?]*`)

// RedactPKCS11 returns a PKCS#11 URI fit to show: a pin-value in it is
// replaced.
func RedactPKCS11(s string) string { return pinValue.ReplaceAllString(s, "pin-value=REDACTED") }

// IsPKCS11 reports whether a private_key value is a PKCS#11 URI.
func IsPKCS11(s string) bool { return strings.HasPrefix(s, PKCS11Prefix) }

// ParsePKCS11URI reads a pkcs11: URI; it needs token, object,
// module-path and, for a token that needs a login, pin-source.
func ParsePKCS11URI(s string) (PKCS11URI, error) {
	var u PKCS11URI
	if !IsPKCS11(s) {
		return u, ErrBadPKCS11URI
	}
	path, query, _ := strings.Cut(strings.TrimPrefix(s, PKCS11Prefix), "?")
	for _, part := range strings.Split(path, ";") {
		k, v, _ := strings.Cut(part, "=")
		v, err := url.PathUnescape(v)
		if err != nil {
			return u, fmt.Errorf("attribute %s: %w", k, ErrBadPKCS11URI)
		}
		switch k {
		case "token":
			u.Token = v
		case "object":
			u.Object = v
		case "pin-value":
			return u, ErrPKCS11PIN
		case "type", "id", "manufacturer", "model", "serial", "library-description", "library-manufacturer", "library-version", "slot-id", "slot-description", "slot-manufacturer", "":
		default:
			return u, fmt.Errorf("unknown attribute %q: %w", k, ErrBadPKCS11URI)
		}
	}
	for _, part := range strings.Split(query, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		v, err := url.QueryUnescape(v)
		if err != nil {
			return u, fmt.Errorf("attribute %s: %w", k, ErrBadPKCS11URI)
		}
		switch k {
		case "module-path":
			u.Module = v
		case "pin-source":
			u.PINSource = strings.TrimPrefix(v, "file:")
		case "pin-value":
			return u, ErrPKCS11PIN
		default:
			return u, fmt.Errorf("unknown query attribute %q: %w", k, ErrBadPKCS11URI)
		}
	}
	if u.Token == "" || u.Object == "" || u.Module == "" {
		return u, fmt.Errorf("token, object and module-path are required: %w", ErrBadPKCS11URI)
	}
	return u, nil
}
