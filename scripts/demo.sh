#!/bin/sh
# demo.sh - install what unionnfsd needs, build it, and serve a demo union
# on loopback: a small lower layer made here and an empty upper layer.
#
#   scripts/demo.sh          start (as root)
#   scripts/demo.sh stop     stop it
#   DEMO_DIR=/tmp/unionnfsd-demo DEMO_PORT=2049 override the defaults
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${DEMO_DIR:-/tmp/unionnfsd-demo}
port=${DEMO_PORT:-2049}
build=$top/build-demo

if [ "${1:-}" = stop ]; then
	if [ -f "$dir/unionnfsd.pid" ] && kill "$(cat "$dir/unionnfsd.pid")" 2>/dev/null; then
		echo "demo: stopped unionnfsd (layers kept in $dir)"
	else
		echo "demo: not running"
	fi
	exit 0
fi

"$top/scripts/deps.sh"
(cd "$top" && autoreconf -fi >/dev/null 2>&1)
mkdir -p "$build"
(cd "$build" && { [ -f Makefile ] || "$top/configure" -q; } && make -s -j"$(nproc)" unionnfsd unionnfsctl)

mkdir -p "$dir/lower/docs" "$dir/upper" "$dir/work"
if [ ! -f "$dir/lower/hello.txt" ]; then
	echo "hello from the read-only lower layer" >"$dir/lower/hello.txt"
	echo "copy me up by writing to me" >"$dir/lower/docs/readme.txt"
	ln -sf hello.txt "$dir/lower/link-to-hello"
fi
# The embedded default configuration; see unionnfsd.conf(5).
cat >"$dir/unionnfsd.conf" <<CONF
listen 127.0.0.1:$port
catalog "$dir/catalog.db"
pidfile "$dir/unionnfsd.pid"
control "$dir/control"
export "/export" {
	lower "$dir/lower"
	upper "$dir/upper"
	work "$dir/work"
	clients "127.0.0.0/8(rw,no_root_squash)"
}
CONF
"$build/unionnfsd" -c "$dir/unionnfsd.conf"
cat <<MSG
demo: unionnfsd serves $dir/lower (read-only) + $dir/upper as /export on 127.0.0.1:$port
  mount:  mount -t nfs -o vers=3,proto=tcp,port=$port,mountport=$port,mountproto=tcp,nolock 127.0.0.1:/export /mnt
  libnfs: nfs-ls "nfs://127.0.0.1/export?version=3&nfsport=$port&mountport=$port"
          nfs-cat "nfs://127.0.0.1/export/hello.txt?version=3&nfsport=$port&mountport=$port"
  watch:  $build/unionnfsctl -s $dir/control stats
  stop:   $0 stop
MSG
