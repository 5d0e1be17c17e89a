//go:build !cgo || !unix

package anywhere

import "crypto"

func openPKCS11(PKCS11URI, crypto.PublicKey) (crypto.Signer, func(), error) {
	return nil, nil, ErrPKCS11Unsupported
}
