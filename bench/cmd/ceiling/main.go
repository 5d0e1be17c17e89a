// Command ceiling is the benchmarks' upper bound: a plain net/http server
// that answers the three requests of an IMDSv2 credential fetch with fixed
// bodies. It checks no token, resolves no role and renders nothing, so no
// IMDS server on net/http can be faster (docs/BENCHMARKS.md).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "ceiling: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("ceiling", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:19301", "listen `address` (loopback)")
	docPath := fs.String("doc", "", "`file` holding the credential document to serve (required)")
	role := fs.String("role", "demo", "role `name` of the listing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	doc, err := os.ReadFile(*docPath)
	if err != nil {
		return fmt.Errorf("read document: %w", err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Handler: newMux(doc, *role), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// token is the fixed token: the length of imdsd's.
var tokenBytes = []byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")

// newMux routes the three requests with the standard library's ServeMux.
func newMux(doc []byte, role string) *http.ServeMux {
	listing := []byte(role)
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /latest/api/token", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", r.Header.Get("X-Aws-Ec2-Metadata-Token-Ttl-Seconds"))
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(tokenBytes)
	})
	mux.HandleFunc("GET /latest/meta-data/iam/security-credentials/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(listing)
	})
	mux.HandleFunc("GET /latest/meta-data/iam/security-credentials/{role}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(doc)
	})
	return mux
}
