// Package access decides who is calling and which role that caller may
// have. It knows nothing of HTTP or STS: the metadata server hands it the
// two addresses of a connection, and it answers a role name or a refusal
// with its reason.
//
// Who is calling (Caller) is found from sources, each asked at most once
// per request and only when a rule needs it: the uid owning a local
// socket (peercred), the systemd unit of the process that holds it (its
// cgroup), and the container an address belongs to (the container
// engines). A later source (a Kubernetes pod) is one more field of
// Sources and one more condition of Rule.
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
//  3. clients: rules, in config order (cidr, container_label): a role, or
//     none.
//  4. A container: the role its label imdsd.role names (when the daemon
//     serves it; an unknown name is refused and logged), else
//     containers.default_role (none unless set). A container whose
//     identity cannot be established is refused, never given a default:
//     the host's role must not leak to a container through a race at
//     start or a cache miss (kube2iam #46, #136, #170).
//  5. A process on this host: the default role.
//  6. Anyone else (a VM, a neighbour): no role.
package access
