package doctor

// The doctor's checks of the daemon itself: its sockets, its token, its
// credentials.

import (
	"context"
	"errors"
	"fmt"
	"github.com/imdsd/imdsd/internal/human"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/imdsd/imdsd/control"
)

func (d *doctor) checkDaemon(ctx context.Context) result {
	var st control.Status
	c, err := d.client(ctx)
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
	case d.status == nil && (errors.Is(err, control.ErrNoAccess) || errors.Is(err, control.ErrUntrustedPeer)):
		return fail("join the group it names and log in again; if another user serves it, have its directory removed",
			"control socket: %v", err)
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
		return fail(d.fixFor(name), "role %s has no credentials: %s: %s", name, c.Code, c.Message)
	}
	exp, err := time.Parse(time.RFC3339, c.Expiration)
	if err != nil {
		return fail("", "credentials of %s: bad Expiration %q", name, c.Expiration)
	}
	left := exp.Sub(d.now())
	if left < 5*time.Minute {
		return fail("the daemon refreshes ahead of expiry: see 'imdsd status' for failures", "credentials of %s expire in %s", name, human.Span(left))
	}
	return pass("role %s, credentials valid for %s", name, human.Span(left))
}
