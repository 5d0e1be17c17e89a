// Package access decides who is calling and which role that caller may
// have. It knows nothing of HTTP or STS: the metadata server hands it the
// two addresses of a connection, and it answers a role name or a refusal
// with its reason.
//
// Who is calling (Caller) is found from sources, each asked at most once
// per request and only when a rule needs it: the uid owning a local
// socket (peercred), the systemd unit of the process that holds it (its
// cgroup), and the container an address belongs to (the container
// engines), and the Kubernetes pod an address belongs to (or that a
// service-account token proves, SetPod).
//
// Which role it gets (Policy.Decide) is decided in this order, the first
// step that decides wins:
//
//  1. Grants to local processes, in config order: units: (a systemd unit
//     gets a role), then user_roles: (a user, then a group's members).
//  2. The user gate: when allow_uids or allow_groups is set, a local
//     process whose uid is in neither gets no role. A local process whose
//     uid (or unit) cannot be found while a rule needs it is refused,
//     never guessed.
//  3. A pod (Kubernetes mode: a caller off this host and off the container
//     bridges, or one whose service-account token was reviewed, even from
//     a node address): the pod step below decides alone; steps 1, 2, 4-6
//     never apply to it.
//  4. clients: rules, in config order (cidr, container_label): a role, or
//     none. Rules with namespace or service_account match pods only.
//  5. A container: the role its label imdsd.role names (when the daemon
//     serves it; an unknown name is refused and logged), else
//     containers.default_role (none unless set). A container whose
//     identity cannot be established is refused, never given a default:
//     the host's role must not leak to a container through a race at
//     start or a cache miss (kube2iam #46, #136, #170).
//  6. A process on this host: the default role.
//  7. Anyone else (a VM, a neighbour): no role.
//
// The pod step, first that decides wins:
//
//   - (a) The pod annotation iam.amazonaws.com/role (kube2iam, kiam): a role
//     name, resolved against kubernetes.base_role_arn
//     (arn:aws:iam::ACCOUNT:role/), or a full role ARN, assumed on demand
//     with the pod's iam.amazonaws.com/external-id and
//     iam.amazonaws.com/session-name. With namespace restrictions on (the
//     default, kube2iam's --namespace-restrictions) the pod's namespace
//     must permit that role: kube2iam's iam.amazonaws.com/allowed-roles, a
//     JSON list of globs (* is any run of characters) or regexps
//     (namespace_restriction_format), each prefixed with the base ARN
//     unless it is an ARN; or kiam's iam.amazonaws.com/permitted, one
//     regexp matched against the annotation as written or the ARN. Every
//     regexp is anchored (^...$; kube2iam's are not: a pattern that
//     matched part of an ARN there matches nothing here, which fails
//     closed). A namespace with neither annotation permits nothing. A pod
//     refused its annotation's role gets no role at all (not a rule's, not
//     the default), one log line and a Kubernetes Event (PodRefused) per
//     pod and role asked say why.
//   - (b) clients: rules, in config order: namespace and service_account (as
//     EKS Pod Identity associations), cidr.
//   - (c) kubernetes.default_role; none unless set. The host's default role is
//     never a pod's unless a rule names it, and a pod whose address is not
//     known yet is refused (ErrNotYetIdentified), never given a default.
package access
