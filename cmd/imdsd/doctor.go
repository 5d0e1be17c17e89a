package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/imdsd/imdsd/config"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/imdsd/imdsd/control"
)

// maxClockSkew is the largest clock difference with STS that doctor
// accepts: SigV4 signatures are refused beyond five minutes.
const maxClockSkew = 5 * time.Minute

// linkLocalIMDS is the address every SDK asks by default.
const linkLocalIMDS = "169.254.169.254"

// runDoctor implements "imdsd doctor": it checks, in order, everything
// between an SDK and its credentials and says what to do about each
// failure. Exit 0 only when every check passes.
func runDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	d := newDoctor(stdout)
	fs := flag.NewFlagSet("imdsd doctor", flag.ContinueOnError)
	d.ctl.add(fs)
	fs.StringVar(&d.configPath, "config", "", "config `file` to read the listen addresses from when the daemon does not answer (default: "+systemConfigPath()+" if present)")
	fs.StringVar(&d.stsEndpoint, "sts-endpoint", "", "STS endpoint `URL` for the clock check (default: the daemon's, else AWS's regional endpoint)")
	if code := parseCtlFlags(fs, args, "doctor [--socket PATH] [--config FILE] [--sts-endpoint URL]\n\nexit 0 when every check passes, 1 otherwise", stderr); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "imdsd doctor: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if d.run(ctx) {
		return exitOK
	}
	return exitError
}

// doctor holds what the checks share, and its seams.
type doctor struct {
	out         io.Writer
	ctl         ctlFlags
	configPath  string
	stsEndpoint string
	getenv      func(string) string
	now         func() time.Time
	localAddrs  func() ([]netip.Addr, error)
	// containerRules reports whether container DNAT rules are expected
	// (container bridges exist) and present.
	containerRules func() (expected bool, present bool, detail string, err error)
	http           *http.Client

	// Learnt along the way.
	status    *control.Status // nil when the control socket does not answer
	endpoints []string        // base URLs of the listeners that answered
	failed    int
}

func newDoctor(out io.Writer) *doctor {
	return &doctor{
		out:            out,
		getenv:         os.Getenv,
		now:            time.Now,
		localAddrs:     localAddrs,
		containerRules: containerRules,
		// Never through a proxy: the checks are about this machine.
		http: &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}},
	}
}

// result is a check's outcome.
type result struct {
	ok   bool
	skip bool
	msg  string
	fix  string // what to do, for a failure
}

func pass(format string, a ...any) result { return result{ok: true, msg: fmt.Sprintf(format, a...)} }
func skip(format string, a ...any) result {
	return result{ok: true, skip: true, msg: fmt.Sprintf(format, a...)}
}
func fail(fix, format string, a ...any) result {
	return result{msg: fmt.Sprintf(format, a...), fix: fix}
}

// run runs every check in order and reports whether all passed.
func (d *doctor) run(ctx context.Context) bool {
	checks := []struct {
		name string
		run  func(context.Context) result
	}{
		{"daemon reachable", d.checkDaemon},
		{"169.254.169.254 routed to imdsd", d.checkLinkLocal},
		{"IMDSv2 token round trip", d.checkToken},
		{"default role credentials", d.checkCredentials},
		{"clock against STS", d.checkClock},
		{"proxy variables", d.checkProxy},
		{"SDK environment", d.checkEnv},
		{"container rules", d.checkContainers},
	}
	for _, c := range checks {
		r := c.run(ctx)
		tag := "[ ok ]"
		switch {
		case r.skip:
			tag = "[skip]"
		case !r.ok:
			tag = "[FAIL]"
			d.failed++
		}
		fmt.Fprintf(d.out, "%s %s: %s\n", tag, c.name, r.msg)
		if !r.ok && r.fix != "" {
			fmt.Fprintf(d.out, "       fix: %s\n", strings.ReplaceAll(r.fix, "\n", "\n            "))
		}
	}
	if d.failed == 0 {
		fmt.Fprintln(d.out, "all checks passed")
		return true
	}
	fmt.Fprintf(d.out, "%d check(s) failed\n", d.failed)
	return false
}

// listenAddrs returns the addresses the daemon listens on: what it says,
// else what its config says.
func (d *doctor) listenAddrs() ([]string, string) {
	if d.status != nil && len(d.status.Listen) > 0 {
		return d.status.Listen, "the daemon"
	}
	path := d.configPath
	if path == "" {
		if _, err := os.Stat(systemConfigPath()); err == nil {
			path = systemConfigPath()
		}
	}
	if path != "" {
		cfg := config.Default()
		if err := config.LoadFile(path, &cfg); err == nil {
			return cfg.ListenAddrs(), path
		}
	}
	return config.DefaultListen(), "the defaults"
}

