"""The passwd map (DESIGN.md, architecture 8): kenpod publishes every member's
passwd record in a file that libnss_kenpo reads without asking kenpod, and
follows the directory into it with RFC 4533 content synchronisation.

Lookups go through `getent -s kenpo` with the sandbox's module, socket and
map (test_nss.nss_env).  Whether kenpod was asked is read from its debug
log, which names every lookup it answers.

The propagation tests change a member (through kenpod, with kenpo-admin, with
ldapmodify) while another thread looks it up in a loop, and check that every
answer is either the old or the new state, that the map agrees within
PROPAGATION_MAX, and, for changes made through kenpod, that the old state is
gone before the change is answered.  The delays are printed (pytest -s).
"""

import os
import signal
import struct
import subprocess
import threading
import time

import pytest

import kenpoproto as kp
import kenposandbox as ks
from conftest import check_kenpod, start_sandbox
from test_nss import NOT_FOUND, getent, nss_env, passwd_fields

HOME = "/srv/kenpo-map/%u"
SHELL = "/bin/sh"
PROPAGATION_MAX = 1.0      # seconds: a change reaches the map within this
STALE_S = 3.0              # the module's rule: no heartbeat for 3 s, no map
# The header of the map (src/common/pwmap.h).
MAGIC = 0x314d504b
OFF_DATA_END = 64
OFF_STATUS, OFF_HEARTBEAT = 192, 208
LIVE, REPLACED = 1, 2

_seq = [0]


def unique(prefix):
    _seq[0] += 1
    return "%s%03d" % (prefix, _seq[0])


# ---- fixtures ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def sb(tmp_path_factory, builddir):
    s = start_sandbox(tmp_path_factory, builddir, "map", ("kenpod", "kenpo", "kenpo-admin"),
                      society={"home": HOME, "shell": SHELL})
    yield s
    s.down()


@pytest.fixture(autouse=True)
def kenpod_healthy(sb):
    yield
    check_kenpod(sb, alive=False)
    if not sb.kenpod_alive():
        sb.stop_kenpod()
        sb.start_kenpod()


@pytest.fixture(scope="module")
def env(sb):
    return nss_env(sb)


@pytest.fixture(scope="module")
def kenpo(sb, builddir):
    """kenpo(*args) -> CompletedProcess of the self-service tool, as root."""
    binary = os.path.join(builddir, "kenpo")

    def run(*args):
        e = dict(os.environ, KENPO_SOCKET=sb.kenpod_socket)
        e.pop("LOCPATH", None)
        e["LSAN_OPTIONS"] = "suppressions=%s" % os.path.join(ks.srcdir(), "tests", "lsan.supp")
        r = subprocess.run([binary, "--json"] + list(args), capture_output=True, text=True,
                           env=e, timeout=60)
        assert not any(m in r.stderr for m in ks.SANITIZER_MARKERS), r.stderr
        return r
    return run


@pytest.fixture(scope="module")
def admin(sb, builddir):
    """admin(*args) -> CompletedProcess of kenpo-admin bound as the rootdn."""
    binary = os.path.join(builddir, "kenpo-admin")

    def run(*args):
        e = dict(os.environ, LDAPNOINIT="1")
        e.pop("LOCPATH", None)
        e["LSAN_OPTIONS"] = "suppressions=%s" % os.path.join(ks.srcdir(), "tests", "lsan.supp")
        r = subprocess.run([binary, "-c", sb.kenpod_conf, "-D", ks.ADMIN_DN, "-y",
                            sb.admin_pw_file] + list(args), capture_output=True, text=True,
                           env=e, timeout=120, stdin=subprocess.DEVNULL)
        assert not any(m in r.stderr for m in ks.SANITIZER_MARKERS), r.stderr
        return r
    return run


# ---- helpers -------------------------------------------------------------------------

def add(sb, login, **kw):
    """A registered member with a mail address (so that its profile can be
    changed) and a password."""
    extra = [("kenpoMail1", login.lower() + "@example.jp"),
             ("userPassword", ks._ssha("Passw0rdAb"))]
    return sb.add_member(login, extra=extra, **kw)


