package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/imdsd/imdsd/internal/logging"
	"github.com/imdsd/imdsd/internal/memtune"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/imdsd/imdsd/config"
	"github.com/imdsd/imdsd/daemon"
	"github.com/imdsd/imdsd/imds"
	"github.com/imdsd/imdsd/roles"
)

// runServe implements "imdsd serve".
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, code := loadServeConfig(args, stderr)
	if code >= 0 {
		return code
	}
	log, closeLog := logging.NewDaemon(stderr, cfg.LogLevel, cfg.LogFormat)
	defer closeLog()
	d, err := newApp(ctx, cfg, log, reloader(args))
	if err != nil {
		fmt.Fprintf(stderr, "imdsd: %v\n", err)
		return exitUsage
	}
	d.stdout = stdout
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runManaged(ctx, d.run, log); err != nil {
		log.Error("stopped", "err", err)
		return exitError
	}
	log.Info("stopped")
	return exitOK
}

// loadServeConfig parses flags over the config file and validates the
// result. It returns a code >= 0 when the command must exit with it.
func loadServeConfig(args []string, stderr io.Writer) (config.Config, int) {
	f := config.NewFlags("imdsd serve")
	cfg, err := f.Parse(args, os.Getenv)
	var argErr *config.ArgError
	switch {
	case err == nil:
		return cfg, -1
	case errors.Is(err, flag.ErrHelp):
		fs := f.FlagSet()
		fs.SetOutput(stderr)
		fmt.Fprintln(stderr, "usage: imdsd serve [flags]")
		fs.PrintDefaults()
		return config.Config{}, exitOK
	case errors.As(err, &argErr) && !strings.HasPrefix(argErr.Error(), "unexpected argument"):
		fmt.Fprintf(stderr, "imdsd serve: %v (run 'imdsd serve -h' for usage)\n", err)
	default:
		fmt.Fprintf(stderr, "imdsd serve: %v\n", err)
	}
	return config.Config{}, exitUsage
}

// app is one running imdsd: the daemon's core and the IMDS server.
type app struct {
	cfg    config.Config
	log    *slog.Logger
	role   roles.Resolved
	core   *daemon.Daemon
	server *imds.Server
	// identify is the server's caller identification (harden), which the
	// loopback container endpoint shares.
	identify func(imds.Caller) imds.Caller
	// stdout takes what serve prints (kubernetes.print_rules' script).
	stdout io.Writer
}

// newApp resolves the roles and builds the server. It opens no socket.
// reload reads the config again (nil: reloads are refused).
func newApp(ctx context.Context, cfg config.Config, log *slog.Logger, reload func() (config.Config, error)) (*app, error) {
	core, err := daemon.New(ctx, daemon.Options{
		Config:       cfg,
		Logger:       log,
		Version:      Version(),
		StateFile:    defaultStateFile(),
		Reload:       reload,
		Notify:       desktopNotify,
		ReloadSignal: notifyReload,
	})
	if err != nil {
		return nil, err
	}
	role := core.DefaultRole()
	opts := harden(cfg, log, imds.Options{
		Source:        core,
		Observe:       core.ObserveRequest(),
		TokenRequired: cfg.IMDSv2 == config.IMDSv2Required,
		Region:        role.Region,
		InstanceID:    cfg.InstanceID,
		AccountID:     role.AccountID,
		Logger:        log,
	})
	server, err := imds.New(opts)
	if err != nil {
		return nil, err
	}
	return &app{cfg: cfg, log: log, role: role, core: core, server: server, identify: opts.IdentifyCaller}, nil
}

// reloader reads the config again exactly as serve did at start: the same
// flags over the (new) contents of the same file.
func reloader(args []string) func() (config.Config, error) {
	return func() (config.Config, error) {
		var msg strings.Builder
		cfg, code := loadServeConfig(args, &msg)
		if code >= 0 {
			return config.Config{}, errors.New(strings.TrimSpace(strings.TrimPrefix(msg.String(), "imdsd serve: ")))
		}
		return cfg, nil
	}
}

// run listens, serves and refreshes until ctx ends.
func (d *app) run(ctx context.Context) error {
	undo, err := addLinkLocal(d.cfg, d.log)
	if err != nil {
		return err
	}
	defer undo()
	lns, err := listen(d.cfg, d.log)
	if err != nil {
		return err
	}
	addrs := make([]string, len(lns))
	for i, ln := range lns {
		addrs[i] = ln.Addr().String()
	}
	d.log.Info("started", "version", Version(), "listen", addrs, "role", d.role.Name,
		"role_arn", d.role.ARN, "source", d.role.Source, "region", d.role.Region, "imdsv2", d.cfg.IMDSv2)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	closeAll := func() {
		for _, ln := range lns {
			ln.Close()
		}
	}
	if d.cfg.Kubernetes.Enabled {
		stopWatch, err := startKubernetes(ctx, d.cfg, d.core, d.log)
		if err != nil {
			closeAll()
			return err
		}
		defer stopWatch()
	}
	extra, stopContainers, err := d.core.StartContainers(ctx, d.server, d.identify)
	if err != nil {
		closeAll()
		return err
	}
	defer stopContainers()
	lns = append(lns, extra...)
	podLns, stopPods, err := d.core.StartKubernetes(ctx, d.server, cmp.Or[io.Writer](d.stdout, io.Discard))
	if err != nil {
		closeAll()
		return err
	}
	defer stopPods()
	lns = append(lns, podLns...)
	var wg sync.WaitGroup
	wg.Add(1)
	var opsErr error
	go func() {
		defer wg.Done()
		if opsErr = d.core.Run(ctx, addrs); opsErr != nil {
			cancel()
		}
	}()
	memtune.TuneGCFromEnv() // fewer GC cycles while busy
	wg.Add(1)
	go func() {
		defer wg.Done()
		memtune.NewTrimmer().Run(ctx) // RSS back to idle after a burst
	}()
	err = d.server.Run(ctx, lns...)
	cancel()
	wg.Wait()
	if err == nil {
		err = opsErr
	}
	return err
}

// listen opens every listen address. A default address that cannot be
// opened because the machine lacks that address family (no IPv6) is logged
// and skipped; an address the user asked for must open.
func listen(cfg config.Config, log *slog.Logger) ([]net.Listener, error) {
	var lns []net.Listener
	fail := func(err error) ([]net.Listener, error) {
		for _, ln := range lns {
			ln.Close()
		}
		return nil, err
	}
	for _, a := range cfg.ListenAddrs() {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			if len(cfg.Listen) == 0 && errors.Is(err, syscall.EADDRNOTAVAIL) {
				log.Warn("default listen address unavailable; skipped", "addr", a, "err", err)
				continue
			}
			return fail(fmt.Errorf("listen %s: %w", a, err))
		}
		lns = append(lns, ln)
	}
	if len(lns) == 0 {
		return fail(errors.New("no listen address could be opened"))
	}
	return lns, nil
}
