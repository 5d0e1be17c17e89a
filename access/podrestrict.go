package access

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// Annotations kube2iam and kiam read, so that manifests written for them
// work unchanged.
const (
	// AnnotationRole (pod) names the pod's role: a role name, resolved
	// against the base ARN, or a full role ARN.
	AnnotationRole = "iam.amazonaws.com/role"
	// AnnotationExternalID (pod) is the external ID of its AssumeRole.
	AnnotationExternalID = "iam.amazonaws.com/external-id"
	// AnnotationSessionName (pod) is its role session name.
	AnnotationSessionName = "iam.amazonaws.com/session-name"
	// AnnotationAllowedRoles (namespace, kube2iam) is a JSON list of the
	// roles its pods may take, each a glob or a regexp (Format).
	AnnotationAllowedRoles = "iam.amazonaws.com/allowed-roles"
	// AnnotationPermitted (namespace, kiam) is one regexp, anchored, of
	// the roles its pods may take.
	AnnotationPermitted = "iam.amazonaws.com/permitted"
)

// The formats of allowed-roles entries (kube2iam's
// --namespace-restriction-format).
const (
	FormatGlob   = "glob"
	FormatRegexp = "regexp"
)

// Errors of a pod's role annotation.
var (
	ErrBadRoleAnnotation = errors.New("is neither a role name nor a role ARN (arn:aws:iam::ACCOUNT:role/NAME)")
	ErrNoBaseARN         = errors.New("is a role name, but kubernetes.base_role_arn is not set to resolve it; give a full ARN or set base_role_arn")
)

var (
	roleARNPattern  = regexp.MustCompile(`^arn:aws(-[a-z]+)*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$`)
	roleNamePattern = regexp.MustCompile(`^[\w+=,.@-]+(/[\w+=,.@-]+)*$`)
)

// PodRules are the pod step's settings (the config's kubernetes:).
type PodRules struct {
	// BaseARN resolves a role name: arn:aws:iam::ACCOUNT:role/ + name.
	BaseARN string
	// Restrict turns namespace restrictions on: a pod may take a role by
	// annotation only when its namespace's annotations permit it.
	Restrict bool
	// Format is how allowed-roles entries match: FormatGlob ("" too) or
	// FormatRegexp.
	Format string
	// Default is the role of a pod no annotation or rule gives one: a
	// served role's name, or ""/None for none.
	Default string
}

// ResolveARN returns the role ARN an annotation value names.
func (r PodRules) ResolveARN(v string) (string, error) {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "arn:") {
		if !roleARNPattern.MatchString(v) {
			return "", ErrBadRoleAnnotation
		}
		return v, nil
	}
	v = strings.TrimPrefix(v, "/")
	if len(v) > 512 || !roleNamePattern.MatchString(v) {
		return "", ErrBadRoleAnnotation
	}
	if r.BaseARN == "" {
		return "", ErrNoBaseARN
	}
	return r.BaseARN + v, nil
}

// normalize prefixes a pattern that is not an ARN with the base ARN, as
// kube2iam does.
func (r PodRules) normalize(pattern string) string {
	if strings.HasPrefix(pattern, "arn:") {
		return pattern
	}
	return r.BaseARN + strings.TrimPrefix(pattern, "/")
}

// patterns caches compiled regexps of namespace annotations, which change
// rarely but are matched on every request of their pods.
type patterns struct {
	mu sync.Mutex
	m  map[string]*regexp.Regexp
}

// maxPatterns bounds the regexp cache; past it the cache starts again.
const maxPatterns = 256

// anchored compiles ^(?:expr)$.
func (ps *patterns) anchored(expr string) (*regexp.Regexp, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if re, ok := ps.m[expr]; ok {
		return re, nil
	}
	re, err := regexp.Compile(`^(?:` + expr + `)$`)
	if err != nil {
		return nil, err
	}
	if ps.m == nil || len(ps.m) >= maxPatterns {
		ps.m = map[string]*regexp.Regexp{}
	}
	ps.m[expr] = re
	return re, nil
}

// permits reports whether pod's namespace permits the role the pod's
// annotation names (want, as written; arn, resolved), and when not, why.
// Every pattern is anchored: a kube2iam regexp matches the whole ARN, a
// kiam one the whole name as written or the whole ARN.
func (r PodRules) permits(ps *patterns, pod Pod, want, arn string) (bool, string) {
	ns := pod.NamespaceAnnotations
	allowed, hasAllowed := ns[AnnotationAllowedRoles]
	permitted, hasPermitted := ns[AnnotationPermitted]
	if !hasAllowed && !hasPermitted {
		return false, fmt.Sprintf("namespace %s permits no role: annotate it with %s or %s", pod.Namespace, AnnotationAllowedRoles, AnnotationPermitted)
	}
	var why []string
	if hasAllowed {
		ok, reason := r.allowedRoles(ps, allowed, arn)
		if ok {
			return true, ""
		}
		why = append(why, reason)
	}
	if hasPermitted {
		re, err := ps.anchored(permitted)
		switch {
		case err != nil:
			why = append(why, fmt.Sprintf("namespace annotation %s is not a valid regexp: %v", AnnotationPermitted, err))
		case re.MatchString(strings.TrimSpace(want)) || re.MatchString(arn):
			return true, ""
		default:
			why = append(why, fmt.Sprintf("namespace annotation %s %q does not match it", AnnotationPermitted, permitted))
		}
	}
	return false, strings.Join(why, "; ")
}

// allowedRoles matches arn against kube2iam's JSON list.
func (r PodRules) allowedRoles(ps *patterns, list, arn string) (bool, string) {
	var entries []string
	if err := json.Unmarshal([]byte(list), &entries); err != nil {
		return false, fmt.Sprintf("namespace annotation %s is not a JSON list of strings: %v", AnnotationAllowedRoles, err)
	}
	for _, e := range entries {
		pattern := r.normalize(strings.TrimSpace(e))
		if r.Format == FormatRegexp {
			if re, err := ps.anchored(pattern); err == nil && re.MatchString(arn) {
				return true, ""
			}
			continue
		}
		if globMatch(pattern, arn) {
			return true, ""
		}
	}
	return false, fmt.Sprintf("no entry of namespace annotation %s (%s) matches it", AnnotationAllowedRoles, r.formatName())
}

func (r PodRules) formatName() string {
	if r.Format == FormatRegexp {
		return FormatRegexp
	}
	return FormatGlob
}

// globMatch matches s against pattern, where * stands for any run of
// characters ('/' included, as kube2iam's glob) and every other character
// for itself.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}
