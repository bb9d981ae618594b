"""kenpod under stalling clients and a stalled relay: the event loop, the
lanes, the connection caps and the reload on SIGHUP (src/kenpod/loop.c,
server.c, conf.c).

Latencies are measured the way the NSS module asks: a connection per
request, from connect to answer.  The bounds are loose, for a loaded
machine shared with other work: each test prints its figures (run pytest
with -s to see them).

The module runs its own sandbox with a cheap argon2 cost (logins here
only need to reach the mail) and connection caps that let an ordinary user
run it too.
"""

import concurrent.futures
import os
import re
import selectors
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

import pytest

import kenpoproto as kp
import kenposandbox as ks
from conftest import check_kenpod

PASSWORD = "Kenpo2024Pass"
CACHED = 20          # members looked up before measuring
UNCACHED = 20        # members first looked up under stress
SAMPLES = 300        # lookups per measurement
PINGS = 200
FLOOD = 64           # half frames, or silent connections, held at once
LOGINS = 8           # logins in flight while the relay is stalled

# The stalling client, run as its own process.  It imports nothing from the
# source tree, so that it can run as another user.  It holds N connections
# that each sent half a frame ("half") or nothing ("silent"), renews each
# every 4.5 s and whenever kenpod closes one, and reports on stdout.
STALLER = r'''
import select, socket, struct, sys, time
path, n, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
half = struct.pack("!Iii", 40, 3, 0x00010001)[:7]
def one():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    if mode == "half":
        s.sendall(half)
    return [s, time.monotonic()]
held = [one() for _ in range(n)]
print("ready", flush=True)
renewed = refused = 0
while True:
    r, _, _ = select.select([h[0] for h in held] + [sys.stdin], [], [], 0.5)
    if sys.stdin in r:
        break
    now = time.monotonic()
    for h in held:
        closed = h[0] in r and not h[0].recv(1)
        if closed or now - h[1] > 4.5:
            refused += closed
            renewed += 1
            h[0].close()
            h[:] = one()
print("renewed", renewed, "closed-by-kenpod", refused, flush=True)
'''

# Opens connections one after the other, each asking PING, and keeps them
# all open; prints one word per connection: "ok" or "refused".
OPENER = r'''
import socket, struct, sys
path, n = sys.argv[1], int(sys.argv[2])
ping = struct.pack("!Iii", 8, 3, 0x00040001)
held = []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    try:
        s.sendall(ping)
        word = "ok" if len(s.recv(4)) == 4 else "refused"
    except OSError:
        word = "refused"
    held.append(s)
    print(word, flush=True)
sys.stdin.read()
'''


# ---- fixtures and helpers ------------------------------------------------------

@pytest.fixture(scope="module")
def sb(tmp_path_factory, builddir):
    if not os.access(os.path.join(builddir, "kenpod"), os.X_OK):
        pytest.fail("kenpod not built: run `make` and set KENPO_BUILDDIR")
    s = ks.Sandbox(str(tmp_path_factory.mktemp("lanes")), builddir=builddir)
    s.kenpod_settings.update({
        "argon2_t": "1", "argon2_m": "8K",
        # The stalls below hold more connections than an ordinary user's
        # cap (64): room for them and the measuring client of the same uid.
        "max_connections_per_uid": "256",
        "log_level": "info",
    })
    s.up()
    yield s
    s.down()


@pytest.fixture(autouse=True)
def kenpod_healthy(sb):
    yield
    check_kenpod(sb)


@pytest.fixture(scope="module")
def members(sb):
    cached = [sb.add_member("Lane.C%02d" % i) for i in range(CACHED)]
    for m in cached:
        assert lookup(sb.kenpod_socket, m["login"])[0] == kp.OK
    return cached


@pytest.fixture(scope="module")
def password_hash(testtool, tool_env):
    r = subprocess.run([testtool, "hash-password", "--t", "1", "--m", "8192"],
                       input=PASSWORD + "\n", capture_output=True, text=True, env=tool_env,
                       check=True)
    return r.stdout.strip()


