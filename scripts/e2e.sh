#!/usr/bin/env bash
# e2e.sh: proves imdsd with real, unmodified AWS clients.
#
# It starts a local STS (moto's server) and two imdsd daemons assuming
# arn:aws:iam::123456789012:role/e2e-role through it, one with IMDSv2
# optional and one with IMDSv2 required, each listening on 127.0.0.1 and
# [::1]. Then each client, with no credentials of its own (no AWS_* variable,
# no shared config or credentials file, only the IMDS endpoint and the
# region), calls STS GetCallerIdentity against moto and must get the role's
# assumed-role ARN:
#
#   cli-v1  the AWS CLI v1 (pip's awscli)
#   cli-v2  Debian's awscli package (v2, /usr/bin/aws)
#   boto3   boto3 in python3
#   js-v3   the AWS SDK for JavaScript v3 (scripts/js, pinned versions)
#   js-v2   the AWS SDK for JavaScript v2, aws-sdk (scripts/js/whoami-v2.cjs)
#   go-v2   aws-sdk-go-v2's default config chain (scripts/gosdk)
#   go-v1   the AWS SDK for Go v1's default session (scripts/gosdk/v1)
#
# Each client first uses the endpoint `imdsd env` prints, against both
# daemons. Then the endpoint matrix: every client with every form users
# write for AWS_EC2_METADATA_SERVICE_ENDPOINT (127.0.0.1, localhost and
# [::1], each with and without the trailing slash). A combination that no
# server can make work (CANNOT below, with the SDK source that says why)
# must fail, so the docs are corrected the day it works; every other one
# must work. The matrix is printed with its counts.
#
# At the end it stops the daemons (each must exit 0) and scans every log
# and output of the run for the secret keys and session tokens imdsd served:
# any hit fails the run. It installs what it needs (see lib.sh), prints one
# line per check and "N passed, M failed", and exits non-zero on a failure.
# KEEP_WORK=1 keeps the run's logs.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lib_init

readonly ACCOUNT=123456789012
readonly ROLE_ARN=arn:aws:iam::$ACCOUNT:role/e2e-role
readonly WANT_ARN=arn:aws:sts::$ACCOUNT:assumed-role/e2e-role/
readonly REGION=us-east-1
# Source credentials: only imdsd's environment holds them. moto accepts any.
readonly SOURCE_KEY=AKIAE2ESOURCE0000001
SOURCE_SECRET=e2e-source-secret-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
readonly SOURCE_SECRET

PASSED=0
FAILED=0
# Per subject (client, daemon, secrets): checks passed and failed.
declare -A SUBJ_PASS=() SUBJ_FAIL=()
SUBJECTS=()
SECRETS=("$SOURCE_SECRET")
START=$SECONDS

# tally SUBJECT: counts SUBJECT in the summary.
tally() {
	[[ -v SUBJ_PASS[$1] ]] || {
		SUBJECTS+=("$1")
		SUBJ_PASS[$1]=0
		SUBJ_FAIL[$1]=0
	}
}
# pass SUBJECT TEXT / fail SUBJECT TEXT: records and prints one check.
pass() {
	tally "$1"
	PASSED=$((PASSED + 1))
	SUBJ_PASS[$1]=$((SUBJ_PASS[$1] + 1))
	printf 'PASS %s %s\n' "$1" "$2"
}
fail() {
	tally "$1"
	FAILED=$((FAILED + 1))
	SUBJ_FAIL[$1]=$((SUBJ_FAIL[$1] + 1))
	printf 'FAIL %s %s\n' "$1" "$2"
}

say "checking what the test needs (installing what is missing)"
need_apt curl ca-certificates awscli
need_aws_v2
need_aws_v1
need_boto3
need_node_modules
need_moto
AWS1=$(aws_v1)
AWS2=/usr/bin/aws
say "clients: $("$AWS1" --version 2>&1 | cut -d' ' -f1) ($AWS1), $("$AWS2" --version 2>&1 | cut -d' ' -f1) ($AWS2)," \
	"boto3 $(python3 -c 'import boto3; print(boto3.__version__)'), node $(node --version)," \
	"@aws-sdk/client-sts $(node -p "require('$ROOT/scripts/js/node_modules/@aws-sdk/client-sts/package.json').version")," \
	"aws-sdk (JS v2) $(node -p "require('$ROOT/scripts/js/node_modules/aws-sdk/package.json').version")"

