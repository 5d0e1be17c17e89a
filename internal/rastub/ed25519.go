package rastub

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
)

// newEd25519 makes a key of a type Roles Anywhere does not take.
func newEd25519() (crypto.Signer, error) {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	return k, err
}
