# shellcheck shell=bash
# scripts/bench-lib.sh: helpers of scripts/bench.sh and scripts/bench-ab.sh
# (sourced). The caller sets CRED_PATH and ROLE.

# token PORT: a new IMDSv2 token from the server on 127.0.0.1:PORT.
token() { curl -sf -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 21600" "http://127.0.0.1:$1/latest/api/token"; }

# wait_creds PORT: until the port serves a Success credential document (10 s).
wait_creds() {
	local t
	for _ in $(seq 200); do
		if t=$(token "$1" 2>/dev/null) &&
			curl -sf -H "X-aws-ec2-metadata-token: $t" "http://127.0.0.1:$1$CRED_PATH/$ROLE" 2>/dev/null | grep -q '"Success"'; then
			return 0
		fi
		sleep 0.05
	done
	echo "$(basename "$0"): no credentials on port $1" >&2
	return 1
}
