#!/usr/bin/env python3
"""make_seeds.py - write the seed corpora in fuzz/corpus/<harness>/.

Each seed is one well-formed call of the protocol the harness feeds (see
fuzz.h for the symbolic handles, fh(N)).  Run from the source tree after
changing a harness's input format:  python3 fuzz/make_seeds.py
Seeds added by hand (crash regressions, named crash-*) are kept.
"""
import os
import struct
import sys

ROOT, FILE, DIR, LINK, UPPER = range(5)


def u32(v):
    return struct.pack(">I", v & 0xffffffff)


def u64(v):
    return struct.pack(">Q", v)


def opaque(b):
    if isinstance(b, str):
        b = b.encode()
    return u32(len(b)) + b + b"\0" * ((4 - len(b) % 4) % 4)


def fh(n):
    """A symbolic handle: the fixture substitutes the real one."""
    return u32(8) + b"UNFH" + u32(n)


def sattr3(mode=None, size=None):
    s = (u32(1) + u32(mode)) if mode is not None else u32(0)
    s += u32(0) + u32(0)  # uid, gid
    s += (u32(1) + u64(size)) if size is not None else u32(0)
    return s + u32(0) + u32(0)  # atime, mtime: don't change


NFS3 = {
    "null": (0, b""),
    "getattr": (1, fh(ROOT)),
    "setattr": (2, fh(UPPER) + sattr3(0o644, 3) + u32(0)),
    "lookup": (3, fh(ROOT) + opaque("file")),
    "lookup_dotdot": (3, fh(DIR) + opaque("..")),
    "access": (4, fh(FILE) + u32(0x3f)),
    "readlink": (5, fh(LINK)),
    "read": (6, fh(FILE) + u64(0) + u32(100)),
    "write": (7, fh(UPPER) + u64(0) + u32(5) + u32(2) + opaque("hello")),
    "write_copyup": (7, fh(FILE) + u64(4) + u32(3) + u32(0) + opaque("abc")),
    "create": (8, fh(ROOT) + opaque("c1") + u32(0) + sattr3(0o600)),
    "create_excl": (8, fh(ROOT) + opaque("c2") + u32(2) + b"verifier"),
    "mkdir": (9, fh(ROOT) + opaque("d1") + sattr3(0o755)),
    "symlink": (10, fh(ROOT) + opaque("s1") + sattr3(0o777) + opaque("file")),
    "mknod": (11, fh(ROOT) + opaque("p1") + u32(7) + sattr3(0o644)),
    "remove": (12, fh(ROOT) + opaque("file")),
    "rmdir": (13, fh(ROOT) + opaque("dir")),
    "rename": (14, fh(ROOT) + opaque("new") + fh(DIR) + opaque("new2")),
    "link": (15, fh(FILE) + fh(ROOT) + opaque("hl")),
    "readdir": (16, fh(ROOT) + u64(0) + b"\0" * 8 + u32(4096)),
    "readdirplus": (17, fh(ROOT) + u64(0) + b"\0" * 8 + u32(1024) + u32(8192)),
    "fsstat": (18, fh(ROOT)),
    "fsinfo": (19, fh(ROOT)),
    "pathconf": (20, fh(ROOT)),
    "commit": (21, fh(UPPER) + u64(0) + u32(0)),
    "getattr_forged": (1, opaque(bytes(range(40)))),
}

MOUNT = {
    "null": (0, b""),
    "mnt": (1, opaque("/export")),
    "mnt_ro": (1, opaque("/ro")),
    "mnt_sub": (1, opaque("/export/dir")),
    "dump": (2, b""),
    "umnt": (3, opaque("/export")),
    "umntall": (4, b""),
    "export": (5, b""),
    "mnt_v1": (0x81, opaque("/export")),
}


def nlm_lock(fhn=FILE, off=0, length=10):
    return (opaque("fuzzhost") + fh(fhn) + opaque("owner1") + u32(42)
            + u64(off) + u64(length))


