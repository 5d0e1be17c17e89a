package access

import (
	"context"
	"fmt"
	"strings"
)

// Grant is a decided role: a role the daemon serves by its config name,
// or (ByARN) the role a pod's annotation names by ARN, which the daemon
// assumes on demand with the parameters here.
type Grant struct {
	// Role is a served role's name, or the role ARN when ByARN.
	Role  string
	ByARN bool
	// ExternalID and SessionName come from the pod's annotations (ByARN
	// only); "" leaves the daemon's defaults.
	ExternalID  string
	SessionName string
	// From names the step or rule that decided.
	From string
}

// Event reasons of the Kubernetes Events recorded on refused pods.
const (
	ReasonRoleNotPermitted = "IAMRoleNotPermitted"
	ReasonRoleInvalid      = "IAMRoleInvalid"
)

// podGrant is the pod step: (a) the role annotation, restricted by the
// namespace; (b) clients: rules, in config order (namespace and
// service_account rules match pods only); (c) kubernetes.default_role.
// The host's default role is never a pod's unless a rule names it.
func (p *Policy) podGrant(ctx context.Context, c *Caller, served func(string) bool) (Grant, error) {
	pod, err := c.Pod(ctx)
	if err != nil {
		return Grant{}, err
	}
	if want := strings.TrimSpace(pod.Annotations[AnnotationRole]); want != "" {
		return p.annotated(pod, want)
	}
	for _, r := range p.Clients {
		ok, err := r.match(ctx, c, p.LabelKey)
		if err != nil {
			return Grant{}, fmt.Errorf("%s: %w", r.From, err)
		}
		if ok {
			name, err := p.named(r.Role, r.From, served)
			return Grant{Role: name, From: r.From}, err
		}
	}
	name, err := p.named(p.Pods.Default, "kubernetes.default_role (pod "+pod.String()+" has no role annotation and no rule)", served)
	return Grant{Role: name, From: "kubernetes.default_role"}, err
}

// annotated decides the role a pod's annotation names.
func (p *Policy) annotated(pod Pod, want string) (Grant, error) {
	arn, err := p.Pods.ResolveARN(want)
	if err != nil {
		msg := fmt.Sprintf("annotation %s %q %v", AnnotationRole, want, err)
		p.refusePod(pod, want, ReasonRoleInvalid, msg)
		return Grant{}, fmt.Errorf("%w: pod %s: %s", ErrNoRole, pod, msg)
	}
	if p.Pods.Restrict {
		if !pod.NamespaceKnown {
			return Grant{}, fmt.Errorf("%w: pod %s: namespace %s is not known yet", ErrNotYetIdentified, pod, pod.Namespace)
		}
		if ok, why := p.Pods.permits(&p.patterns, pod, want, arn); !ok {
			msg := fmt.Sprintf("role %s is not permitted: %s", arn, why)
			p.refusePod(pod, want, ReasonRoleNotPermitted, msg)
			return Grant{}, fmt.Errorf("%w: pod %s: %s", ErrNoRole, pod, msg)
		}
	}
	return Grant{
		Role:        arn,
		ByARN:       true,
		ExternalID:  strings.TrimSpace(pod.Annotations[AnnotationExternalID]),
		SessionName: strings.TrimSpace(pod.Annotations[AnnotationSessionName]),
		From:        "annotation " + AnnotationRole,
	}, nil
}

// refusePod logs once per pod and role asked for why the pod gets
// nothing, and records it as an Event on the pod (PodRefused).
func (p *Policy) refusePod(pod Pod, want, reason, msg string) {
	key := "pod\x00" + pod.UID + "\x00" + pod.String() + "\x00" + want
	p.warnMu.Lock()
	if p.warned == nil || len(p.warned) >= maxWarned {
		p.warned = map[string]bool{}
	}
	seen := p.warned[key]
	p.warned[key] = true
	p.warnMu.Unlock()
	if seen {
		return
	}
	if p.Logger != nil {
		p.Logger.Warn("pod refused: it gets no role", "namespace", pod.Namespace, "pod", pod.Name, "reason", reason, "why", msg)
	}
	if p.PodRefused != nil {
		p.PodRefused(pod, reason, msg)
	}
}
