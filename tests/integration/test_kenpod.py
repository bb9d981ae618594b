"""kenpod through its socket: lookups, bad input, a directory that restarts or
goes away, concurrency and the cache.

The module runs its own sandbox (slapd, mail sink and kenpod in one
directory), because some tests stop slapd or restart kenpod with other
settings.  kenpod's stderr goes to DIR/kenpod.log; a sanitizer report in
it fails the test during which it appeared.
"""

import concurrent.futures
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import pytest

import kenpoproto as kp
import kenposandbox as ks
from conftest import check_kenpod, start_sandbox

NICKNAME = "アリスさん"
REAL_CN = "本名 有子"
REAL_SN = "本名"


# ---- fixtures ------------------------------------------------------------------

@pytest.fixture(scope="module")
def sb(tmp_path_factory, builddir):
    s = start_sandbox(tmp_path_factory, builddir, "kpd")
    yield s
    s.down()


@pytest.fixture(autouse=True)
def kenpod_healthy(sb):
    """After each test: kenpod still runs and reported nothing."""
    yield
    check_kenpod(sb)
    if not sb.slapd_alive():
        sb.start_slapd()


@pytest.fixture(scope="module")
def members(sb):
    """One member of each kind, looked up by the tests below."""
    return {
        "alice": sb.add_member("Alice.Smith", nickname=NICKNAME, cn=REAL_CN, sn=REAL_SN),
        "preissued": sb.add_preissued_member(),
        "disabled": sb.add_disabled_member("Bob.Disabled"),
    }


def client(sb, timeout=10.0):
    return kp.Client(sb.kenpod_socket, timeout=timeout)


def lookup(sb, name):
    with client(sb) as c:
        return c.byname(name)


