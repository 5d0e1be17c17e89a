package imds

import (
	"net/http"
)

// caller identifies the client of r, with Options.IdentifyCaller when set.
func (s *Server) caller(r *http.Request) Caller {
	c := callerOf(r)
	if s.opts.IdentifyCaller != nil {
		c = s.opts.IdentifyCaller(c)
	}
	return c
}

// callerOf identifies the client of r by its addresses.
func callerOf(r *http.Request) Caller {
	ci := connOf(r)
	return Caller{Remote: ci.remote, Local: ci.local, ID: ci.key.id}
}
