#!/usr/bin/env bash
# make test: builds, then runs every tier (unit, integration, fuzz smoke) on the
# default build and the unit and integration tiers again on the ASan+UBSan
# build, and ends with one line "N passed, N failed, N skipped".
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
results=$root/build/results.txt
mkdir -p build
: >"$results"
export SV_RESULTS=$results
jobs=${SV_JOBS:-$(nproc)}

step() { echo; echo "== $*"; }
build_failed() { # NAME
	echo "FAIL build/$1: see the compiler output above" | tee -a "$results"
}

step "build (default)"
if make --no-print-directory -j"$jobs" all unit-bins >build/make.log 2>&1; then
	step "unit tests"
	bash tests/run-tier.sh unit build
	step "integration tests"
	bash tests/run-tier.sh integration build
else
	tail -n 40 build/make.log
	build_failed default
fi

step "build (ASan+UBSan)"
if make --no-print-directory -j"$jobs" SAN=1 all unit-bins >build/make-san.log 2>&1; then
	export SV_RESULT_PREFIX="san:" SV_SAN=1
	step "unit tests (sanitizers)"
	bash tests/run-tier.sh unit build/san
	step "integration tests (sanitizers)"
	bash tests/run-tier.sh integration build/san
	unset SV_RESULT_PREFIX SV_SAN
else
	tail -n 40 build/make-san.log
	build_failed san
fi

step "fuzz smoke"
if make --no-print-directory -j"$jobs" FUZZ=1 fuzz-bins >build/make-fuzz.log 2>&1; then
	bash tests/run-tier.sh fuzz build/fuzz
else
	tail -n 40 build/make-fuzz.log
	build_failed fuzz
fi

echo
bash tests/summary.sh "$results"