def wait_for(pred, timeout=10.0, step=0.02):
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)


def in_map(env, key):
    return getent(env, key)[0] == 0


def added(sb, env, login, **kw):
    """A member, once the map has it."""
    m = add(sb, login, **kw)
    assert wait_for(lambda: in_map(env, login), PROPAGATION_MAX + 1), login
    return m


def log_size(sb):
    return os.path.getsize(sb.kenpod_log)


def log_since(sb, offset):
    with open(sb.kenpod_log, "rb") as f:
        f.seek(offset)
        return f.read().decode("utf-8", "replace")


def asked(text, key):
    """Whether kenpod's log text shows a lookup of key."""
    return ("passwd byname=%s:" % key) in text or ("passwd byuid=%s:" % key) in text


def expected(login, m, nickname=None):
    return [login, "x", str(m["uid_number"]), str(m["gid_number"]),
            nickname if nickname is not None else m["nickname"],
            HOME.replace("%u", login), SHELL]


def map_published(sb):
    """Whether kenpod's map is at its path and LIVE."""
    try:
        with open(sb.kenpod_map, "rb") as f:
            return struct.unpack_from("<I", f.read(216), OFF_STATUS)[0] == LIVE
    except (OSError, struct.error):
        return False


def reads_logged(sb):
    """How many times kenpod has read the whole membership into its map."""
    return log_since(sb, 0).count("entries read in")


# ---- the map itself ------------------------------------------------------------------

def test_members_answered_from_the_map(sb, env):
    login = unique("Map.Taro")
    m = added(sb, env, login, nickname="ご本人")
    start = log_size(sb)
    for key in (login, str(m["uid_number"])):
        rc, out, _ = getent(env, key)
        assert rc == 0 and passwd_fields(out) == expected(login, m)
    assert not asked(log_since(sb, start), login)
    assert not asked(log_since(sb, start), m["uid_number"])
    st = os.stat(sb.kenpod_map)
    assert oct(st.st_mode & 0o777) == oct(0o644)
    with open(sb.kenpod_map, "rb") as f:
        head = f.read(216)
    assert struct.unpack_from("<I", head, 0)[0] == MAGIC
    assert struct.unpack_from("<I", head, OFF_STATUS)[0] == LIVE
    # Names are exact; misses still ask kenpod, which says "no such user".
    assert getent(env, login.upper())[0] == NOT_FOUND
    assert asked(log_since(sb, start), login.upper())


def test_unknown_names_never_push_members_out(sb, env):
    with sb.kenpod_settings_changed(kenpod={"cache_size": "50"}):
        assert wait_for(lambda: map_published(sb))
        ms = [added(sb, env, unique("Flood.M")) for _ in range(4)]
        for batch in range(8):
            with kp.Client(sb.kenpod_socket) as c:
                for i in range(75):
                    assert c.byname("nosuch.%d.%d" % (batch, i))[0] == kp.NOTFOUND
        start = log_size(sb)
        with kp.Client(sb.kenpod_socket) as c:
            for m in ms:
                assert c.byname(m["login"])[0] == kp.OK
                assert c.byuid(m["uid_number"])[0] == kp.OK
        text = log_since(sb, start)
        # Answered from the map, none from the directory.
        assert text.count("map: found") == 2 * len(ms) and "search " not in text
        for m in ms:
            assert in_map(env, m["login"])


def test_enumeration_reads_the_map(sb, env):
    login = unique("Enum.Taro")
    with sb.kenpod_settings_changed(kenpod={"enumerate": "yes"}):
        assert wait_for(lambda: map_published(sb))
        added(sb, env, login)
        start = log_size(sb)
        rc, out, _ = getent(env)
        assert rc == 0
        names = [passwd_fields(line)[0] for line in out.splitlines()]
        assert login in names and len(names) == len(set(names))
        assert "passwd all" not in log_since(sb, start)
    assert wait_for(lambda: map_published(sb))
    start = log_size(sb)
    rc, out, _ = getent(env)
    assert rc == 0 and out == ""
    assert "passwd all" not in log_since(sb, start)


# ---- changes reach the map -------------------------------------------------------------