say "building imdsd and the Go SDK client"
build_imdsd
GOSDK=$WORK/bin/gosdk
(cd "$ROOT" && go build -o "$GOSDK" ./scripts/gosdk) || die "go build ./scripts/gosdk failed"
# The SDK v1 client is a module of its own (scripts/gosdk/v1/go.mod): go
# fetches its SDK through the Go module proxy on the first build.
GOSDK1=$WORK/bin/gosdk-v1
(cd "$ROOT/scripts/gosdk/v1" && go build -o "$GOSDK1" .) ||
	die "go build in scripts/gosdk/v1 failed: it needs the Go module proxy for github.com/aws/aws-sdk-go (or a module cache holding it)"

say "starting moto (local STS)"
start_moto
say "moto: $MOTO_URL"

mkdir -p "$WORK/out"

# start_imdsd NAME MODE: starts an imdsd with --imdsv2 MODE on a free port
# of 127.0.0.1 and [::1]; sets PORT_<NAME> and PID_<NAME>. Its control
# socket and state file are its own, so it never meets another imdsd
# (an installed service, the other daemon of this test).
start_imdsd() {
	local name=$1 mode=$2 port
	port=$(free_port)
	clean_env_cmd
	run_bg "$WORK/imdsd-$name.log" "${CLEAN_ENV[@]}" \
		AWS_ACCESS_KEY_ID=$SOURCE_KEY AWS_SECRET_ACCESS_KEY="$SOURCE_SECRET" \
		"$IMDSD" serve --sts-endpoint "$MOTO_URL" --role-arn "$ROLE_ARN" --region "$REGION" \
		--listen "127.0.0.1:$port" --listen "[::1]:$port" --imdsv2 "$mode" --log-format json \
		--control-socket "$WORK/control-$name.sock" --state-file "$WORK/state-$name.json"
	printf -v "PID_$name" '%s' "$BG_PID"
	printf -v "PORT_$name" '%s' "$port"
	wait_imdsd "http://127.0.0.1:$port" 30 || {
		cat "$WORK/imdsd-$name.log" >&2
		die "imdsd ($name) did not serve credentials on port $port"
	}
	say "imdsd ($name, --imdsv2 $mode): http://127.0.0.1:$port/ and http://[::1]:$port/"
}

# remember_secrets URL: fetches the credential document as a client would
# (token first) and adds its secret key and session token to SECRETS. They
# stay in this shell's memory only, never in a file.
remember_secrets() {
	local url=$1 token role doc pair
	token=$(curl -fsS -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' "$url/latest/api/token")
	role=$(curl -fsS -H "X-aws-ec2-metadata-token: $token" "$url/latest/meta-data/iam/security-credentials/")
	doc=$(curl -fsS -H "X-aws-ec2-metadata-token: $token" "$url/latest/meta-data/iam/security-credentials/$role")
	pair=$(python3 -c '
import json, sys
d = json.load(sys.stdin)
if d.get("Code") != "Success" or not d.get("SecretAccessKey") or not d.get("Token"):
    sys.exit("not a Success credential document (Code %r)" % d.get("Code"))
print(d["SecretAccessKey"]); print(d["Token"])' <<<"$doc") || die "credential document from $url: see above"
	mapfile -t -O "${#SECRETS[@]}" SECRETS <<<"$pair"
}

# client NAME ENDPOINT: runs client NAME with only ENDPOINT as a credential
# source and prints its ARN (the last line of its output).
client() {
	local name=$1 ep=$2
	local -a cmd
	case $name in
	cli-v1) cmd=("$AWS1" sts get-caller-identity --endpoint-url "$MOTO_URL" --query Arn --output text) ;;
	cli-v2) cmd=("$AWS2" sts get-caller-identity --endpoint-url "$MOTO_URL" --query Arn --output text) ;;
	boto3) cmd=(python3 -c '
import os, boto3
sts = boto3.session.Session().client("sts", endpoint_url=os.environ["E2E_STS_ENDPOINT"])
print(sts.get_caller_identity()["Arn"])') ;;
	js-v3) cmd=(node "$ROOT/scripts/js/whoami.mjs") ;;
	js-v2) cmd=(node "$ROOT/scripts/js/whoami-v2.cjs") ;;
	go-v2) cmd=("$GOSDK") ;;
	go-v1) cmd=("$GOSDK1") ;;
	*) die "unknown client $name" ;;
	esac
	clean_env AWS_EC2_METADATA_SERVICE_ENDPOINT="$ep" AWS_DEFAULT_REGION=$REGION AWS_REGION=$REGION \
		E2E_STS_ENDPOINT="$MOTO_URL" NODE_NO_WARNINGS=1 timeout 60 "${cmd[@]}"
}

