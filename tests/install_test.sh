#!/bin/bash
# install_test.sh - `make install DESTDIR=...` from this build: the program,
# man pages, systemd unit and sample configuration land where configure
# said, with the configured paths inside; the state directory is private;
# an administrator's configuration survives a reinstall and an uninstall;
# the installed daemon checks the sample and serves a union; uninstall
# removes everything install put there.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

B=$(cd "$(dirname "$UNIONNFSD")" && pwd)
# Not the outer `make check`'s flags, jobserver or variables.
bmake() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -C "$B" "$@"; }
command -v nfs-cat >/dev/null || { echo "# nfs-cat not installed (scripts/deps.sh --test)"; exit 77; }

dirs=$(bmake -s install-dirs) || { echo "# make install-dirs failed"; exit 99; }
eval "$dirs"
echo "# sbindir=$sbindir sysconfdir=$sysconfdir localstatedir=$localstatedir"
echo "# mandir=$mandir docdir=$docdir systemdsystemunitdir=$systemdsystemunitdir"
ud_init install
DEST=$D/dest
trap ud_cleanup EXIT
bmake install DESTDIR="$DEST" >"$D/install.log" 2>&1 ||
	{ echo "# make install failed:"; sed 's/^/#   /' "$D/install.log"; exit 99; }

mode() { stat -c %a "$1" 2>/dev/null; }
check_eq "program installed, mode 755" "$(mode "$DEST$sbindir/unionnfsd")" 755
check_eq "unionnfsd(8) installed" "$(mode "$DEST$mandir/man8/unionnfsd.8")" 644
check_eq "unionnfsd.conf(5) installed" "$(mode "$DEST$mandir/man5/unionnfsd.conf.5")" 644
check_eq "state directory for catalogs, mode 700" \
	"$(mode "$DEST$localstatedir/lib/unionnfsd")" 700
conf=$DEST$sysconfdir/unionnfsd.conf
check_eq "sample configuration installed, mode 644" "$(mode "$conf")" 644
check "the same sample in docdir" cmp -s "$conf" "$DEST$docdir/unionnfsd.conf"
check_eq "sample's catalog in the configured state directory" \
	"$(grep '^catalog ' "$conf")" "catalog $localstatedir/lib/unionnfsd/catalog.db"
check_eq "installed program checks the sample" \
	"$("$DEST$sbindir/unionnfsd" --check-config "$conf" 2>&1)" "$conf: OK"
check "default catalog is the configured state directory (--help)" \
	grep -qF "(default $localstatedir/lib/unionnfsd/catalog.db)" \
	<("$DEST$sbindir/unionnfsd" --help)

if [ "$systemdsystemunitdir" != no ]; then
	unit=$DEST$systemdsystemunitdir/unionnfsd.service
	check_eq "systemd unit installed, mode 644" "$(mode "$unit")" 644
	check_eq "unit: Type=notify" "$(grep '^Type=' "$unit")" "Type=notify"
	check_eq "unit: ExecStart with the configured paths" \
		"$(grep '^ExecStart=' "$unit")" \
		"ExecStart=$sbindir/unionnfsd -f -c $sysconfdir/unionnfsd.conf"
	check_eq "unit: ExecReload sends SIGHUP" "$(grep '^ExecReload=' "$unit")" \
		'ExecReload=/bin/kill -HUP $MAINPID'
	check_eq "unit: no placeholder left" "$(grep -c '@[a-z]*@' "$unit")" 0
	if command -v systemd-analyze >/dev/null; then
		# verify wants the programs named in the unit where they will be
		sed "s|$sbindir/unionnfsd|$DEST$sbindir/unionnfsd|g" "$unit" >"$D/unionnfsd.service"
		check "systemd-analyze verify accepts the unit" \
			systemd-analyze verify --man=no "$D/unionnfsd.service"
	fi
fi

# The administrator's own configuration is never replaced.
echo "# edited by the administrator" >>"$conf"
cp "$conf" "$D/edited"
bmake install DESTDIR="$DEST" >"$D/install2.log" 2>&1 || { echo "# reinstall failed"; exit 99; }
check "reinstall keeps an edited configuration" cmp -s "$conf" "$D/edited"
check "reinstall says so" grep -q "unionnfsd.conf exists: kept" "$D/install2.log"

# The installed program serves a union.
echo "installed and serving" >"$D/lower/hello.txt"
UNIONNFSD=$DEST$sbindir/unionnfsd ud_start || exit 99
check_eq "nfs-cat from the installed daemon" \
	"$(nfs-cat "nfs://127.0.0.1/export/hello.txt?version=3&nfsport=$PORT&mountport=$PORT")" \
	"installed and serving"
check "installed daemon stops cleanly" ud_stop

# Uninstall: everything but an edited configuration goes.
bmake uninstall DESTDIR="$DEST" >"$D/uninstall.log" 2>&1 || { echo "# make uninstall failed"; exit 99; }
check_eq "uninstall leaves only the edited configuration" \
	"$(cd "$DEST" && find . -type f | sort)" ".$sysconfdir/unionnfsd.conf"
bmake install DESTDIR="$DEST" >/dev/null 2>&1 &&
	cp "$B/dist/unionnfsd.conf" "$conf" &&
	bmake uninstall DESTDIR="$DEST" >/dev/null 2>&1
check_eq "uninstall removes an unmodified sample" "$(cd "$DEST" && find . -type f)" ""
finish