def wait_for(pred, timeout=10.0, step=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def flush(sb):
    with client(sb) as c:
        assert c.cache_flush() == kp.OK


# ---- control ---------------------------------------------------------------------

def test_ping(sb):
    with client(sb) as c:
        result, version = c.ping()
    assert result == kp.OK
    assert version and version[0].isdigit()


def test_several_requests_on_one_connection(sb, members):
    with client(sb) as c:
        for _ in range(5):
            assert c.ping()[0] == kp.OK
            assert c.byname("Alice.Smith")[0] == kp.OK


def test_unknown_action_keeps_connection(sb):
    with client(sb) as c:
        c.send_raw(kp.frame(0x00097777))
        action, result, _ = c.recv_answer()
        assert (action, result) == (0x00097777, kp.UNKNOWN)
        assert c.ping()[0] == kp.OK


# ---- PASSWD_BYNAME / PASSWD_BYUID ----------------------------------------------

def test_byname_found(sb, members):
    alice = members["alice"]
    result, rec = lookup(sb, "Alice.Smith")
    assert result == kp.OK
    assert rec == {
        "name": "Alice.Smith", "passwd": "x", "uid": alice["uid_number"], "gid": 100,
        "gecos": NICKNAME, "home": "/home/Alice.Smith", "shell": "/bin/bash",
    }


@pytest.mark.parametrize("key", ["alice.smith", "ALICE.SMITH", "aLiCe.SmItH"])
def test_byname_other_case_is_not_found(sb, members, key):
    """Names are exact, as in /etc/passwd: a program never gets a record
    whose pw_name is not the name it asked for."""
    assert lookup(sb, key)[0] == kp.NOTFOUND
    result, rec = lookup(sb, "Alice.Smith")
    assert result == kp.OK
    assert rec["name"] == "Alice.Smith"
    assert rec["home"] == "/home/Alice.Smith"


def test_byuid_found(sb, members):
    with client(sb) as c:
        result, rec = c.byuid(members["alice"]["uid_number"])
    assert result == kp.OK
    assert rec["name"] == "Alice.Smith"


def test_gecos_is_nickname_never_real_name(sb, members):
    for key in ("Alice.Smith", members["alice"]["uid_number"]):
        with client(sb) as c:
            result, rec = c.byname(key) if isinstance(key, str) else c.byuid(key)
        assert result == kp.OK
        assert rec["gecos"] == NICKNAME
        text = ":".join(str(v) for v in rec.values())
        assert REAL_CN not in text and REAL_SN not in text


@pytest.mark.parametrize("which", ["preissued", "disabled"])
def test_preissued_and_disabled_not_found(sb, members, which):
    m = members[which]
    with client(sb) as c:
        assert c.byname(m["login"]) == (kp.NOTFOUND, None)
        assert c.byuid(m["uid_number"]) == (kp.NOTFOUND, None)


def test_unknown_name_and_uids(sb):
    with client(sb) as c:
        assert c.byname("nobody.here")[0] == kp.NOTFOUND
        for uid in (0, 1, 65534, 99999, 4000000000, 0xffffffff):
            assert c.byuid(uid)[0] == kp.NOTFOUND


@pytest.mark.parametrize("name", [
    "*", "(", ")", "\\", "Alice*", "*)(uid=*", "Alice.Smith)(uid=*", "x" * 4000,
    b"Alice\xff\xfe", b"\xe5\x81\xa5\xe4\xbf\x9d", "", "a" * 40, " Alice.Smith",
    "Alice.Smith ", "Alice Smith", "alice\nsmith",
], ids=["star", "open", "close", "backslash", "wildcard", "filter", "suffix",
        "4000", "bad-utf8", "kanji", "empty", "40", "lead-space", "trail-space",
        "space", "newline"])
def test_bad_names_not_found(sb, members, name):
    with client(sb) as c:
        assert c.byname(name) == (kp.NOTFOUND, None)
        # The same connection goes on.
        assert c.byname("Alice.Smith")[0] == kp.OK


def test_home_template_and_member_number(sb, members):
    """home = /srv/%n/%u%%: the member number, the canonical ID, a percent."""
    number = members["alice"]["number"]
    with sb.kenpod_settings_changed(society={"home": "/srv/%n/%u%%"}):
        result, rec = lookup(sb, "Alice.Smith")
    assert result == kp.OK
    assert rec["home"] == "/srv/%s/Alice.Smith%%" % number


# ---- malformed frames -----------------------------------------------------------

def _with_trailing_bytes(extra):
    """A good PASSWD_BYNAME frame whose length also covers `extra`."""
    body = kp.frame(kp.PASSWD_BYNAME, "Alice.Smith")[4:] + extra
    return struct.pack("!I", len(body)) + body


BAD_FRAMES = {
    "wrong-version": kp.frame(kp.PING, version=kp.VERSION + 1),
    "oversized": struct.pack("!I", kp.MAX_FRAME + 1) + b"\0" * 64,
    "huge-length": struct.pack("!I", 0xffffffff) + b"\0" * 64,
    "too-short": struct.pack("!I", 4) + b"\0" * 4,
    "string-length-lies": struct.pack("!Iiii", 12, kp.VERSION, kp.PASSWD_BYNAME, 100),
    "negative-string": struct.pack("!Iiii", 12, kp.VERSION, kp.PASSWD_BYNAME, -1),
    "trailing-bytes": _with_trailing_bytes(b"abc"),
    "missing-field": kp.frame(kp.PASSWD_BYNAME),
    "nul-in-string": kp.frame(kp.PASSWD_BYNAME, b"Alice\0Smith"),
    "string-too-long": kp.frame(kp.PASSWD_BYNAME, "x" * (kp.MAX_STRING + 1)),
    "extra-field-ping": kp.frame(kp.PING, 7),
    "truncated": kp.frame(kp.PASSWD_BYNAME, "Alice.Smith")[:-3],
    "garbage": b"GET / HTTP/1.0\r\n\r\n",
}


@pytest.mark.parametrize("name", sorted(BAD_FRAMES))
def test_malformed_frame_closes_only_that_connection(sb, members, name):
    good = client(sb)
    try:
        assert good.byname("Alice.Smith")[0] == kp.OK
        bad = client(sb, timeout=8)
        try:
            bad.send_raw(BAD_FRAMES[name])
            # The end of what the client sends: a half frame stays half.
            bad.sock.shutdown(socket.SHUT_WR)
            try:
                action, result, _ = bad.recv_answer()
                assert result == kp.BADREQ
            except (ConnectionError, kp.ProtocolError, struct.error):
                pass   # closed without an answer
            assert bad.closed_by_peer()
        finally:
            bad.close()
        # The client connected before is still served, and new ones too.
        assert good.byname("Alice.Smith")[0] == kp.OK
    finally:
        good.close()
    assert lookup(sb, "Alice.Smith")[0] == kp.OK


def test_stalled_frame_times_out_while_others_are_served(sb, members):
    bad = client(sb, timeout=15)
    try:
        bad.send_raw(kp.frame(kp.PASSWD_BYNAME, "Alice.Smith")[:6])
        t0 = time.monotonic()
        for _ in range(20):
            assert lookup(sb, "Alice.Smith")[0] == kp.OK
        assert bad.closed_by_peer()
        assert time.monotonic() - t0 < 10
    finally:
        bad.close()


def test_idle_connections_do_not_starve_others(sb, members):
    """More silent clients than workers: a lookup still gets through."""
    idle = [client(sb) for _ in range(8)]
    try:
        t0 = time.monotonic()
        assert lookup(sb, "Alice.Smith")[0] == kp.OK
        # Silent connections give way after BUSY_IDLE_MS (0.5 s), not 5 s.
        assert time.monotonic() - t0 < 3
    finally:
        for c in idle:
            c.close()


# ---- the directory restarting or away ----------------------------------------------

def test_survives_slapd_restart(sb, members):
    pid = sb.kenpod_pid()
    # Every worker holds a connection to the old slapd.
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        assert all(r[0] == kp.OK for r in ex.map(
            lambda _: lookup(sb, "Alice.Smith"), range(16)))
    sb.restart_slapd()
    late = sb.add_member("Late.Comer")   # not in any cache
    flush(sb)
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        results = list(ex.map(lambda _: lookup(sb, "Late.Comer"), range(16)))
    assert all(r[0] == kp.OK and r[1]["uid"] == late["uid_number"] for r in results), results
    assert sb.kenpod_pid() == pid


def test_cache_answers_while_slapd_is_down(sb, members):
    flush(sb)
    assert lookup(sb, "Alice.Smith")[0] == kp.OK        # now cached
    sb.stop_slapd()
    try:
        t0 = time.monotonic()
        result, rec = lookup(sb, "Alice.Smith")
        assert result == kp.OK and rec["name"] == "Alice.Smith"
        with client(sb) as c:
            assert c.byuid(members["alice"]["uid_number"])[0] == kp.OK
            assert c.byname("never.cached")[0] == kp.UNAVAIL
            # During the back-off the answer comes at once.
            t1 = time.monotonic()
            assert c.byname("never.cached2")[0] == kp.UNAVAIL
            assert time.monotonic() - t1 < 0.5
        assert time.monotonic() - t0 < 5
    finally:
        sb.start_slapd()
    # Back within the longest back-off.
    assert wait_for(lambda: lookup(sb, "never.cached")[0] == kp.NOTFOUND, timeout=8)


def directory_searches(sb, since):
    """How many directory searches kenpod's log shows after offset since."""
    with open(sb.kenpod_log, "rb") as f:
        f.seek(since)
        return f.read().decode("utf-8", "replace").count(": search ou=")


def answered_from_map(sb):
    """Whether kenpod answers a name of nobody from its passwd map, as it
    does only while the map is in step with the directory; a name never
    asked before, so that no cached answer stands in for the map."""
    name = "Probe.%s" % os.urandom(4).hex()
    start = os.path.getsize(sb.kenpod_log)
    if lookup(sb, name)[0] != kp.NOTFOUND:
        return False
    with open(sb.kenpod_log, "rb") as f:
        f.seek(start)
        log = f.read().decode("utf-8", "replace")
    return "passwd byname=%s: map: not found" % name in log


def test_negative_cache_and_flush(sb, members):
    """While kenpod follows the directory, its passwd map holds every member:
    a name of nobody is answered without asking the directory, again and
    after a flush, and a member who appears is found within a second.  A
    name kenpod itself has just given out is looked up in the directory
    (test_selfservice); the negative cache (cache_negative_ttl) serves when
    there is no map in step with the directory (unit tests)."""
    assert wait_for(lambda: lookup(sb, "Alice.Smith")[0] == kp.OK)
    # After slapd was stopped (the tests above), the workers may reach it
    # again before the follower has read the directory anew; until then
    # the map may be behind, and a name of nobody is rightly searched for.
    assert wait_for(lambda: answered_from_map(sb), timeout=15)
    start = os.path.getsize(sb.kenpod_log)
    assert lookup(sb, "Carol.Later")[0] == kp.NOTFOUND
    flush(sb)
    assert lookup(sb, "Carol.Later")[0] == kp.NOTFOUND
    assert directory_searches(sb, start) == 0
    sb.add_member("Carol.Later")
    assert wait_for(lambda: lookup(sb, "Carol.Later")[0] == kp.OK, timeout=2)


def test_sighup_flushes_cache(sb, members):
    start = os.path.getsize(sb.kenpod_log)
    os.kill(sb.kenpod_pid(), signal.SIGHUP)

    def flushed():
        with open(sb.kenpod_log, "rb") as f:
            f.seek(start)
            return b"cache flushed" in f.read()
    assert wait_for(flushed, timeout=5)
    assert lookup(sb, "Alice.Smith")[0] == kp.OK
    assert lookup(sb, "Dave.Later")[0] == kp.NOTFOUND


def test_positive_ttl_expires(sb, members):
    """Without the directory, members are answered (from the passwd map)
    for cache_positive_ttl, then "unavailable"."""
    with sb.kenpod_settings_changed(kenpod={"cache_positive_ttl": "1s"}):
        assert wait_for(lambda: lookup(sb, "Alice.Smith")[0] == kp.OK)
        sb.stop_slapd()
        try:
            assert lookup(sb, "Alice.Smith")[0] == kp.OK
            # The map is suspended within a second after the ttl.
            assert wait_for(lambda: lookup(sb, "Alice.Smith")[0] == kp.UNAVAIL, timeout=5)
        finally:
            sb.start_slapd()


def test_cache_flush_only_for_root(sb, tmp_path):
    """Anyone may PING; only root may flush the cache."""
    code = (
        "import sys; sys.path.insert(0, %r); import kenpoproto as kp\n"
        "c = kp.Client(sys.argv[1]); print(c.ping()[0], c.cache_flush())\n"
        % ks.kenpoproto_for_others())
    if os.geteuid() != 0:
        out = subprocess.run([sys.executable, "-c", code, sb.kenpod_socket],
                             capture_output=True, text=True, check=True).stdout
        assert out.split() == [str(kp.OK), str(kp.DENIED)]
        return
    # As root: a socket where "nobody" can reach it, in a directory that
    # kenpod creates itself (0755).
    top = tempfile.mkdtemp(prefix="kenpod-")
    try:
        os.chmod(top, 0o755)
        sock = os.path.join(top, "run", "kenpod.sock")
        with sb.kenpod_settings_changed(socket=sock):
            st = os.stat(os.path.dirname(sock))
            assert st.st_mode & 0o777 == 0o755
            assert os.stat(sock).st_mode & 0o777 == 0o666
            out = subprocess.run(["/usr/bin/python3", "-c", code, sock], user=65534,
                                 group=65534, extra_groups=[], capture_output=True,
                                 text=True, check=True).stdout
            assert out.split() == [str(kp.OK), str(kp.DENIED)]
            with kp.Client(sock) as c:
                assert c.cache_flush() == kp.OK
        assert not os.path.exists(sock)
    finally:
        subprocess.run(["rm", "-rf", top], check=False)


def test_drops_privileges_to_user(sb, members):
    """As root with user = nobody: files and socket first, then uid 65534
    for good, with no_new_privs; the socket directory kenpod made is handed
    over so that the socket can still be removed at exit."""
    if os.geteuid() != 0:
        pytest.skip("only root can change user")
    top = tempfile.mkdtemp(prefix="kenpod-")
    try:
        os.chmod(top, 0o755)
        sock = os.path.join(top, "run", "kenpod.sock")
        pwmap = os.path.join(top, "run", "passwd.mc")
        # The ldapi socket lives in the sandbox directory, closed to nobody;
        # the passwd map goes beside the socket.
        with sb.kenpod_settings_changed(kenpod={"user": "nobody", "ldap_uri": sb.ldap_tcp_uri,
                                                "passwd_map": pwmap},
                                        socket=sock):
            with open("/proc/%d/status" % sb.kenpod_pid()) as f:
                status = f.read()
            assert re.search(r"^Uid:\s+65534\s+65534\s+65534\s+65534$", status, re.M), status
            assert re.search(r"^Gid:\s+65534\s+65534\s+65534\s+65534$", status, re.M), status
            assert re.search(r"^NoNewPrivs:\s+1$", status, re.M), status
            assert os.stat(os.path.dirname(sock)).st_uid == 65534
            with kp.Client(sock) as c:
                assert c.byname("Alice.Smith")[0] == kp.OK
            assert wait_for(lambda: os.path.exists(pwmap))
            assert os.stat(pwmap).st_uid == 65534
        assert not os.path.exists(sock) and not os.path.exists(pwmap)
    finally:
        subprocess.run(["rm", "-rf", top], check=False)


# ---- concurrency -------------------------------------------------------------------

def test_fifty_concurrent_clients(sb, members):
    people = [sb.add_member("Crowd.%02d" % i, nickname="群衆%02d" % i) for i in range(10)]
    flush(sb)
    start = threading.Barrier(50)

    def one(i):
        m = people[i % len(people)]
        start.wait()
        with client(sb, timeout=30) as c:
            r1 = c.byname(m["login"])
            r2 = c.byuid(m["uid_number"])
            r3 = c.byname("no.such.%02d" % i)
        return m, r1, r2, r3

    with concurrent.futures.ThreadPoolExecutor(50) as ex:
        results = list(ex.map(one, range(50)))
    for m, (res1, rec1), (res2, rec2), (res3, _) in results:
        assert res1 == kp.OK and rec1["name"] == m["login"]
        assert rec1["uid"] == m["uid_number"] and rec1["gecos"] == m["nickname"]
        assert res2 == kp.OK and rec2 == rec1
        assert res3 == kp.NOTFOUND


# ---- PASSWD_ALL ----------------------------------------------------------------------

def test_enumeration_off_by_default(sb):
    with client(sb) as c:
        result, recs, nxt = c.all_page(0)
    assert (result, recs, nxt) == (kp.DENIED, [], -1)


def test_enumeration_pages(sb, members):
    sb.add_members_bulk(["Bulk.%04d" % i for i in range(1500)])
    with sb.kenpod_settings_changed(kenpod={"enumerate": "yes"}):
        with client(sb, timeout=30) as c:
            result, first, nxt = c.all_page(0)
            assert result == kp.OK and 0 < nxt < 1600, nxt
            result, recs = c.all()
            assert c.all_page(-1)[0] in (kp.BADREQ,)
    assert result == kp.OK
    names = [r["name"] for r in recs]
    assert len(names) == len(set(names))
    assert "Alice.Smith" in names and "Bulk.1499" in names
    assert members["preissued"]["login"] not in names
    assert "Bob.Disabled" not in names
    uids = [r["uid"] for r in recs]
    assert uids == sorted(uids)


# ---- duplicates ----------------------------------------------------------------------

def test_same_member_in_two_societies_is_not_found(sb, members):
    """Two societies whose bases overlap both find the member: ambiguous."""
    other = {"base": ks.SUFFIX, "name": "Overlap", "mail_from": "o@kenpo.test",
             "login_url": "https://o.kenpo.test/", "guide_url": "https://o.kenpo.test/%%TOKEN%%",
             "reset_url": "https://o.kenpo.test/r/%%TOKEN%%", "uid_min": str(ks.UID_MIN),
             "uid_max": str(ks.UID_MIN + 9999999)}
    with sb.kenpod_settings_changed(extra_societies={"overlap": other}):
        assert lookup(sb, "Alice.Smith")[0] == kp.NOTFOUND
        assert "members match" in sb.kenpod_log_tail(50)


# ---- start-up and shutdown -----------------------------------------------------------

def test_check_config(sb):
    r = subprocess.run([sb.kenpod_binary, "-t", "-c", sb.kenpod_conf],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    bad = os.path.join(sb.dir, "bad.conf")
    with open(bad, "w") as f:
        f.write("[kenpod]\nthreads = 0\n")
    os.chmod(bad, 0o600)
    r = subprocess.run([sb.kenpod_binary, "-t", "-c", bad], capture_output=True, text=True)
    assert r.returncode == 1
    assert "bad.conf:2: threads" in r.stderr


def test_second_kenpod_refuses_the_socket(sb):
    r = subprocess.run([sb.kenpod_binary, "-f", "-c", sb.kenpod_conf, "-s", sb.kenpod_socket],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1
    assert "another kenpod" in r.stderr
    assert lookup(sb, "nobody.here")[0] == kp.NOTFOUND


def test_stale_socket_replaced_and_removed_at_exit(sb):
    sb.stop_kenpod()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(sb.kenpod_socket)    # a socket nobody listens on
    s.close()
    sb.start_kenpod()
    with client(sb) as c:
        assert c.ping()[0] == kp.OK
    assert sb.stop_kenpod() == 0       # SIGTERM: a clean exit
    assert not os.path.exists(sb.kenpod_socket)
    sb.start_kenpod()


def test_sasl_external_bind(sb, members):
    """With no bind_dn, kenpod binds with SASL EXTERNAL over ldapi: the
    sandbox's slapd knows the user running it by its peer credentials."""
    flush(sb)
    with sb.kenpod_settings_changed(kenpod={"bind_dn": None, "bind_password_file": None}):
        result, rec = lookup(sb, "Alice.Smith")
        assert result == kp.OK and rec["name"] == "Alice.Smith"