func (d *doctor) checkDaemon(ctx context.Context) result {
	var st control.Status
	c, err := d.ctl.client(ctx)
	if err == nil {
		err = c.Call(ctx, control.CmdStatus, nil, &st)
	}
	if err == nil {
		d.status = &st
	}
	addrs, from := d.listenAddrs()
	var down []string
	for _, a := range addrs {
		base := "http://" + a
		if err := d.probe(ctx, base); err != nil {
			down = append(down, fmt.Sprintf("%s (%v)", a, err))
			continue
		}
		d.endpoints = append(d.endpoints, base)
	}
	switch {
	case d.status == nil && len(d.endpoints) == 0:
		return fail("start it: 'imdsd start' (service) or 'imdsd serve --config FILE'; 'imdsd status' tells whether the service is installed",
			"imdsd is not running: no answer on the control socket nor on %s (from %s)", strings.Join(addrs, ", "), from)
	case d.status == nil:
		return fail("the daemon answers IMDS but not its control socket: run doctor as a member of its group, or pass --socket",
			"control socket: %v", err)
	case len(down) > 0:
		return fail("another process may hold the port, or a firewall drops it; see the daemon's log ('journalctl -u imdsd')",
			"no IMDS answer on %s", strings.Join(down, "; "))
	}
	return pass("imdsd %s (pid %d) answers on %s", d.status.Version, d.status.PID, strings.Join(addrs, ", "))
}

// probe checks that base answers as imdsd does.
func (d *doctor) probe(ctx context.Context, base string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, base+"/latest/api/token", nil)
	req.Header.Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", "60")
	resp, err := d.http.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.Header.Get("Server") != "EC2ws" || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("answered %s but not as imdsd", resp.Status)
	}
	return nil
}

// sdkEndpoint is the IMDS endpoint the SDKs of this environment use.
func (d *doctor) sdkEndpoint() (string, bool) {
	if e := d.getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT"); e != "" {
		return strings.TrimRight(e, "/"), true
	}
	return "http://" + linkLocalIMDS, false
}

func (d *doctor) checkLinkLocal(ctx context.Context) result {
	if e, set := d.sdkEndpoint(); set {
		if err := d.probe(ctx, e); err != nil {
			return fail("point it at a listen address of imdsd: eval \"$(imdsd env)\"",
				"AWS_EC2_METADATA_SERVICE_ENDPOINT=%s does not reach imdsd: %v", e, err)
		}
		return pass("SDKs use AWS_EC2_METADATA_SERVICE_ENDPOINT=%s, which is imdsd", e)
	}
	// Only an address of this machine is tried: a request to a
	// 169.254.169.254 that is not local would leave the machine.
	addrs, err := d.localAddrs()
	if err != nil {
		return fail("", "cannot list this machine's addresses: %v", err)
	}
	want := netip.MustParseAddr(linkLocalIMDS)
	local := false
	for _, a := range addrs {
		local = local || a == want
	}
	fix := "set link_local: true in the config (Linux; the service has the capability), then 'imdsd restart';\n" +
		"or point SDKs at a listen address: eval \"$(imdsd env)\""
	if !local {
		return fail(fix, "169.254.169.254 is not an address of this machine, so SDKs cannot reach imdsd by default")
	}
	if err := d.probe(ctx, "http://"+linkLocalIMDS); err != nil {
		return fail(fix, "169.254.169.254 is on this machine but port 80 is not imdsd: %v", err)
	}
	return pass("http://169.254.169.254 is imdsd")
}

// base returns the endpoint the next checks use: the SDKs', when it is
// imdsd, else the first listener that answered.
func (d *doctor) base(ctx context.Context) (string, bool) {
	if e, _ := d.sdkEndpoint(); d.probe(ctx, e) == nil {
		return e, true
	}
	if len(d.endpoints) > 0 {
		return d.endpoints[0], true
	}
	return "", false
}

func (d *doctor) checkToken(ctx context.Context) result {
	base, ok := d.base(ctx)
	if !ok {
		return fail("fix the daemon first (above)", "no endpoint answers")
	}
	tok, err := d.token(ctx, base)
	if err != nil {
		return fail("see the daemon's log; a proxy or firewall between may alter requests", "%v", err)
	}
	body, code, err := d.get(ctx, base+"/latest/meta-data/instance-id", tok)
	if err != nil || code != http.StatusOK {
		return fail("see the daemon's log", "GET instance-id with the token: status %d, %v", code, err)
	}
	return pass("token issued and accepted at %s (instance %s)", base, body)
}