# try NAME LABEL ENDPOINT: runs a client; succeeds when it got the
# assumed-role ARN. Its output is in $WORK/out/NAME-LABEL.*, and WHY says
# what went wrong.
try() {
	local name=$1 label=$2 ep=$3 out arn rc=0
	out=$WORK/out/$name-$label
	client "$name" "$ep" >"$out.stdout" 2>"$out.stderr" || rc=$?
	arn=$(tail -n1 "$out.stdout")
	if ((rc == 0)) && [[ $arn == "$WANT_ARN"* ]]; then
		WHY=$arn
		return 0
	fi
	if ((rc == 0)); then
		WHY="got ARN \"$arn\", want $WANT_ARN..."
	else
		WHY="exit $rc ($(grep -v '^\s*$' "$out.stderr" | tail -n1))"
	fi
	return 1
}

# check NAME LABEL ENDPOINT: runs a client and asserts the assumed-role ARN.
check() {
	if try "$@"; then
		pass "$1" "$2: $WHY"
	else
		fail "$1" "$2: $WHY"
		sed 's/^/    /' "$WORK/out/$1-$2.stderr" | tail -n 5
	fi
}

start_imdsd opt optional
start_imdsd req required
# shellcheck disable=SC2154 # set by start_imdsd through printf -v
{
	remember_secrets "http://127.0.0.1:$PORT_opt"
	remember_secrets "http://127.0.0.1:$PORT_req"
}

# The required daemon really requires a token, so the clients that pass
# against it used IMDSv2.
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT_req/latest/meta-data/iam/security-credentials/")
if [[ $code == 401 ]]; then
	pass imdsv2 "--imdsv2 required answers a GET without a token with 401"
else
	fail imdsv2 "--imdsv2 required answered a GET without a token with $code, want 401"
fi

CLIENTS=(cli-v1 cli-v2 boto3 js-v3 js-v2 go-v2 go-v1)

# What `imdsd env` prints is the one value users put in /etc/environment
# for every SDK and CLI of the machine, so every client must work with it,
# against both daemons.
ENV_EP=$("$IMDSD" env --socket "$WORK/control-req.sock" | sed -n "s/^export AWS_EC2_METADATA_SERVICE_ENDPOINT='\(.*\)'$/\1/p")
case $ENV_EP in
"http://127.0.0.1:$PORT_req/") pass env "imdsd env prints AWS_EC2_METADATA_SERVICE_ENDPOINT=$ENV_EP" ;;
*) fail env "imdsd env printed AWS_EC2_METADATA_SERVICE_ENDPOINT=\"$ENV_EP\", want http://127.0.0.1:$PORT_req/" ;;
esac
say "each client, with no credentials of its own, asks STS who it is through the value 'imdsd env' prints"
for c in "${CLIENTS[@]}"; do
	check "$c" "imdsd-env imdsv2=optional" "${ENV_EP/$PORT_req/$PORT_opt}"
	check "$c" "imdsd-env imdsv2=required" "$ENV_EP"
done

# The endpoint matrix: every form users write for the endpoint (the three
# loopback spellings, with and without the trailing slash), against the
# daemon that requires IMDSv2, for every client.
FORMS=(127.0.0.1/ 127.0.0.1 localhost/ localhost '[::1]/' '[::1]')
# CANNOT[client form]: the combinations no server can make work, and why.
# The test asserts that they fail, so that the docs (docs/endpoint.md) are
# corrected the day they start working.
declare -A CANNOT=()
# Debian's AWS CLI v2 (2.9.19) vendors a botocore whose IMDSFetcher joins
# base URL and path with no separator: url = self._base_url +
# self._TOKEN_PATH, _TOKEN_PATH = 'latest/api/token'
# (/usr/lib/python3/dist-packages/awscli/botocore/utils.py). Without the
# slash it asks for http://HOST:PORTlatest/api/token: the port is not a
# number, so no request is ever sent. Newer botocore adds the separator
# (_construct_url; pip's botocore, which cli-v1 and boto3 use).
for f in 127.0.0.1 localhost '[::1]'; do
	key="cli-v2 $f"
	CANNOT[$key]="the AWS CLI v2 (awscli/botocore/utils.py) appends latest/api/token to the endpoint with no slash"
