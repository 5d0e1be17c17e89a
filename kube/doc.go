// Package kube is imdsd's Kubernetes identity source: it knows the pods of
// this node (by address) and their namespaces from informers on the real
// Kubernetes API, and validates projected service-account tokens with the
// TokenReview API. It decides nothing: the caller→role policy is package
// access's, and the daemon wires the two.
//
// client-go is the dependency here because its informers (list + watch with
// resync, relist on a broken watch, bookmarks) are exactly what a node agent
// needs and are the code every Kubernetes controller runs; writing our own
// watch loop would repeat its bugs.
package kube
