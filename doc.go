// Package imdsd is the root of the imdsd module. The daemon lives in
// cmd/imdsd; its parts in imds (the HTTP protocol), roles (STS credentials)
// and service (system service integration). This file exists so the
// module-wide tests (such as the import-graph guard) have a package.
package imdsd