COOKIE = opaque(b"\1\2\3\4")
NLM = {
    "null": (0, b""),
    "test": (1, COOKIE + u32(1) + nlm_lock()),
    "lock": (2, COOKIE + u32(0) + u32(1) + nlm_lock() + u32(0) + u32(3)),
    "lock_block": (2, COOKIE + u32(1) + u32(1) + nlm_lock(UPPER) + u32(0)
                   + u32(3)),
    "cancel": (3, COOKIE + u32(0) + u32(1) + nlm_lock()),
    "unlock": (4, COOKIE + nlm_lock()),
    "granted_res": (15, COOKIE + u32(0)),
    "share": (20, COOKIE + opaque("fuzzhost") + fh(FILE) + opaque("owner1")
              + u32(1) + u32(1) + u32(0)),
    "unshare": (21, COOKIE + opaque("fuzzhost") + fh(FILE) + opaque("owner1")
                + u32(1) + u32(1) + u32(0)),
    "nm_lock": (22, COOKIE + u32(0) + u32(1) + nlm_lock() + u32(0) + u32(3)),
    "free_all": (23, opaque("fuzzhost") + u32(5)),
}

# NFSv4 operations
ATTRS = u32(2) + u32(0x0010011a) + u32(0x00b0a23a)  # bitmap4
STATEID0 = u32(0) + b"\0" * 12


def compound(minor, *ops, tag="fuzz"):
    return opaque(tag) + u32(minor) + u32(len(ops)) + b"".join(ops)


def op(num, args=b""):
    return u32(num) + args


PUTROOTFH, GETFH, GETATTR, PUTFH, LOOKUP, LOOKUPP = (op(24), op(10),
                                                     op(9, ATTRS), 22, 15,
                                                     op(16))
SAVEFH, RESTOREFH = op(32), op(31)


def lookup(name):
    return op(15, opaque(name))


def putfh(n):
    return op(22, fh(n))


def fattr(mask_words=(0, 0), vals=b""):
    return u32(len(mask_words)) + b"".join(u32(w) for w in mask_words) \
        + opaque(vals)


def open_args(name, create):
    how = u32(1) + u32(0) + fattr((0, 2), u32(0o644)) if create else u32(0)
    return op(18, u32(0) + u32(2) + u32(0) + u64(1) + opaque("oowner")
              + how + u32(0) + opaque(name))


NFS4 = {
    "null_compound": compound(0),
    "rootfh_getattr": compound(0, PUTROOTFH, GETFH, GETATTR),
    "lookup_export": compound(0, PUTROOTFH, lookup("export"), GETFH, GETATTR),
    "putfh_read": compound(0, putfh(FILE), op(25, STATEID0 + u64(0) + u32(64))),
    "lookup_readlink": compound(0, putfh(ROOT), lookup("link"), op(27)),
    "lookupp_access": compound(0, putfh(DIR), LOOKUPP, op(3, u32(0x3f))),
    "readdir": compound(0, putfh(ROOT), op(26, u64(0) + b"\0" * 8 + u32(1024)
                                           + u32(8192) + ATTRS)),
    "setclientid": compound(0, op(35, b"verifier" + opaque("fuzzclient")
                                  + u32(0x40000000) + opaque("tcp")
                                  + opaque("127.0.0.1.3.1") + u32(1))),
    "open_nocreate": compound(0, putfh(ROOT), open_args("file", False), GETFH),
    "open_create": compound(0, putfh(ROOT), open_args("o1", True), GETFH),
    "write_commit": compound(0, putfh(UPPER),
                             op(38, STATEID0 + u64(0) + u32(2)
                                + opaque("hello")),
                             op(5, u64(0) + u32(0))),
    "create_dir": compound(0, putfh(ROOT),
                           op(6, u32(2) + opaque("nd") + fattr())),
    "create_link": compound(0, putfh(ROOT),
                            op(6, u32(5) + opaque("target") + opaque("nl")
                               + fattr())),
    "rename": compound(0, putfh(ROOT), SAVEFH, putfh(DIR),
                       op(29, opaque("new") + opaque("moved"))),
    "link": compound(0, putfh(FILE), SAVEFH, putfh(ROOT),
                     op(11, opaque("hard"))),
    "remove": compound(0, putfh(ROOT), op(28, opaque("file"))),
    "setattr": compound(0, putfh(UPPER),
                        op(34, STATEID0 + fattr((0x10, 0), u64(2)))),
    "lock_locku": compound(0, putfh(UPPER),
                           op(12, u32(2) + u32(0) + u64(0) + u64(10) + u32(1)
                              + u32(0) + STATEID0 + u32(0) + u64(1)
                              + opaque("lowner")),
                           op(14, u32(2) + u32(0) + STATEID0 + u64(0)
                              + u64(10))),
    "secinfo": compound(0, putfh(ROOT), op(33, opaque("file"))),
    "verify": compound(0, putfh(FILE), op(37, fattr((0x10, 0), u64(17)))),
    "exchange_id": compound(1, op(42, b"verifier" + opaque("fuzzowner")
                                  + u32(0) + u32(0) + u32(0))),
    "create_session": compound(1, op(43, u64(1) + u32(1) + u32(0)
                                     + (u32(0) + u32(1048576) * 2
                                        + u32(8192) + u32(8) + u32(8)
                                        + u32(0)) * 2
                                     + u32(0x40000000) + u32(0))),
    "sequence": compound(1, op(53, b"\0" * 16 + u32(1) + u32(0) + u32(0)
                               + u32(0)), PUTROOTFH, GETATTR),
    "minor2_getattr": compound(2, PUTROOTFH, GETATTR),
    "bad_minor": compound(7, PUTROOTFH),
}


