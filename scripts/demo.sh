#!/usr/bin/env bash
# demo.sh: imdsd's main job, on this machine, in a minute.
#
# It starts a local STS (moto's server, standing in for AWS), starts imdsd
# assuming the role arn:aws:iam::123456789012:role/demo-role through it, and
# shows the unmodified AWS CLI, with no credentials of its own, getting that
# role's identity through imdsd, exactly as on an EC2 instance whose instance
# profile holds the role. Then it stops everything it started.
#
# It installs what it needs first (Debian's awscli when no `aws` is on PATH,
# moto, curl); it needs Go to build imdsd.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lib_init

readonly ROLE_ARN=arn:aws:iam::123456789012:role/demo-role
readonly REGION=us-east-1
# Dummy source credentials for moto (it accepts any); the line the demo
# prints shows this same key, so what a reader sees is what ran.
readonly SOURCE_KEY=AKIADEMOSOURCE000001

if [[ -t 1 ]]; then
	B=$'\e[1m' D=$'\e[2m' G=$'\e[32m' R=$'\e[0m'
else
	B='' D='' G='' R=''
fi

# step TEXT: a heading for what comes next.
step() { printf '\n%s## %s%s\n' "$B" "$*" "$R"; }
# note TEXT: an explanation.
note() { printf '%s%s%s\n' "$D" "$*" "$R"; }
# show CMD...: prints a command as a user would type it, then runs it.
show() {
	printf '%s$ %s%s\n' "$G" "$*" "$R"
	"$@"
}
# client CMD...: prints CMD (to stderr, so its output can be piped), then
# runs CMD as a client with no credentials of its own: no
# AWS_* variable and no ~/.aws files, only the IMDS endpoint and region.
client() {
	local shown=("$@")
	[[ $1 == "$AWS" ]] && shown[0]=aws
	printf '%s$ %s%s\n' "$G" "${shown[*]}" "$R" >&2
	clean_env AWS_EC2_METADATA_SERVICE_ENDPOINT="$ENDPOINT" AWS_DEFAULT_REGION=$REGION "$@"
}

step "Installing what the demo needs (only what is missing)"
need_apt curl ca-certificates
AWS=$(command -v aws || true)
if [[ -z $AWS ]]; then
	need_apt awscli
	AWS=/usr/bin/aws
fi
need_moto
note "AWS CLI: $("$AWS" --version 2>&1)"
build_imdsd
note "built imdsd: $IMDSD"

step "1. A local STS (moto), standing in for AWS"
start_moto
note "STS at $MOTO_URL (it accepts any source credentials)"

step "2. imdsd assumes $ROLE_ARN and serves it as the instance profile"
PORT=9254
if ! python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1])))' $PORT 2>/dev/null; then
	PORT=$(free_port)
	note "port 9254 is in use here; the demo uses $PORT"
fi
ENDPOINT=http://127.0.0.1:$PORT/
note "imdsd's own environment holds the source credentials (here dummy ones for moto):"
printf '%s$ AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=... imdsd serve --role-arn %s --sts-endpoint %s --region %s --listen 127.0.0.1:%s%s\n' \
	"$G" "$SOURCE_KEY" "$ROLE_ARN" "$MOTO_URL" "$REGION" "$PORT" "$R"
note "(plus a control socket and state file of its own, so it leaves an installed imdsd alone)"
clean_env_cmd
run_bg "$WORK/imdsd.log" "${CLEAN_ENV[@]}" AWS_ACCESS_KEY_ID=$SOURCE_KEY AWS_SECRET_ACCESS_KEY=demo-source-secret \
	"$IMDSD" serve --role-arn "$ROLE_ARN" --sts-endpoint "$MOTO_URL" --region "$REGION" \
	--listen "127.0.0.1:$PORT" --log-format text \
	--control-socket "$WORK/control.sock" --state-file "$WORK/state.json"
IMDSD_PID=$BG_PID
wait_imdsd "http://127.0.0.1:$PORT" 30 || {
	cat "$WORK/imdsd.log" >&2
	die "imdsd did not start"
}
note "imdsd's log:"
sed 's/^/    /' "$WORK/imdsd.log"
seen=$(wc -l <"$WORK/imdsd.log")

step "3. It answers like the EC2 instance metadata service"
show curl -s "${ENDPOINT}latest/meta-data/iam/security-credentials/"
echo
show curl -s "${ENDPOINT}latest/meta-data/placement/region"
echo

step "4. The unmodified AWS CLI, with no credentials of its own, points at imdsd"
note "The CLI below runs with no AWS_* keys and no ~/.aws files (AWS_CONFIG_FILE=/dev/null"
note "AWS_SHARED_CREDENTIALS_FILE=/dev/null); it is told only where the metadata service is:"
printf '%s$ export AWS_EC2_METADATA_SERVICE_ENDPOINT=%s%s\n' "$G" "$ENDPOINT" "$R"
client "$AWS" configure list
echo
client "$AWS" sts get-caller-identity --endpoint-url "$MOTO_URL" | tee "$WORK/identity.json"
arn=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["Arn"])' "$WORK/identity.json")
case $arn in
arn:aws:sts::123456789012:assumed-role/demo-role/*) ;;
*) die "expected the demo-role's assumed-role ARN, got $arn" ;;
esac

note "What imdsd logged meanwhile (never a secret: at most the access key's last four characters):"
tail -n +"$((seen + 1))" "$WORK/imdsd.log" | sed 's/^/    /'

step "5. Stopping what the demo started"
stop_pid "$IMDSD_PID" || die "imdsd did not stop cleanly"
note "imdsd stopped: $(tail -n1 "$WORK/imdsd.log")"
stop_pid "$MOTO_PID" || true
note "moto stopped"

printf '\n%sThe AWS CLI got the identity of %s through imdsd:%s\n  %s\n' "$B" "$ROLE_ARN" "$R" "$arn"
note "Against real AWS: give imdsd real source credentials (or --profile), drop --sts-endpoint,"
note "and set AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:9254/ for your applications."
