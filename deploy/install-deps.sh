#!/usr/bin/env bash
# Installs every build and test dependency of splitvirt on Debian 12 with apt-get.
# Idempotent: prints nothing and exits 0 when everything is already present.
set -euo pipefail

PACKAGES=(
	# build
	build-essential pkg-config clang libclang-rt-14-dev clang-format
	libfuse3-dev fuse3 libssl-dev openssl liburing-dev libaio-dev libseccomp-dev
	libnl-3-dev libnl-route-3-dev libfdt-dev libjson-c-dev libxml2-dev libinih-dev
	libcmocka-dev
	# lab and integration tests
	iproute2 iputils-ping util-linux python3 procps psmisc socat attr xxd coreutils kmod python3
	# peers measured by the benchmarks and checked by the tests
	openssh-client openssh-server sshfs qemu-system-x86 acpica-tools fio
	libvirt-daemon libvirt-daemon-driver-qemu libvirt-daemon-system libvirt-clients
)

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages (${missing[*]}); run this script as root to install them" >&2
	exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || { echo "install-deps: apt-get update failed" >&2; exit 1; }
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
	{ echo "install-deps: apt-get install failed for: ${missing[*]}" >&2; exit 1; }
