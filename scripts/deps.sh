#!/bin/sh
# deps.sh - install the Debian 12 packages unionnfsd needs.
#   scripts/deps.sh          build and run dependencies
#   scripts/deps.sh --test   also what the test suite needs (libnfs, clang and
#                            libclang-rt-14-dev for libFuzzer (fuzz/), attr,
#                            rpcbind + nfs-common for rpcinfo/showmount,
#                            iproute2 for a test's private network namespace,
#                            krb5-kdc, krb5-admin-server, krb5-user for the
#                            Kerberos test's throwaway KDC, xfsprogs for
#                            the reflink copy-up test (XFS in a loop file),
#                            and the kernel-client guest from ../shared/kclient)
set -eu
BUILD="autoconf automake pkg-config make gcc libtirpc-dev rpcsvc-proto libevent-dev libsqlite3-dev libgnutls28-dev libkrb5-dev"
TEST="clang libnfs-dev libnfs-utils attr libclang-rt-14-dev rpcbind nfs-common iproute2 krb5-kdc krb5-admin-server krb5-user xfsprogs"
want=$BUILD
[ "${1:-}" = --test ] && want="$BUILD $TEST"
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "deps: installing$missing" >&2
	[ "$(id -u)" = 0 ] || { echo "deps: need root to install:$missing" >&2; exit 1; }
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