done
declare -A CELL=()
M_OK=0 M_CANNOT=0 M_BROKEN=0
say "the endpoint matrix: ${#CLIENTS[@]} clients x ${#FORMS[@]} endpoint forms, against --imdsv2 required"
for c in "${CLIENTS[@]}"; do
	for f in "${FORMS[@]}"; do
		host=${f%/}
		ep="http://$host:$PORT_req${f#"$host"}"
		label="matrix-$host${f#"$host"}"
		label=${label//\//-slash}
		key="$c $f"
		if [[ -n ${CANNOT[$key]+set} ]]; then
			if try "$c" "$label" "$ep"; then
				fail "$c" "$ep: works, but the test says it cannot (${CANNOT[$key]}): correct CANNOT and docs/endpoint.md"
				CELL[$key]=WORKS?
				M_BROKEN=$((M_BROKEN + 1))
			else
				pass "$c" "$ep: fails as expected: ${CANNOT[$key]}: $WHY"
				CELL[$key]=cannot
				M_CANNOT=$((M_CANNOT + 1))
			fi
		elif try "$c" "$label" "$ep"; then
			pass "$c" "$ep: $WHY"
			CELL[$key]=ok
			M_OK=$((M_OK + 1))
		else
			fail "$c" "$ep: $WHY"
			sed 's/^/    /' "$WORK/out/$c-$label.stderr" | tail -n 5
			CELL[$key]=FAIL
			M_BROKEN=$((M_BROKEN + 1))
		fi
	done
done

# Control: the same client with no imdsd to ask must find no credentials,
# which shows that the passes above came from imdsd and nothing else.
closed=$(free_port)
if client cli-v1 "http://127.0.0.1:$closed/" >"$WORK/out/control.stdout" 2>"$WORK/out/control.stderr"; then
	fail control "cli-v1 with no imdsd got credentials: $(tail -n1 "$WORK/out/control.stdout")"
else
	pass control "cli-v1 with no imdsd finds no credentials ($(grep -m1 -o 'Unable to locate credentials' "$WORK/out/control.stderr" || tail -n1 "$WORK/out/control.stderr"))"
fi

# The secrets again, in case a refresh happened during the run.
remember_secrets "http://127.0.0.1:$PORT_opt"
remember_secrets "http://127.0.0.1:$PORT_req"

say "stopping the daemons (SIGTERM must give exit 0)"
for name in opt req; do
	pid_var=PID_$name
	if stop_pid "${!pid_var}"; then
		if grep -q '"msg":"stopped"' "$WORK/imdsd-$name.log"; then
			pass shutdown "imdsd $name: SIGTERM -> exit 0, logged \"stopped\""
		else
			fail shutdown "imdsd $name: exit 0 but no \"stopped\" log line"
		fi
	else
		fail shutdown "imdsd $name: exit $? after SIGTERM"
	fi
done
stop_pid "$MOTO_PID" || true

# No secret anywhere: not in imdsd's logs, moto's log, nor any client output.
files=()
while IFS= read -r -d '' f; do files+=("$f"); done < <(find "$WORK" -path "$WORK/bin" -prune -o -type f -print0)
leaks=0
mapfile -t SECRETS < <(printf '%s\n' "${SECRETS[@]}" | sort -u | grep .)
for s in "${SECRETS[@]}"; do
	[[ -n $s ]] || continue
	if hits=$(grep -lF -e "$s" -- "${files[@]}"); then
		leaks=$((leaks + 1))
		printf '    secret ...%s found in: %s\n' "${s: -4}" "$(echo "$hits" | xargs -n1 basename | tr '\n' ' ')"
	fi
done
n_secrets=${#SECRETS[@]}
if ((leaks == 0)); then
	pass secrets "$n_secrets distinct secrets (source key, served keys and tokens) absent from ${#files[@]} files"
else
	fail secrets "$leaks of $n_secrets secrets found"
fi

echo
echo "endpoint matrix (AWS_EC2_METADATA_SERVICE_ENDPOINT=http://FORM:PORT, --imdsv2 required):"
printf '  %-7s' client
for f in "${FORMS[@]}"; do printf ' %-10s' "$f"; done
echo
for c in "${CLIENTS[@]}"; do
	printf '  %-7s' "$c"
	for f in "${FORMS[@]}"; do
		key="$c $f"
		printf ' %-10s' "${CELL[$key]:-?}"
	done
	echo
done
echo "  $((M_OK + M_CANNOT + M_BROKEN)) combinations: $M_OK work, $M_CANNOT cannot work whatever the server does (asserted), $M_BROKEN broken"
echo
echo "summary ($((SECONDS - START)) s):"
for s in "${SUBJECTS[@]}"; do
	if ((SUBJ_FAIL[$s] == 0)); then verdict=ok; else verdict=FAILED; fi
	printf '  %-9s %-6s %d passed, %d failed\n' "$s" "$verdict" "${SUBJ_PASS[$s]}" "${SUBJ_FAIL[$s]}"
done
echo "$PASSED passed, $FAILED failed"
((FAILED == 0))