def lookup(sock, name):
    with kp.Client(sock, timeout=10) as c:
        return c.byname(name)


def timed(fn, count):
    """Seconds each of count calls of fn(i) took; fn asserts its answer."""
    out = []
    for i in range(count):
        t0 = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t0)
    return out


def p(times, q):
    return statistics.quantiles(times, n=100, method="inclusive")[q - 1]


def ms(t):
    return "%.2f" % (t * 1000)


def measure(sb, members):
    """p50/p99 of cached lookups and of PING, in seconds."""
    def one_lookup(i):
        m = members[i % len(members)]
        result, rec = lookup(sb.kenpod_socket, m["login"])
        assert result == kp.OK and rec["uid"] == m["uid_number"]

    def one_ping(_):
        with kp.Client(sb.kenpod_socket, timeout=10) as c:
            assert c.ping()[0] == kp.OK

    looks = timed(one_lookup, SAMPLES)
    pings = timed(one_ping, PINGS)
    return {"lookup_p50": p(looks, 50), "lookup_p99": p(looks, 99), "lookup_max": max(looks),
            "ping_p50": p(pings, 50), "ping_p99": p(pings, 99), "ping_max": max(pings)}


def report(title, normal, stressed):
    print("\n%s: lookup p50 %s -> %s ms, p99 %s -> %s ms; PING p50 %s -> %s ms, "
          "p99 %s -> %s ms, max %s ms" % (
              title, ms(normal["lookup_p50"]), ms(stressed["lookup_p50"]),
              ms(normal["lookup_p99"]), ms(stressed["lookup_p99"]),
              ms(normal["ping_p50"]), ms(stressed["ping_p50"]),
              ms(normal["ping_p99"]), ms(stressed["ping_p99"]), ms(stressed["ping_max"])))


def assert_unstalled(normal, stressed):
    """The goal is lookups' p99 within 2x of normal and PING under 5 ms; the
    slack is for a machine busy with other work, whose scheduling alone
    delays a few requests by tens of milliseconds.  A stalled kenpod
    answered nothing for seconds."""
    assert stressed["lookup_p99"] <= 2 * normal["lookup_p99"] + 0.050, (normal, stressed)
    assert stressed["lookup_max"] < 1.0, stressed
    assert stressed["ping_p50"] < 0.005, stressed
    assert stressed["ping_p99"] < 0.050, stressed
    assert stressed["ping_max"] < 1.0, stressed


class Staller:
    """The stalling client as its own process."""

    def __init__(self, sock, n, mode, user=None):
        self.proc = subprocess.Popen([ks.PYTHON, "-c", STALLER, sock, str(n), mode],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     user=user)
        assert self.proc.stdout.readline().strip() == "ready"

    def stop(self):
        out, _ = self.proc.communicate("", timeout=20)
        return out.strip()


def kenpod_log_since(sb, offset):
    with open(sb.kenpod_log, errors="replace") as f:
        f.seek(offset)
        return f.read()


def log_size(sb):
    return os.path.getsize(sb.kenpod_log)