func (d *doctor) token(ctx context.Context, base string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, base+"/latest/api/token", nil)
	req.Header.Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", "60")
	resp, err := d.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("PUT token: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || len(b) == 0 {
		return "", fmt.Errorf("PUT token: status %s", resp.Status)
	}
	return string(b), nil
}

func (d *doctor) get(ctx context.Context, url, tok string) (string, int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if tok != "" {
		req.Header.Set("X-Aws-Ec2-Metadata-Token", tok)
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return string(b), resp.StatusCode, err
}

func (d *doctor) checkCredentials(ctx context.Context) result {
	base, ok := d.base(ctx)
	if !ok {
		return fail("fix the daemon first (above)", "no endpoint answers")
	}
	tok, err := d.token(ctx, base)
	if err != nil {
		return fail("see the daemon's log", "%v", err)
	}
	name, code, err := d.get(ctx, base+"/latest/meta-data/iam/security-credentials/", tok)
	if err != nil || code != http.StatusOK {
		return fail("'imdsd status' shows each role and why it fails; client rules may give this client no role",
			"role listing: status %d %v", code, err)
	}
	doc, code, err := d.get(ctx, base+"/latest/meta-data/iam/security-credentials/"+name, tok)
	if err != nil || code != http.StatusOK {
		return fail("'imdsd status' shows why", "credentials of %s: status %d %v", name, code, err)
	}
	return d.judgeCredentials(name, doc)
}

// judgeCredentials checks a credential document without ever printing its
// secrets.
func (d *doctor) judgeCredentials(name, doc string) result {
	var c struct{ Code, Message, Expiration string }
	if err := jsonUnmarshal(doc, &c); err != nil {
		return fail("see the daemon's log", "credentials of %s: not a credential document: %v", name, err)
	}
	if c.Code != "Success" {
		return fail("'imdsd status' shows the role's state; 'imdsd mfa' if it needs MFA; check the source credentials and the role's trust policy",
			"role %s has no credentials: %s: %s", name, c.Code, c.Message)
	}
	exp, err := time.Parse(time.RFC3339, c.Expiration)
	if err != nil {
		return fail("", "credentials of %s: bad Expiration %q", name, c.Expiration)
	}
	left := exp.Sub(d.now())
	if left < 5*time.Minute {
		return fail("the daemon refreshes ahead of expiry: see 'imdsd status' for failures", "credentials of %s expire in %s", name, span(left))
	}
	return pass("role %s, credentials valid for %s", name, span(left))
}

func (d *doctor) checkClock(ctx context.Context) result {
	url := d.stsEndpoint
	if url == "" && d.status != nil {
		url = d.status.STSEndpoint
		if url == "" && d.status.Region != "" {
			url = "https://sts." + d.status.Region + ".amazonaws.com"
		}
	}
	if url == "" {
		url = "https://sts.amazonaws.com"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fail("", "STS endpoint %q: %v", url, err)
	}
	sent := d.now()
	resp, err := d.http.Do(req)
	if err != nil {
		return fail("check the network path to STS (a proxy for it? HTTPS_PROXY)", "cannot reach STS at %s: %v", url, err)
	}
	resp.Body.Close()
	got := d.now()
	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		return fail("", "STS at %s sent no Date header", url)
	}
	// The server's clock at the midpoint of the exchange, to the second.
	mid := sent.Add(got.Sub(sent) / 2)
	skew := mid.Sub(date)
	if skew < 0 {
		skew = -skew
	}
	if skew > maxClockSkew {
		return fail("synchronise the clock (timedatectl set-ntp true; chronyc makestep); STS refuses signatures more than 5 minutes off",
			"this clock is %s off STS's (%s)", span(skew), url)
	}
	return pass("within %s of STS's clock (%s)", span(skew.Round(time.Second)), url)
}

// proxyVars are the variables that route HTTP through a proxy in the SDKs
// and the CLI (Go reads the upper-case ones, Python and curl both).
var proxyVars = []string{"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"}

