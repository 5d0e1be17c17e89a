package daemon

// The Pod Identity endpoint's caller: the pod its service-account token
// proves (a TokenReview), cross-checked against the caller's address.

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/imdsd/imdsd/access"
	"github.com/imdsd/imdsd/imds"
)

// identifyByToken reviews the caller's token and records its pod in ac.
// A rejected token is imds.ErrUnauthorized (401); a valid token that does
// not prove this caller is a pod of this node is imds.ErrForbidden (403).
// The token is a secret: it is in no error and no log.
func (o *Daemon) identifyByToken(ctx context.Context, c imds.Caller, ac *access.Caller) error {
	k := o.kube.Load()
	if k == nil || k.reviewer == nil {
		return fmt.Errorf("%w: this daemon accepts no service-account tokens (kubernetes mode is off)", imds.ErrUnauthorized)
	}
	id, err := k.reviewer.Review(ctx, c.Authorization)
	switch {
	case errors.Is(err, ErrTokenRejected):
		return fmt.Errorf("%w: the service-account token is invalid, expired, for another audience (want %s), or its pod is gone",
			imds.ErrUnauthorized, o.cfg.Load().Kubernetes.Audience)
	case err != nil:
		o.log.Warn("token review failed", "client", c.Remote.String(), "err", err)
		return errors.New("the service-account token could not be reviewed now; retry")
	case id.PodName == "":
		return fmt.Errorf("%w: the service-account token (of %s/%s) is not bound to a pod; mount a projected token", imds.ErrForbidden, id.Namespace, id.ServiceAccount)
	}
	pod, ok := k.watcher.Pod(id.Namespace, id.PodName)
	switch {
	case !ok:
		return fmt.Errorf("%w: the token's pod %s/%s is not on this node", imds.ErrForbidden, id.Namespace, id.PodName)
	case id.PodUID != "" && pod.UID != id.PodUID:
		return fmt.Errorf("%w: the token's pod %s/%s was replaced (uid differs)", imds.ErrForbidden, id.Namespace, id.PodName)
	case id.ServiceAccount != "" && pod.ServiceAccount != id.ServiceAccount:
		return fmt.Errorf("%w: the token's service account is not its pod's", imds.ErrForbidden)
	case !pod.HostNetwork && !slices.Contains(pod.IPs, c.Remote.Addr().Unmap()):
		return fmt.Errorf("%w: the token is pod %s/%s's, but the request comes from %s, not its address", imds.ErrForbidden, id.Namespace, id.PodName, c.Remote.Addr())
	}
	ac.SetPod(k.accessPod(pod))
	return nil
}