def rpc_call(xid, prog, vers, proc, args, cred=None):
    if cred is None:
        cred = u32(1) + opaque(u32(0) + opaque("fuzz") + u32(0) + u32(0)
                               + u32(0))
    return (u32(xid) + u32(0) + u32(2) + u32(prog) + u32(vers) + u32(proc)
            + cred + u32(0) + u32(0) + args)


AUTH_NONE = u32(0) + u32(0)
RPC = {
    "nfs_null": rpc_call(1, 100003, 3, 0, b"", AUTH_NONE),
    "nfs3_getattr": rpc_call(2, 100003, 3, 1, fh(ROOT)),
    "nfs3_lookup_user": rpc_call(3, 100003, 3, 3, fh(ROOT) + opaque("dir"),
                                 u32(1) + opaque(u32(7) + opaque("host")
                                                 + u32(1000) + u32(1000)
                                                 + u32(2) + u32(4) + u32(27))),
    "nfs3_create": rpc_call(4, 100003, 3, 8, fh(ROOT) + opaque("r1") + u32(0)
                            + sattr3(0o644)),
    "nfs4_compound": rpc_call(5, 100003, 4, 1, NFS4["lookup_export"]),
    "mount_mnt": rpc_call(6, 100005, 3, 1, opaque("/export")),
    "nlm_test": rpc_call(7, 100021, 4, 1, NLM["test"][1]),
    "bad_rpcvers": u32(8) + u32(0) + u32(3) + u32(100003) + u32(3) + u32(0),
    "prog_unavail": rpc_call(9, 100099, 1, 0, b""),
    "prog_mismatch": rpc_call(10, 100003, 9, 0, b""),
    "proc_unavail": rpc_call(11, 100003, 3, 99, b""),
    "bad_cred": rpc_call(12, 100003, 3, 0, b"", u32(1) + opaque(b"\0" * 8)),
    "reply_not_call": u32(13) + u32(1) + u32(0),
}



# RPCSEC_GSS (RFC 2203): the credential body is version, gss_proc (DATA 0,
# INIT 1, CONTINUE_INIT 2, DESTROY 3), seq_num, service (none 1,
# integrity 2, privacy 3) and the context handle.
RPCSEC_GSS, AUTH_TLS = 6, 7


def gss_cred(proc, seq, svc, handle=b""):
    return u32(RPCSEC_GSS) + opaque(u32(1) + u32(proc) + u32(seq) + u32(svc)
                                    + opaque(handle))


def rpc_call_verf(xid, prog, vers, proc, args, cred, verf):
    return (u32(xid) + u32(0) + u32(2) + u32(prog) + u32(vers) + u32(proc)
            + cred + verf + args)