func (d *doctor) checkProxy(context.Context) result {
	hosts := []string{linkLocalIMDS}
	if e, set := d.sdkEndpoint(); set {
		if h := hostOf(e); h != "" && h != linkLocalIMDS {
			hosts = append(hosts, h)
		}
	}
	noProxy := d.getenv("NO_PROXY") + "," + d.getenv("no_proxy")
	var bad []string
	for _, v := range proxyVars {
		p := d.getenv(v)
		if p == "" {
			continue
		}
		for _, h := range hosts {
			if !noProxyMatches(noProxy, h) {
				bad = append(bad, fmt.Sprintf("%s=%s sends requests for %s to the proxy", v, redactURL(p), h))
			}
		}
	}
	if len(bad) > 0 {
		return fail("exempt the metadata addresses: export NO_PROXY=\"$NO_PROXY,"+strings.Join(hosts, ",")+"\" no_proxy=\"$no_proxy,"+strings.Join(hosts, ",")+"\"",
			"%s", strings.Join(bad, "; "))
	}
	return pass("no proxy variable captures %s", strings.Join(hosts, ", "))
}

// noProxyMatches reports whether a NO_PROXY list exempts host: "*", the
// host itself, a CIDR that holds it, or a domain suffix.
func noProxyMatches(list, host string) bool {
	ip, ipErr := netip.ParseAddr(host)
	for _, e := range strings.Split(list, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if e == "*" || strings.EqualFold(e, host) {
			return true
		}
		if p, err := netip.ParsePrefix(e); err == nil && ipErr == nil && p.Contains(ip) {
			return true
		}
		if h, _, err := net.SplitHostPort(e); err == nil && strings.EqualFold(h, host) {
			return true
		}
		if ipErr != nil && strings.HasSuffix(strings.ToLower(host), "."+strings.TrimPrefix(strings.ToLower(e), ".")) {
			return true
		}
	}
	return false
}

func hostOf(url string) string {
	h := strings.TrimPrefix(strings.TrimPrefix(url, "http://"), "https://")
	h, _, _ = strings.Cut(h, "/")
	if host, _, err := net.SplitHostPort(h); err == nil {
		return strings.Trim(host, "[]")
	}
	return strings.Trim(h, "[]")
}

// redactURL hides a proxy URL's password.
func redactURL(u string) string {
	if at := strings.LastIndexByte(u, '@'); at >= 0 {
		if i := strings.Index(u, "://"); i >= 0 && i < at {
			return u[:i+3] + "***@" + u[at+1:]
		}
		return "***@" + u[at+1:]
	}
	return u
}

func (d *doctor) checkEnv(context.Context) result {
	var bad []string
	if v := d.getenv("AWS_EC2_METADATA_DISABLED"); strings.EqualFold(v, "true") {
		bad = append(bad, "AWS_EC2_METADATA_DISABLED=true stops every SDK from asking IMDS (unset AWS_EC2_METADATA_DISABLED)")
	}
	if d.getenv("AWS_ACCESS_KEY_ID") != "" {
		bad = append(bad, "AWS_ACCESS_KEY_ID is set: SDKs use it before IMDS (unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN)")
	}
	if d.getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI") != "" || d.getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") != "" {
		bad = append(bad, "AWS_CONTAINER_CREDENTIALS_* is set: SDKs ask that endpoint before IMDS")
	}
	if d.getenv("AWS_WEB_IDENTITY_TOKEN_FILE") != "" {
		bad = append(bad, "AWS_WEB_IDENTITY_TOKEN_FILE is set: SDKs use web identity before IMDS")
	}
	if p := d.getenv("AWS_PROFILE"); p != "" {
		bad = append(bad, "AWS_PROFILE="+p+" is set: SDKs use that profile's credentials, not IMDS (unset AWS_PROFILE, or give the profile credential_source = Ec2InstanceMetadata)")
	}
	if len(bad) > 0 {
		return fail("'imdsd env' prints the lines that set the environment right", "%s", strings.Join(bad, "; "))
	}
	return pass("nothing in the environment stops SDKs from asking IMDS")
}

func (d *doctor) checkContainers(context.Context) result {
	if d.status != nil && !d.status.Containers {
		return skip("containers are off in the daemon's config (containers: {enabled: true} turns them on)")
	}
	expected, present, detail, err := d.containerRules()
	switch {
	case err != nil:
		return fail("run doctor as root to read the nftables ruleset", "cannot read the container rules: %v", err)
	case !expected && d.status != nil:
		return skip("containers are on but %s", detail)
	case !expected:
		return skip("%s", detail)
	case !present:
		return fail("check the daemon's log for nftables errors; containers need the daemon running as root or with CAP_NET_ADMIN",
			"container networks exist but imdsd's DNAT rules are missing: %s", detail)
	}
	return pass("%s", detail)
}

func localAddrs() ([]netip.Addr, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr())
		}
	}
	return out, nil
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