class Looker(threading.Thread):
    """Looks keys up with getent in a loop until stopped, recording
    (key, started, ended, exit code, fields) of each lookup."""

    def __init__(self, env, keys):
        super().__init__(daemon=True)
        self.env, self.keys = env, keys
        self.stop = threading.Event()
        self.seen = []
        self.error = None

    def run(self):
        try:
            while not self.stop.is_set():
                for key in self.keys:
                    t0 = time.monotonic()
                    rc, out, _ = getent(self.env, key)
                    fields = passwd_fields(out) if rc == 0 else None
                    self.seen.append((key, t0, time.monotonic(), rc, fields))
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e

    def finish(self, after):
        """Look on for `after` seconds, then stop."""
        time.sleep(after)
        self.stop.set()
        self.join(30)
        assert self.error is None, self.error


def settle(looker, key, new, t_done):
    """Seconds after t_done from which every lookup of key gave `new`
    (fields, or None for "not found"); negative when the map agreed before
    the change was answered.  Fails when an answer was neither state or the
    map never agreed."""
    rows = [r for r in looker.seen if r[0] == key]
    assert rows and rows[-1][4] == new, (key, rows[-3:])
    first = len(rows) - 1
    while first > 0 and rows[first - 1][4] == new:
        first -= 1
    return rows[first][1] - t_done


def check_change(sb, env, change, keys, old, new, through_kenpod=False):
    """Run change() while keys are looked up; old and new map each key to
    its fields before and after (None: not found).  Returns the delays."""
    looker = Looker(env, keys)
    looker.start()
    time.sleep(0.2)
    t_start = time.monotonic()
    change()
    t_done = time.monotonic()
    looker.finish(PROPAGATION_MAX)
    delays = {}
    for key in keys:
        for r in looker.seen:
            if r[0] == key:
                assert r[4] in (old[key], new[key]), ("a wrong answer", r)
        delays[key] = settle(looker, key, new[key], t_done)
        assert delays[key] <= PROPAGATION_MAX, (key, delays[key])
        if through_kenpod:
            # Gone before kenpod answered the change: no lookup begun
            # after that found the old state.
            assert not [r for r in looker.seen if r[0] == key and r[1] > t_done and
                        r[4] == old[key] and old[key] != new[key]], key
    print("propagation %s: change took %.3f s; map agreed %s" % (
        change.__name__, t_done - t_start,
        ", ".join("%s %+.3f s" % (k, v) for k, v in delays.items())))
    return delays


def test_rename_through_kenpod(sb, env, kenpo):
    old, new = unique("Ren.Old"), unique("Ren.New")
    m = added(sb, env, old)
    uid = str(m["uid_number"])

    def kenpo_profile_set_login_id():
        r = kenpo("profile", "set", old, "login_id=" + new)
        assert r.returncode == 0, r.stdout + r.stderr

    check_change(sb, env, kenpo_profile_set_login_id, [old, new, uid],
                 {old: expected(old, m), new: None, uid: expected(old, m)},
                 {old: None, new: expected(new, m), uid: expected(new, m)},
                 through_kenpod=True)


def test_nickname_through_kenpod(sb, env, kenpo):
    login = unique("Nick.Taro")
    m = added(sb, env, login, nickname="まえ")

    def kenpo_profile_set_nickname():
        r = kenpo("profile", "set", login, "nickname=あと")
        assert r.returncode == 0, r.stdout + r.stderr

    check_change(sb, env, kenpo_profile_set_nickname, [login],
                 {login: expected(login, m)}, {login: expected(login, m, "あと")})


@pytest.mark.parametrize("what", ["disable", "delete"])
def test_kenpo_admin_change(sb, env, admin, what):
    login = unique("Adm.Taro")
    m = added(sb, env, login)
    uid = str(m["uid_number"])

    def kenpo_admin():
        r = admin(*(["disable", login] if what == "disable" else ["--yes", "delete", login]))
        assert r.returncode == 0, r.stderr
    kenpo_admin.__name__ = "kenpo_admin_" + what

    check_change(sb, env, kenpo_admin, [login, uid],
                 {login: expected(login, m), uid: expected(login, m)},
                 {login: None, uid: None})


