package roles

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// tokenFile reads the token from a file at every fetch.
type tokenFile struct{ path string }

func (f tokenFile) String() string { return KeyWebIdentityTokenFile + " " + f.path }

func (f tokenFile) token(context.Context) (string, error) {
	fh, err := os.Open(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", tokenError(f, "the file does not exist (yet)", nil)
	}
	if err != nil {
		return "", tokenError(f, "cannot open it", err)
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, MaxWebIdentityToken+1))
	if err != nil {
		return "", tokenError(f, "cannot read it", err)
	}
	if len(b) > MaxWebIdentityToken {
		return "", tokenError(f, fmt.Sprintf("the file is over %d bytes", MaxWebIdentityToken), nil)
	}
	return strings.TrimSpace(string(b)), nil
}
