# Sourced by the scripts that start services and call them: bounded waits that say on
# timeout what they waited for, and calls that say what failed instead of leaving a bare
# exit status under `set -e`.
#
#   wait_for WHAT SECONDS LOG PID -- COMMAND...
#
# Runs COMMAND every 0.2 s until it succeeds. Fails (exit 1) after SECONDS, or at once
# when PID (the process being waited for; "-" for none) has exited, printing WHAT and
# the last 40 lines of LOG ("-" for none). The defaults are generous: a first start on
# a fresh machine compiles nothing but may still take tens of seconds.
wait_for() {
    local what=$1 seconds=$2 log=$3 pid=$4
    shift 5
    local deadline=$((SECONDS + seconds))
    while ((SECONDS < deadline)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        if [[ $pid != - ]] && ! kill -0 "$pid" 2>/dev/null; then
            echo "error: $what: the process (pid $pid) exited before it was ready" >&2
            [[ $log != - && -f $log ]] && tail -n 40 "$log" >&2
            exit 1
        fi
        sleep 0.2
    done
    echo "error: $what: not ready after ${seconds}s" >&2
    [[ $log != - && -f $log ]] && tail -n 40 "$log" >&2
    exit 1
}

# An access token from the development issuer (ISSUER is its realm URL), or an error
# naming the URL. Used as `admin=$(issuer_token "$issuer" platform-admin)`.
#
#   issuer_token ISSUER ROLES [TENANT] [TTL_SECONDS]
issuer_token() {
    local url="$1/token?roles=$2${3:+&tenant=$3}&ttl=${4:-7200}" body
    body=$(curl -sS -f "$url") || { echo "error: no token from $url (curl exit $?)" >&2; return 1; }
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])' <<<"$body"
}