@pytest.mark.parametrize("what", ["rename", "disable", "delete"])
def test_ldapmodify_change(sb, env, what):
    login, new = unique("Ldm.Old"), unique("Ldm.New")
    m = added(sb, env, login)
    uid = str(m["uid_number"])
    mod = {"rename": "replace: uid\nuid: %s\n" % new,
           "disable": "replace: kenpoDisabled\nkenpoDisabled: TRUE\n"}

    def ldapmodify():
        if what == "delete":
            sb.ldap_admin_cmd("ldapdelete", m["dn"])
        else:
            sb.ldapmodify("dn: %s\nchangetype: modify\n%s" % (m["dn"], mod[what]))
    ldapmodify.__name__ = "ldapmodify_" + what

    after = expected(new, m) if what == "rename" else None
    check_change(sb, env, ldapmodify, [login, uid, new],
                 {login: expected(login, m), uid: expected(login, m), new: None},
                 {login: None, uid: after, new: after})


# ---- damaged, truncated and stale files ---------------------------------------------------

def copy_map(sb, tmp_path, name="copy.mc"):
    """A byte copy of the published map, mode 0644, and its bytes."""
    with open(sb.kenpod_map, "rb") as f:
        data = bytearray(f.read())
    path = str(tmp_path / name)
    return path, data


def write_copy(path, data, beat=True):
    """Write the copy; `beat` stamps its heartbeat now, as a live kenpod would."""
    if beat:
        now_ms = int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1000)
        struct.pack_into("<q", data, OFF_HEARTBEAT, now_ms)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o644)


def answered(sb, env, key):
    """(fields or None, whether kenpod was asked) of one lookup."""
    start = log_size(sb)
    rc, out, _ = getent(env, key)
    return (passwd_fields(out) if rc == 0 else None), asked(log_since(sb, start), key)


@pytest.fixture
def damaged(sb, env, tmp_path):
    """A member and a fresh copy of the map holding it."""
    login = unique("Dmg.Taro")
    m = added(sb, env, login, nickname=unique("損傷テスト"))
    path, data = copy_map(sb, tmp_path)
    return m, path, data, nss_env(sb, passwd_map=path)


def test_intact_copy_is_used(sb, damaged):
    m, path, data, env = damaged
    write_copy(path, data)
    assert answered(sb, env, m["login"]) == (expected(m["login"], m), False)


def test_damaged_record_is_refused(sb, damaged):
    m, path, data, env = damaged
    at = data.find(m["nickname"].encode())
    assert at > 0 and data.find(m["nickname"].encode(), at + 1) < 0
    data[at + 2] ^= 0x01
    write_copy(path, data)
    # The right nickname, from kenpod.
    assert answered(sb, env, m["login"]) == (expected(m["login"], m), True)
    assert answered(sb, env, str(m["uid_number"])) == (expected(m["login"], m), True)


@pytest.mark.parametrize("cut", [0.5, 0.99, 100], ids=["half", "last-bytes", "header-only"])
def test_truncated_file_is_refused(sb, damaged, cut):
    m, path, data, env = damaged
    n = int(len(data) * cut) if cut < 1 else int(cut)
    write_copy(path, bytearray(data[:n]) if n >= 216 else data[:n], beat=n >= 216)
    assert answered(sb, env, m["login"]) == (expected(m["login"], m), True)


def test_damaged_header_is_refused(sb, damaged):
    m, path, data, env = damaged
    struct.pack_into("<Q", data, OFF_DATA_END, struct.unpack_from("<Q", data, OFF_DATA_END)[0]
                     + 8)
    write_copy(path, data)
    assert answered(sb, env, m["login"]) == (expected(m["login"], m), True)


def test_garbage_never_answers(sb, damaged):
    """Random bytes over the tables and records: never a wrong answer, never
    a crash, never a hang."""
    import random
    m, path, data, env = damaged
    rng = random.Random(13)
    for round_ in range(6):
        junk = bytearray(data)
        for _ in range(200 * (round_ + 1)):
            junk[rng.randrange(4096, len(junk))] = rng.randrange(256)
        write_copy(path, junk)
        for key in (m["login"], str(m["uid_number"])):
            fields, _ = answered(sb, env, key)
            assert fields == expected(m["login"], m)