# Handles of no context the server made: slot 0 and a random tail.
GSS_HANDLE = u32(0) + bytes(range(1, 13))
# A Kerberos v5 MIC token's shape (RFC 4121: TOK_ID 04 04, flags, filler,
# sequence number, HMAC): garbage to the acceptor, but of the right kind.
GSS_MIC = b"\x04\x04\x00\xff\xff\xff\xff\xff" + u64(1) + b"\x5a" * 12
GSS_VERF = u32(RPCSEC_GSS) + opaque(GSS_MIC)
# An AP-REQ-looking token (ASN.1 application tag 0x60, the krb5 mech OID),
# then garbage: what a client's first gss_init_sec_context() output
# starts with.
KRB5_OID = b"\x06\x09\x2a\x86\x48\x86\xf7\x12\x01\x02\x02"
GSS_TOKEN = b"\x60\x30" + KRB5_OID + b"\x01\x00" + bytes(range(35))
# GETATTR's arguments as krb5i sends them: databody_integ (the sequence
# number and the arguments) and its MIC.
KRB5I_GETATTR = opaque(u32(3) + fh(ROOT)) + opaque(GSS_MIC)
# NFSACL (program 100227 v3): ACE types as POSIX tags, 0x1000 default.
NFSACL_MASK_ALL = 0xf


def ace(tag, ident, perm):
    return u32(tag) + u32(ident) + u32(perm)


ACL_ACCESS = (u32(4) + u32(4) + ace(0x01, 0, 6) + ace(0x04, 0, 4)
              + ace(0x10, 0, 6) + ace(0x20, 0, 4))
ACL_EXTENDED = (u32(5) + u32(5) + ace(0x01, 0, 7) + ace(0x02, 1000, 6)
                + ace(0x04, 0, 5) + ace(0x10, 0, 7) + ace(0x20, 0, 0))
ACL_DEFAULT = (u32(4) + u32(4) + ace(0x1001, 0, 7) + ace(0x1004, 0, 5)
               + ace(0x1010, 0, 7) + ace(0x1020, 0, 5))
NO_ACL = u32(0) + u32(0)

RPC.update({
    "gss_init_garbage_token": rpc_call(
        20, 100003, 3, 0, opaque(GSS_TOKEN), gss_cred(1, 0, 1)),
    "gss_init_empty_token": rpc_call(
        21, 100003, 4, 0, opaque(b""), gss_cred(1, 0, 2)),
    "gss_continue_unknown_handle": rpc_call(
        22, 100003, 3, 0, opaque(GSS_TOKEN), gss_cred(2, 0, 1, GSS_HANDLE)),
    "gss_data_unknown_handle": rpc_call_verf(
        23, 100003, 3, 1, fh(ROOT), gss_cred(0, 1, 1, GSS_HANDLE),
        GSS_VERF),
    "gss_data_krb5i_shape": rpc_call_verf(
        24, 100003, 3, 1, KRB5I_GETATTR, gss_cred(0, 3, 2, GSS_HANDLE),
        GSS_VERF),
    "gss_data_krb5p_shape": rpc_call_verf(
        25, 100003, 3, 1, opaque(b"\x05\x04\x06\xff" + bytes(range(60))),
        gss_cred(0, 4, 3, GSS_HANDLE), GSS_VERF),
    "gss_destroy_unknown_handle": rpc_call_verf(
        26, 100003, 3, 0, b"", gss_cred(3, 5, 1, GSS_HANDLE), GSS_VERF),
    "gss_bad_version": rpc_call(
        27, 100003, 3, 0, b"", u32(RPCSEC_GSS) + opaque(
            u32(2) + u32(1) + u32(0) + u32(1) + opaque(b""))),
    "gss_seq_max": rpc_call_verf(
        28, 100003, 3, 1, fh(ROOT),
        gss_cred(0, 0x80000000, 1, GSS_HANDLE), GSS_VERF),
    "auth_tls_probe": rpc_call(29, 100003, 3, 0, b"",
                               u32(AUTH_TLS) + opaque(b"")),
    "auth_tls_probe_mount": rpc_call(30, 100005, 3, 0, b"",
                                     u32(AUTH_TLS) + opaque(b"")),
    "auth_tls_not_null": rpc_call(31, 100003, 3, 1, fh(ROOT),
                                  u32(AUTH_TLS) + opaque(b"")),
    "nfsacl_null": rpc_call(32, 100227, 3, 0, b"", AUTH_NONE),
    "nfsacl_getacl": rpc_call(33, 100227, 3, 1,
                              fh(FILE) + u32(NFSACL_MASK_ALL)),
    "nfsacl_getacl_dir": rpc_call(34, 100227, 3, 1,
                                  fh(DIR) + u32(NFSACL_MASK_ALL)),
    "nfsacl_setacl": rpc_call(35, 100227, 3, 2,
                              fh(UPPER) + u32(1) + ACL_EXTENDED + NO_ACL),
    "nfsacl_setacl_default": rpc_call(36, 100227, 3, 2,
                                      fh(DIR) + u32(5) + ACL_ACCESS
                                      + ACL_DEFAULT),
    "nfsacl_setacl_lower": rpc_call(37, 100227, 3, 2,
                                    fh(FILE) + u32(1) + ACL_ACCESS + NO_ACL),
    "nfsacl_setacl_count_mismatch": rpc_call(
        38, 100227, 3, 2, fh(UPPER) + u32(1) + u32(4) + u32(1)
        + ace(0x01, 0, 7) + NO_ACL),
    "nfsacl_v2": rpc_call(39, 100227, 2, 1, fh(FILE) + u32(1)),
})

