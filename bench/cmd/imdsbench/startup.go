package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/imdsd/imdsd/imds"
)

// runStartup starts the daemon command given after the flags -n times and
// reports, per run, the time from process start to the first answered
// token request (the daemon is serving; STS round trip excluded) and to the
// first Success credential document (STS round trip included). It stops
// each process with SIGTERM.
func runStartup(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("startup", flag.ContinueOnError)
	base := fs.String("url", "", "base `url` the daemon listens on")
	n := fs.Int("n", 5, "runs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *base == "" || fs.NArg() == 0 {
		return errors.New("usage: startup -url URL [-n N] -- COMMAND [ARGS]")
	}
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for round := 1; round <= *n; round++ {
		serving, creds, err := startOnce(ctx, hc, *base, fs.Args())
		if err != nil {
			return fmt.Errorf("run %d: %w", round, err)
		}
		writeRow(stdout, Row{"startup", "imdsd", 1, fmt.Sprint(round), "first_answer_ms", ms(serving)})
		writeRow(stdout, Row{"startup", "imdsd", 1, fmt.Sprint(round), "first_credentials_ms", ms(creds)})
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func startOnce(ctx context.Context, hc *http.Client, base string, argv []string) (serving, creds time.Duration, err error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	cmd.Env = os.Environ()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	deadline := start.Add(20 * time.Second)
	for serving == 0 || creds == 0 {
		if time.Now().After(deadline) {
			return 0, 0, errors.New("no credentials within 20s")
		}
		ok, err := credsServed(ctx, hc, base)
		if err == nil && serving == 0 {
			serving = time.Since(start)
		}
		if ok {
			creds = time.Since(start)
			break
		}
		time.Sleep(time.Millisecond)
	}
	return serving, creds, nil
}

// credsServed makes the three requests of an SDK credential fetch. The
// error is nil once the server answers at all; ok tells whether it served a
// Success document.
func credsServed(ctx context.Context, hc *http.Client, base string) (ok bool, err error) {
	tok, err := getToken(ctx, hc, base)
	if err != nil {
		return false, err
	}
	get := func(path string) ([]byte, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		req.Header.Set(imds.HeaderToken, tok)
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%s: status %d", path, resp.StatusCode)
		}
		return b, err
	}
	role, err := get(imds.PathSecurityCredentials + "/")
	if err != nil {
		return false, nil
	}
	b, err := get(imds.PathSecurityCredentials + "/" + strings.TrimSpace(string(role)))
	if err != nil {
		return false, nil
	}
	var doc struct{ Code string }
	return json.Unmarshal(b, &doc) == nil && doc.Code == "Success", nil
}