def wait_for(pred, timeout=10.0, step=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


# ---- clients that stall ----------------------------------------------------------

@pytest.mark.parametrize("mode", ["half", "silent"])
def test_stalled_clients_hold_no_worker(sb, members, mode):
    """64 connections with half a frame each (or nothing at all), renewed
    before kenpod's deadline: lookups keep their p99, uncached ones are
    answered, PING stays fast."""
    fresh = [sb.add_member("Lane.%s%02d" % (mode[0].upper(), i)) for i in range(UNCACHED)]
    normal = measure(sb, members)
    staller = Staller(sb.kenpod_socket, FLOOD, mode)
    try:
        stressed = measure(sb, members)
        for m in fresh:
            assert lookup(sb.kenpod_socket, m["login"])[0] == kp.OK
            assert lookup(sb.kenpod_socket, m["login"] + "x")[0] == kp.NOTFOUND
    finally:
        stats = staller.stop()
    report("%d %s connections" % (FLOOD, mode), normal, stressed)
    print(stats)
    assert_unstalled(normal, stressed)


def test_half_frame_is_closed_at_its_deadline(sb, members):
    """The frame deadline closes a half frame; the connection cost nothing
    meanwhile."""
    with kp.Client(sb.kenpod_socket, timeout=10) as bad:
        bad.send_raw(kp.frame(kp.PASSWD_BYNAME, "Lane.C00")[:9])
        t0 = time.monotonic()
        assert lookup(sb.kenpod_socket, "Lane.C00")[0] == kp.OK
        assert bad.closed_by_peer()
        assert 3.5 < time.monotonic() - t0 < 9
    assert "frame not received in time" in sb.kenpod_log_tail(50)


def test_pipelined_requests_are_answered_in_order(sb, members):
    """Several frames sent at once on one connection: each answered, in order."""
    with kp.Client(sb.kenpod_socket, timeout=10) as c:
        c.send_raw(kp.frame(kp.PING) + kp.frame(kp.PASSWD_BYNAME, "Lane.C01") +
                   kp.frame(kp.PASSWD_BYNAME, "nobody.here") + kp.frame(kp.PING))
        got = [c.recv_answer()[:2] for _ in range(4)]
    assert got == [(kp.PING, kp.OK), (kp.PASSWD_BYNAME, kp.OK),
                   (kp.PASSWD_BYNAME, kp.NOTFOUND), (kp.PING, kp.OK)]


def test_requests_per_connection(sb, members):
    """A connection is closed after 100 answers, as before."""
    with kp.Client(sb.kenpod_socket, timeout=10) as c:
        for _ in range(100):
            assert c.ping()[0] == kp.OK
        assert c.closed_by_peer()


# ---- a stalled relay ----------------------------------------------------------------

def key_member(sb, password_hash, i):
    login = "Lane.K%02d%s" % (i, os.urandom(2).hex())
    return sb.add_member(login, extra=[
        ("userPassword", password_hash),
        ("kenpoMail1", "%s@mail.example.jp" % login.lower().replace(".", "-"))])


def test_stalled_relay_stalls_only_logins(sb, members, password_hash):
    """With a relay that never answers and 8 logins waiting on it, lookups
    keep their p99 and PING stays fast; a full authentication lane answers
    at once; released, every login gets its answer."""
    people = [key_member(sb, password_hash, i) for i in range(LOGINS)]
    with ks.StalledRelay() as relay, \
            sb.kenpod_settings_changed(kenpod={"smtp_url": relay.url, "smtp_timeout": "60s"}):
        for m in members:
            assert lookup(sb.kenpod_socket, m["login"])[0] == kp.OK
        normal = measure(sb, members)

        def login(m):
            with kp.Client(sb.kenpod_socket, timeout=90) as c:
                return c.auth_password(m["login"], PASSWORD)["name"]

        pool = concurrent.futures.ThreadPoolExecutor(LOGINS)
        try:
            logins = [pool.submit(login, m) for m in people]
            # Every worker of the authentication lane waits on the relay.
            assert wait_for(lambda: relay.accepted() >= 4, timeout=20), relay.accepted()
            stressed = measure(sb, members)
            full = fill_auth_lane(sb)
        finally:
            relay.release()
            answers = [f.result(timeout=60) for f in logins]
            pool.shutdown()
    report("%d logins on a stalled relay" % LOGINS, normal, stressed)
    print("authentication lane full: %d of %d answered at once (UNAVAIL)" % full)
    assert_unstalled(normal, stressed)
    assert full[0] > 0
    assert set(answers) <= {"MAIL_FAILED", "UNAVAIL"}, answers


def fill_auth_lane(sb):
    """Requests of the authentication lane beyond its queue (64) while its
    workers are held: those that do not fit are answered UNAVAIL at once.
    Returns (answered at once, sent)."""
    sent = 80
    conns = [kp.Client(sb.kenpod_socket, timeout=10) for _ in range(sent)]
    try:
        for c in conns:
            c.send_raw(kp.frame(kp.AUTH_ABORT, "nobody.here", "x"))
        sel = selectors.DefaultSelector()
        for c in conns:
            sel.register(c.sock, selectors.EVENT_READ, c)
        quick, deadline = 0, time.monotonic() + 1.0
        while time.monotonic() < deadline:
            for key, _ in sel.select(max(0.0, deadline - time.monotonic())):
                sel.unregister(key.fileobj)
                action, result, _ = key.data.recv_answer()
                assert (action, result) == (kp.AUTH_ABORT, kp.UNAVAIL)
                quick += 1
        sel.close()
        return quick, sent
    finally:
        for c in conns:
            c.close()


# ---- connection caps ----------------------------------------------------------------

def ping_ok(sock):
    try:
        with kp.Client(sock, timeout=5) as c:
            return c.ping()[0] == kp.OK
    except (OSError, kp.ProtocolError, struct.error):
        return False


def open_as(sock, n, uid=None):
    """A process of uid (None: this one's) opening n connections, each
    asking PING; (process, ["ok" or "refused" for each])."""
    who = {} if uid is None else {"user": uid, "group": uid, "extra_groups": []}
    proc = subprocess.Popen([ks.PYTHON, "-c", OPENER, sock, str(n)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd="/", **who)
    words = [proc.stdout.readline().strip() for _ in range(n)]
    return proc, words


def test_connection_caps(sb, members):
    """max_connections_per_uid for an ordinary user, max_connections_portal
    for root, max_connections for everyone together; each refusal logged."""
    as_root = os.geteuid() == 0
    user = 65534 if as_root else os.geteuid()
    top = tempfile.mkdtemp(prefix="kenpod-")
    os.chmod(top, 0o755)
    sock = os.path.join(top, "run", "kenpod.sock")
    held = []
    start = log_size(sb)
    try:
        with sb.kenpod_settings_changed(
                kenpod={"max_connections_per_uid": "4", "max_connections_portal": "8",
                        "max_connections": "16"}, socket=sock):
            # An ordinary user: 4, then refused.
            proc, words = open_as(sock, 6, 65534 if as_root else None)
            held.append(proc)
            assert words == ["ok"] * 4 + ["refused"] * 2, words
            if as_root:
                # Root, whose processes serve every user: up to 8.
                proc, words = open_as(sock, 9)
                held.append(proc)
                assert words == ["ok"] * 8 + ["refused"], words
                # 12 open: a third user fills the rest of the 16.
                proc, words = open_as(sock, 5, 65533)
                held.append(proc)
                assert words == ["ok"] * 4 + ["refused"], words
            log = kenpod_log_since(sb, start)
            assert "uid %d has 4 connections open, the most max_connections_per_uid " \
                   "allows" % user in log, log
            if as_root:
                assert "uid 0 has 8 connections open, the most max_connections_portal " \
                       "allows" in log, log
                assert "16 connections open, the most max_connections allows" in log, log
            for proc in held:
                proc.communicate("", timeout=10)
            held = []
            # Closed: there is room again.
            assert wait_for(lambda: ping_ok(sock))
    finally:
        for proc in held:
            proc.kill()
            proc.wait()
        subprocess.run(["rm", "-rf", top], check=False)


# ---- reloading the configuration --------------------------------------------------------

def shell_of(sb, login):
    result, rec = lookup(sb.kenpod_socket, login)
    assert result == kp.OK
    return rec["shell"]


def shell_becomes(sb, login, shell, timeout=10.0):
    """After a reload the passwd map is read again with the new settings
    (the old one answers meanwhile): the shell changes within a reading."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if shell_of(sb, login) == shell:
            return True
        time.sleep(0.05)
    return shell_of(sb, login) == shell


def write_conf(sb, kenpod=None, society=None):
    """Rewrite kenpod.conf with these settings, kenpod left running."""
    sb.kenpod_settings.update(kenpod or {})
    sb.society_settings.update(society or {})
    sb.write_kenpod_conf()


def hup_and_wait(sb, start, needle):
    os.kill(sb.kenpod_pid(), signal.SIGHUP)
    assert wait_for(lambda: needle in kenpod_log_since(sb, start)), \
        kenpod_log_since(sb, start)


@pytest.fixture
def conf_restored(sb):
    saved = (dict(sb.kenpod_settings), dict(sb.society_settings))
    yield
    sb.kenpod_settings, sb.society_settings = saved
    sb.restart_kenpod()


def test_sighup_applies_a_society_setting(sb, members, conf_restored):
    pid = sb.kenpod_pid()
    assert shell_of(sb, "Lane.C03") == "/bin/bash"
    start = log_size(sb)
    write_conf(sb, society={"shell": "/bin/sh"})
    hup_and_wait(sb, start, "SIGHUP: configuration 2 in use, cache flushed")
    assert shell_becomes(sb, "Lane.C03", "/bin/sh")
    assert sb.kenpod_pid() == pid


def test_sighup_keeps_the_configuration_when_the_file_is_wrong(sb, members, conf_restored):
    start = log_size(sb)
    write_conf(sb, society={"shell": "/bin/sh"})
    hup_and_wait(sb, start, "in use, cache flushed")
    start = log_size(sb)
    with open(sb.kenpod_conf, "a") as f:
        f.write("threads = 0\n")        # in the society section: an unknown key
    hup_and_wait(sb, start, "SIGHUP: cache flushed")
    log = kenpod_log_since(sb, start)
    assert "the configuration in use stays" in log, log
    assert re.search(r"kenpod\.conf:\d+: threads: unknown key in \[society toyobo\]", log), log
    assert shell_becomes(sb, "Lane.C04", "/bin/sh")
    assert sb.kenpod_alive()


def test_sighup_reports_what_needs_a_restart(sb, members, conf_restored):
    start = log_size(sb)
    write_conf(sb, kenpod={"threads": "3", "nss_threads": "2"},
               society={"timezone": "Europe/Paris", "shell": "/bin/dash"})
    hup_and_wait(sb, start, "in use, cache flushed")
    log = kenpod_log_since(sb, start)
    for key in ("[kenpod] threads", "[kenpod] nss_threads", "[society toyobo] timezone"):
        assert "%s changed: it takes effect when kenpod restarts" % key in log, log
    # The rest applies.
    assert shell_becomes(sb, "Lane.C05", "/bin/dash")


def test_sighup_never_drops_a_request(sb, members, conf_restored):
    """Lookups and PINGs from 4 threads while the configuration is reloaded
    10 times, alternating two shells: every request is answered, each with
    one of the two."""
    stop = threading.Event()
    errors, counts = [], [0]
    lock = threading.Lock()

    def hammer(k):
        i = 0
        while not stop.is_set():
            m = members[(i + k) % len(members)]
            try:
                with kp.Client(sb.kenpod_socket, timeout=10) as c:
                    assert c.ping()[0] == kp.OK
                    result, rec = c.byname(m["login"])
                    assert result == kp.OK and rec["shell"] in ("/bin/sh", "/bin/bash"), rec
            except Exception as e:              # noqa: BLE001 - collected for the assert
                with lock:
                    errors.append(repr(e))
            with lock:
                counts[0] += 2
            i += 1

    threads = [threading.Thread(target=hammer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    try:
        for n in range(10):
            start = log_size(sb)
            write_conf(sb, society={"shell": "/bin/sh" if n % 2 == 0 else "/bin/bash"})
            hup_and_wait(sb, start, "configuration %d in use, cache flushed" % (n + 2))
    finally:
        stop.set()
        for t in threads:
            t.join()
    print("\n%d requests during 10 reloads, %d failed" % (counts[0], len(errors)))
    assert not errors, errors[:5]
    assert shell_of(sb, "Lane.C06") == "/bin/bash"
