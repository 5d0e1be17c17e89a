// Package testutil holds the test helpers imdsd's packages share: one
// [WaitFor] for conditions reached on other goroutines, and one fake
// [Clock] so that tests move time by hand instead of sleeping.
//
// It imports no imdsd package: [Clock] satisfies roles.Clock (and any
// other Now/After clock seam) structurally, so roles' tests can use it
// without testutil knowing roles.
package testutil
