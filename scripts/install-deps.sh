#!/bin/sh
# Installs fgtrace's build and test dependencies from Debian/Ubuntu packages when
# they are missing. A no-op when everything is present; prints the package list
# when it cannot install them.
set -u

PACKAGES="build-essential pkg-config libdw-dev libelf-dev libunwind-dev zlib1g-dev
libiberty-dev libcmocka-dev elfutils debuginfod golang-go python3 clang man-db"

missing=""
need() { missing="$missing $1"; }

for pc in libdw libelf libunwind-ptrace zlib cmocka; do
	pkg-config --exists "$pc" 2>/dev/null || { need pc:$pc; break; }
done
command -v pkg-config >/dev/null 2>&1 || need pkg-config
[ -f /usr/include/libiberty/demangle.h ] || need libiberty
for cmd in cc eu-stack debuginfod go python3 clang man; do
	command -v "$cmd" >/dev/null 2>&1 || need "$cmd"
done

[ -z "$missing" ] && exit 0

echo "fgtrace: missing build dependencies:$missing"
if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "fgtrace: cannot install them (not root, no sudo). Install these packages:" >&2
	echo "  $PACKAGES" | tr '\n' ' ' >&2
	echo >&2
	exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "fgtrace: no apt-get here. Install the equivalents of these Debian packages:" >&2
	echo "  $PACKAGES" | tr '\n' ' ' >&2
	echo >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq &&
	$SUDO apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null || {
	echo "fgtrace: apt-get failed. Install these packages by hand:" >&2
	echo "  $PACKAGES" | tr '\n' ' ' >&2
	echo >&2
	exit 1
}
