// Package k8stest is the test harness for code that talks to Kubernetes:
// ONE real kube-apiserver and etcd per test binary, started by
// scripts/k8s/start.sh (or the running ones named by IMDSD_K8S_KUBECONFIG),
// and helpers that do what the missing kubelet and controllers would do:
// namespaces, service accounts, pods with their status, TokenRequest.
//
// Use it from TestMain, so the servers stop when the binary ends:
//
//	func TestMain(m *testing.M) { os.Exit(k8stest.Main(m)) }
//
//	func TestX(t *testing.T) {
//		c := k8stest.Start(t)
//		ns := c.NewNamespace(t, nil)
//		...
//	}
//
// When the binaries are missing, Start FAILS the test with what to run; it
// never skips.
package k8stest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Environment and paths this harness reads.
const (
	// EnvKubeconfig names running servers to reuse; they are not stopped.
	EnvKubeconfig = "IMDSD_K8S_KUBECONFIG"
	// envCache and envBin are start.sh's own (where build.sh put the binaries).
	envCache     = "IMDSD_K8S_CACHE"
	envBin       = "IMDSD_K8S_BIN"
	defaultCache = "/var/cache/imdsd/k8s"
	k8sVersion   = "v1.37.2"
	startScript  = "scripts/k8s/start.sh"
	stopScript   = "scripts/k8s/stop.sh"
	// buildHint is the failure message when the servers' binaries are missing.
	buildHint = "run scripts/k8s/build.sh (builds kube-apiserver and etcd into /var/cache/imdsd/k8s, 10-35 min cold)"
	// opTimeout bounds each API call a helper makes.
	opTimeout = 30 * time.Second
)

// Cluster is the running kube-apiserver + etcd of this test binary.
type Cluster struct {
	// Kubeconfig is the path of the admin kubeconfig.
	Kubeconfig string
	// Config is the admin's client config (user imdsd-admin, system:masters).
	Config *rest.Config
	// Client is an admin client.
	Client kubernetes.Interface
	// Server is the API server's https://127.0.0.1:PORT.
	Server string
	owned  bool // started here, so stopped by Main
}

// shared is the one cluster of this test binary. It is a package variable
// on purpose: the servers are a per-process fixture (start them once, not
// once per test), and Main stops them when the binary ends.
var shared struct {
	mu      sync.Mutex
	main    bool // Main is running the tests
	cluster *Cluster
	err     error
	tried   bool
}

// Main runs the tests of m and then stops the servers Start started, if
// any. Call it from TestMain: os.Exit(k8stest.Main(m)).
func Main(m *testing.M) int {
	shared.mu.Lock()
	shared.main = true
	shared.mu.Unlock()
	code := m.Run()
	shared.mu.Lock()
	c := shared.cluster
	shared.mu.Unlock()
	if c != nil && c.owned {
		if err := c.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "k8stest: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// Start returns the cluster of this test binary, starting it on first use.
// It fails tb when the servers cannot be started, saying why.
func Start(tb testing.TB) *Cluster {
	tb.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.tried {
		shared.tried = true
		shared.cluster, shared.err = start(shared.main)
	}
	if shared.err != nil {
		tb.Fatalf("k8stest: %v", shared.err)
	}
	return shared.cluster
}

func start(inMain bool) (*Cluster, error) {
	if kc := os.Getenv(EnvKubeconfig); kc != "" {
		return connect(kc, false)
	}
	if !inMain {
		return nil, errors.New("call k8stest.Main from TestMain (os.Exit(k8stest.Main(m))) so the servers it starts are stopped, or set " + EnvKubeconfig + " to running ones")
	}
	bin := os.Getenv(envBin)
	if bin == "" {
		cache := os.Getenv(envCache)
		if cache == "" {
			cache = defaultCache
		}
		bin = filepath.Join(cache, k8sVersion)
	}
	for _, b := range []string{"kube-apiserver", "etcd"} {
		if fi, err := os.Stat(filepath.Join(bin, b)); err != nil || fi.Mode()&0o111 == 0 {
			return nil, fmt.Errorf("%s missing: %s", filepath.Join(bin, b), buildHint)
		}
	}
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(filepath.Join(root, startScript))
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", startScript, err, stderr.String())
	}
	kc := strings.TrimSpace(stdout.String())
	c, err := connect(kc, true)
	if err != nil {
		c = &Cluster{Kubeconfig: kc, owned: true}
		if serr := c.stop(); serr != nil {
			err = errors.Join(err, serr)
		}
		return nil, err
	}
	return c, nil
}

func connect(kubeconfig string, owned bool) (*Cluster, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = 200, 400 // tests create many objects quickly
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", kubeconfig, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if _, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx); err != nil {
		return nil, fmt.Errorf("api server of %s not ready: %w", kubeconfig, err)
	}
	return &Cluster{Kubeconfig: kubeconfig, Config: cfg, Client: cs, Server: cfg.Host, owned: owned}, nil
}

func (c *Cluster) stop() error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	out, err := exec.Command(filepath.Join(root, stopScript), "--wipe", c.Kubeconfig).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s --wipe %s: %w\n%s", stopScript, c.Kubeconfig, err, out)
	}
	return nil
}

// moduleRoot finds the folder of this module's go.mod above the working
// directory (a test runs in its package's folder).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, startScript)); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no %s above the working directory: run the tests inside the imdsd clone", startScript)
		}
		dir = parent
	}
}
