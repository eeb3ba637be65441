# TAP output for shell integration tests. Source it, then call:
#   tap_ok NAME | tap_fail NAME WHY | tap_skip NAME WHY
#   tap_check NAME CMD [ARG]...     ok if CMD exits 0, else not ok with its output
#   tap_expect_eq NAME EXPECTED ACTUAL
#   tap_done                        prints the plan; exits 1 if anything failed
# SV_ROOT and SV_BUILD (set by tests/run-tier.sh) locate the tree and the build.
: "${SV_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${SV_BUILD:=$SV_ROOT/build}"
SV_BIN=$SV_BUILD/bin
export SV_ROOT SV_BUILD SV_BIN
_tap_n=0
_tap_failed=0

tap_ok() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $1"; }
tap_fail() {
	_tap_n=$((_tap_n + 1))
	_tap_failed=1
	echo "not ok $_tap_n - $1"
	[ -n "${2:-}" ] && printf '%s\n' "$2" | head -n 20 | sed 's/^/# /'
	return 0
}
tap_skip() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $1 # SKIP $2"; echo "SKIP $1: $2" >&2; }
tap_check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then tap_ok "$name"; else tap_fail "$name" "exit $?: $out"; fi
}
tap_expect_eq() {
	if [ "$2" = "$3" ]; then tap_ok "$1"; else tap_fail "$1" "expected [$2], got [$3]"; fi
}
tap_done() {
	echo "1..$_tap_n"
	[ $_tap_failed -eq 0 ]
}
