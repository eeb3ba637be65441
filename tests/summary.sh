#!/usr/bin/env bash
# Sums result files written by run-tier.sh into the one closing line; exits 1 on any failure.
set -uo pipefail
p=0 f=0 s=0
for file in "$@"; do
	[ -f "$file" ] || continue
	p=$((p + $(grep -c '^PASS ' "$file")))
	f=$((f + $(grep -c '^FAIL ' "$file")))
	s=$((s + $(grep -c '^SKIP ' "$file")))
done
if [ $f -gt 0 ]; then
	echo
	echo "failed tests:"
	cat "$@" 2>/dev/null | grep '^FAIL ' | sed 's/^/  /'
fi
echo "$p passed, $f failed, $s skipped"
[ $f -eq 0 ] && [ $((p + s)) -gt 0 ]
