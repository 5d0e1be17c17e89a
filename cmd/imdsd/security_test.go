package main

import (
	"github.com/imdsd/imdsd/config"
	"io"
	"log/slog"
	"testing"

	"github.com/imdsd/imdsd/imds"
)

func TestHarden_Options(t *testing.T) {
	cfg := config.Default()
	cfg.Listen = []string{"127.0.0.1:9254", "172.17.0.1:9254"}
	cfg.Security.AllowedHosts = []string{"imds.internal"}
	cfg.Security.HopLimit = 1
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := harden(cfg, log, imds.Options{})
	for _, h := range []string{"169.254.169.254", "localhost", "127.0.0.1", "172.17.0.1", "imds.internal"} {
		found := false
		for _, a := range opts.AllowedHosts {
			found = found || a == h
		}
		if !found {
			t.Errorf("AllowedHosts %v lacks %q", opts.AllowedHosts, h)
		}
	}
	if opts.RateLimit.PerSecond != imds.DefaultRatePerSecond || opts.MaxConnsPerClient != imds.DefaultMaxConnsPerClient || opts.HopLimit != 1 {
		t.Errorf("limits: %+v conns %d hop %d", opts.RateLimit, opts.MaxConnsPerClient, opts.HopLimit)
	}
	if opts.Audit == nil {
		t.Error("Audit logger not set")
	}
	if opts.IdentifyCaller != nil {
		t.Error("IdentifyCaller set without local-user rules: the uid lookup would run for nothing")
	}
	if opts.ConnIdentity == nil {
		t.Error("ConnIdentity not set: limits and audit would key local users by address (issue 15)")
	}
	cfg.Security.Users.AllowUIDs = []string{"0"}
	opts = harden(cfg, log, imds.Options{Source: imds.SourceFunc(nil)})
	if opts.IdentifyCaller == nil {
		t.Error("IdentifyCaller not set with allow_uids")
	}
}
