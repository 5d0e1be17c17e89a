package main

import (
	"fmt"
	"log/slog"

	"github.com/imdsd/imdsd/config"
	"github.com/imdsd/imdsd/linklocal"
)

// addLinkLocal puts the metadata addresses on loopback when cfg asks for
// it, before any listener opens. The returned func takes them off again;
// the daemon calls it when it stops. Addresses left by a killed daemon are
// found and kept (linklocal.Add is idempotent).
func addLinkLocal(cfg config.Config, log *slog.Logger) (undo func(), err error) {
	if !cfg.LinkLocal {
		return func() {}, nil
	}
	ps := linklocal.Prefixes()
	if err := linklocal.Add(ps...); err != nil {
		_ = linklocal.Remove(ps...) // do not leave half of them
		return nil, fmt.Errorf("link_local: %w", err)
	}
	log.Info("link-local addresses on loopback", "addrs", config.LinkLocalListen())
	return func() {
		if err := linklocal.Remove(ps...); err != nil {
			log.Warn("remove link-local addresses", "err", err)
			return
		}
		log.Info("link-local addresses removed")
	}, nil
}
