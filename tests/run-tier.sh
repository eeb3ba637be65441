#!/usr/bin/env bash
# Runs one test tier and prints a line per test: PASS name | FAIL name: why | SKIP name: why.
#   tests/run-tier.sh unit|integration|fuzz BUILD_DIR [GLOB]
# Every test speaks TAP on stdout (cmocka with CMOCKA_MESSAGE_OUTPUT=TAP, shell
# tests through tests/lib/tap.sh). Results are appended to $SV_RESULTS (default
# BUILD_DIR/results.txt) for tests/run-all.sh to sum; a tier run on its own
# prints its own summary line.
set -uo pipefail

tier=$1
build=$2
glob=${3:-*}
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$root" && mkdir -p "$build" && cd "$build" && pwd)
own_summary=0
if [ -z "${SV_RESULTS:-}" ]; then
	export SV_RESULTS=$build/results.$tier.txt
	: >"$SV_RESULTS"
	own_summary=1
fi
prefix=${SV_RESULT_PREFIX:-}
export SV_ROOT=$root SV_BUILD=$build

record() { # STATUS NAME [WHY]
	local line="$1 $prefix$2${3:+: $3}"
	echo "$line"
	echo "$line" >>"$SV_RESULTS"
}

# Reads TAP from a test's output file and records each result under "group/".
parse_tap() { # GROUP FILE EXIT_STATUS
	local group=$1 file=$2 status=$3 n=0 failed=0 line name
	while IFS= read -r line; do
		case "$line" in
		"ok "* | "not ok "*)
			n=$((n + 1))
			name=$(sed -E 's/^(not )?ok [0-9]* *(- )?//; s/ *# *SKIP.*//I' <<<"$line")
			if grep -qi '# *SKIP' <<<"$line"; then
				why=$(sed -E 's/.*# *SKIP *:? *//I' <<<"$line")
				# cmocka writes "not ok N # SKIP name": the name follows SKIP.
				if [ -z "$name" ]; then
					name=$why
					why=
				fi
				[ -n "$why" ] || why="skipped"
				record SKIP "$group/$name" "$why"
			elif [ "${line#not ok}" != "$line" ]; then
				failed=1
				record FAIL "$group/$name" "$(grep -A3 -F -- "$line" "$file" | sed -n '2,4{/^#/p}' | sed 's/^# *//' | tr '\n' ' ')"
			else
				record PASS "$group/$name"
			fi
			;;
		esac
	done <"$file"
	if [ "$n" -eq 0 ]; then
		record FAIL "$group" "ran no test (exit status $status): $(tail -n 3 "$file" | tr '\n' ' ')"
	elif [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
		record FAIL "$group" "exited with status $status after its tests: $(tail -n 3 "$file" | tr '\n' ' ')"
	fi
}

logdir=$build/test-logs/$tier
mkdir -p "$logdir"

case "$tier" in
unit)
	for t in "$build"/tests/unit/*_test; do
		[ -x "$t" ] || continue
		name=$(basename "$t")
		# shellcheck disable=SC2053
		[[ $name == $glob ]] || continue
		CMOCKA_MESSAGE_OUTPUT=TAP timeout -k 5 300 "$t" >"$logdir/$name.log" 2>&1
		parse_tap "unit/$name" "$logdir/$name.log" $?
	done
	;;
integration)
	# Each script brings up a lab of its own, so scripts run side by side
	# (SV_INTEGRATION_JOBS at a time, default 2); results are read in order.
	names=()
	for t in "$root"/tests/integration/*/*.sh "$root"/tests/integration/*.sh; do
		[ -f "$t" ] || continue
		rel=${t#"$root"/tests/integration/}
		name=${rel%.sh}
		[[ $name == $glob ]] || continue
		names+=("$name")
	done
	run_one() { # NAME
		local log=$logdir/${1//\//_}.log
		timeout -k 10 "${SV_TEST_TIMEOUT:-600}" bash "$root/tests/integration/$1.sh" >"$log" 2>&1
		echo $? >"$log.rc"
	}
	export -f run_one
	export root logdir
	if [ ${#names[@]} -gt 0 ]; then
		printf '%s\n' "${names[@]}" |
			xargs -P "${SV_INTEGRATION_JOBS:-2}" -I{} bash -c 'run_one "$1"' _ {}
	fi
	for name in "${names[@]}"; do
		log=$logdir/${name//\//_}.log
		parse_tap "integration/$name" "$log" "$(cat "$log.rc" 2>/dev/null || echo 255)"
	done
	;;
fuzz)
	runs=${SV_FUZZ_RUNS:-20000}
	for t in "$build"/tests/fuzz/*_fuzz; do
		[ -x "$t" ] || continue
		name=$(basename "$t")
		[[ $name == $glob ]] || continue
		corpus=$(mktemp -d)
		[ -d "$root/tests/fuzz/corpus/$name" ] && cp -r "$root/tests/fuzz/corpus/$name/." "$corpus/"
		if timeout -k 5 300 "$t" -runs="$runs" -max_total_time=60 -rss_limit_mb=2048 \
			-max_len=65536 "$corpus" >"$logdir/$name.log" 2>&1; then
			record PASS "fuzz/$name" 
		else
			record FAIL "fuzz/$name" "$(grep -m1 -E 'ERROR|SUMMARY|deadly' "$logdir/$name.log")"
		fi
		rm -rf "$corpus"
	done
	;;
*)
	echo "run-tier: unknown tier '$tier'" >&2
	exit 2
	;;
esac

if [ $own_summary -eq 1 ]; then
	bash "$root/tests/summary.sh" "$SV_RESULTS"
fi