CONFIG = {
    "example": """listen 127.0.0.1:2049
catalog "/tmp/unionnfsd-fuzz-none/catalog.db"
workers 8
max-record 1048576
max-connections 100
idle-timeout 300
udp yes
grace 90
rpcbind no
log-level info

export "/export" {
	lower "/tmp" "/"	# top-most first
	upper "/tmp"
	work "/tmp"
	userxattr no
	versions 3 4
	clients "127.0.0.0/8(rw,no_root_squash,secure) *(ro)"
}

export "/images" {
	lower "/"
	clients "10.0.0.0/8(ro,all_squash,anonuid=1000,anongid=1000) ::1 [::1]/128(rw)"
}
""",
    "escapes": 'export "/a b\\"c" {\n\tlower "/" \n\tclients "*(rw,root_squash)"\n}\n',
    "errors": 'listen [::1]:99999\nworkers -1\nexport "/x" {\n\tupper\n}\n}\n',
}



# fuzz_record: 2 bytes max record size - 1, a count k of cut bytes, k cut
# bytes (chunk length; top bit: written in place), then the byte stream.
def frag(data, last):
    return u32(len(data) | (0x80000000 if last else 0)) + data


def record_input(max_record, cuts, stream):
    return struct.pack(">HB", max_record - 1, len(cuts)) + bytes(cuts) + stream


RECORD = {
    "single": record_input(1024, [], frag(b"hello world!", True)),
    "multi_fragment": record_input(
        1024, [3, 0x85, 1, 0x90],
        frag(b"abc", False) + frag(b"defgh", False) + frag(b"ij", True)
        + frag(b"second", True)),
    "zero_length_fragment": record_input(
        1024, [2, 7],
        frag(b"", False) + frag(b"xyz", False) + frag(b"", True)
        + frag(b"next", True)),
    "empty_record": record_input(1024, [], frag(b"ok", True) + frag(b"", True)),
    "oversize": record_input(
        64, [5], frag(b"a" * 40, False) + frag(b"b" * 40, True)),
    "oversize_header": record_input(1024, [1], u32(0xffffffff) + b"xx"),
    "truncated": record_input(
        1024, [0x88], frag(b"complete", True) + u32(0x80000100) + b"partial"),
}


def write(harness, name, data):
    d = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus",
                     harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    for name, (proc, args) in NFS3.items():
        write("nfs3", name, bytes([proc]) + args)
    for name, (proc, args) in MOUNT.items():
        write("mount", name, bytes([proc]) + args)
    for name, (proc, args) in NLM.items():
        write("nlm", name, bytes([proc]) + args)
    for name, args in NFS4.items():
        write("nfs4", name, args)
    for name, rec in RPC.items():
        write("rpc", name, rec)
    for name, text in CONFIG.items():
        write("config", name, text.encode())
    for name, data in RECORD.items():
        write("record", name, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
