package doctor

// The doctor's checks of what lies between an SDK and the daemon: the
// clock, proxies, the environment, containers.

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/imdsd/imdsd/internal/human"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

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
			"this clock is %s off STS's (%s)", human.Span(skew), url)
	}
	return pass("within %s of STS's clock (%s)", human.Span(skew.Round(time.Second)), url)
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