def test_stale_or_replaced_copy_is_not_used(sb, damaged):
    m, path, data, env = damaged
    write_copy(path, data, beat=False)
    struct.pack_into("<q", data, OFF_HEARTBEAT,
                     int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1000) - 10000)
    write_copy(path, data, beat=False)
    assert answered(sb, env, m["login"]) == (expected(m["login"], m), True)
    struct.pack_into("<I", data, OFF_STATUS, REPLACED)
    write_copy(path, data)
    assert answered(sb, env, m["login"]) == (expected(m["login"], m), True)


def test_map_of_another_kenpod_is_not_used(sb, damaged, tmp_path):
    """The socket recorded in the file must be the one the module asks."""
    m, path, data, env = damaged
    write_copy(path, data)
    other = nss_env(sb, passwd_map=path, sock=str(tmp_path / "other.sock"))
    assert getent(other, m["login"])[0] == NOT_FOUND


# ---- kenpod and slapd stopped, killed, restarted --------------------------------------------

def test_kenpod_stopped_takes_the_map_away(sb, env):
    m = added(sb, env, unique("Stop.Taro"))
    sb.stop_kenpod()
    try:
        assert not os.path.exists(sb.kenpod_map)
        rc, _, took = getent(env, m["login"])
        assert rc == NOT_FOUND and took < 1.0
    finally:
        sb.start_kenpod()
    assert wait_for(lambda: in_map(env, m["login"]))


def test_kenpod_killed_is_not_believed_for_long(sb, env):
    """A kenpod that dies without a word leaves its map: the module uses it
    at most STALE_S longer, then asks the socket, which nobody answers."""
    m = added(sb, env, unique("Kill.Taro"))
    os.kill(sb.kenpod_pid(), signal.SIGKILL)
    killed = time.monotonic()
    try:
        assert wait_for(lambda: getent(env, m["login"])[0] == NOT_FOUND, STALE_S + 3)
        gone = time.monotonic() - killed
        print("killed kenpod's map refused %.2f s after the kill" % gone)
        assert gone <= STALE_S + 1.5
        assert os.path.exists(sb.kenpod_map)
    finally:
        sb.stop_kenpod()
        sb.start_kenpod()
    # The new kenpod takes the path over and publishes its own map, once it
    # has read the directory (the module asks the socket until then).
    assert wait_for(lambda: map_published(sb), PROPAGATION_MAX + 10)
    assert wait_for(lambda: in_map(env, m["login"]))


def test_slapd_restart_reads_the_directory_again(sb, env):
    m = added(sb, env, unique("Slapd.Taro"))
    reads = reads_logged(sb)
    sb.stop_slapd()
    try:
        # Served meanwhile: members still resolve without the directory.
        assert getent(env, m["login"])[0] == 0
    finally:
        sb.start_slapd()
    assert wait_for(lambda: reads_logged(sb) > reads, 15)
    new = unique("Slapd.New")
    sb.ldapmodify("dn: %s\nchangetype: modify\nreplace: uid\nuid: %s\n" % (m["dn"], new))
    assert wait_for(lambda: in_map(env, new), PROPAGATION_MAX)
    assert getent(env, m["login"])[0] == NOT_FOUND


def test_directory_lost_too_long_suspends_the_map(sb, env):
    """After cache_positive_ttl without the directory the map is no longer
    believed; once the directory is back it is read again."""
    with sb.kenpod_settings_changed(kenpod={"cache_positive_ttl": "2s"}):
        assert wait_for(lambda: map_published(sb))
        m = added(sb, env, unique("Lost.Taro"))
        sb.stop_slapd()
        lost = time.monotonic()
        try:
            assert wait_for(lambda: getent(env, m["login"])[0] == NOT_FOUND, 10)
            took = time.monotonic() - lost
            assert took >= 2.0, took
        finally:
            sb.start_slapd()
        assert wait_for(lambda: in_map(env, m["login"]), 15)
