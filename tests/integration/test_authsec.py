"""What an outsider cannot do to a member's login, tried as an attacker would.

- Lock the member out: wrong passwords count by source (PAM_RHOST, or the
  address a portal passes); the member coming from elsewhere with the
  right password and key still gets in, and attempts in parallel are
  counted before anything is verified.
- Tell known login IDs from unknown ones by the answer, its time or the
  directory's work, on one kenpod or across two sharing a directory.
- Guess the key: wrong keys count, keys mailed per hour and wrong keys per
  day are capped.
- Use an expired temporary password, or change the password with the
  password alone; read a login's handles from /proc; dump kenpod.

And what the web screens need of the login: resend and abort verbs, an
empty key line that re-requests, an expired key that offers a new one,
the key at the chosen address, the mode-aware key mail, and the previous
login and the history for web logins.

Figures (the member's extra wait under attack, the median times known
and unknown) are printed; run with -s to see them.
"""

import calendar
import concurrent.futures
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time

import pytest

import kenpoproto as kp
import kenposandbox as ks
from conftest import check_kenpod, start_sandbox
from test_pam import (AUTHENTICATE, PAM_AUTH_ERR, PAM_SUCCESS,  # noqa: F401
                      drive, driver, expect_ok, module_path, pam_env, pamtest, service_dir)
from test_selfservice import catalogue  # noqa: F401

PASSWORD = "Kenpo2024Pass"
WRONG = "Wrong2024Pass"
NEW_PASSWORD = "Shinki2025Pw"
TEMP_PASSWORD = "P0a40aca"
ATTACKER = "198.51.100.7"
MEMBER_HOST = "203.0.113.9"
KEY_RE = re.compile(r"(?<!\d)(\d{10})(?!\d)")
PROOF_RE = r"\d{13}\.[0-9a-f]{32}"
_seq = [0]


# ---- fixtures ------------------------------------------------------------------

@pytest.fixture(scope="module")
def sb(tmp_path_factory, builddir):
    s = start_sandbox(tmp_path_factory, builddir, "sec", ("kenpod", "kenpo", "kenpo-admin"))
    yield s
    s.down()


@pytest.fixture(autouse=True)
def kenpod_healthy(sb):
    yield
    check_kenpod(sb)


@pytest.fixture(scope="module")
def hashes(testtool, tool_env):
    out = {}
    for pw in (PASSWORD, TEMP_PASSWORD):
        r = subprocess.run([testtool, "hash-password"], input=pw + "\n", capture_output=True,
                           text=True, env=tool_env, check=True)
        out[pw] = r.stdout.strip()
    return out


@pytest.fixture(scope="module")
def tool(sb, builddir, srcdir, catalogue):
    """tool(*args, input=None, sock=None) -> (exit, JSON answer) of kenpo --json."""
    binary = os.path.join(builddir, "kenpo")
    loc, locs = catalogue

    def run(*args, input=None, sock=None):
        env = dict(os.environ, KENPO_SOCKET=sock or sb.kenpod_socket, KENPO_LOCALEDIR=loc,
                   LOCPATH=locs,
                   LSAN_OPTIONS="suppressions=%s" % os.path.join(srcdir, "tests", "lsan.supp"))
        env.pop("LANGUAGE", None)
        r = subprocess.run([binary, "--json"] + list(args), input=input, capture_output=True,
                           text=True, env=env, timeout=60)
        assert not any(m in r.stderr for m in ks.SANITIZER_MARKERS), r.stderr
        return r.returncode, json.loads(r.stdout)
    return run


@pytest.fixture(scope="module")
def admin(sb, builddir):
    def run(*args):
        env = dict(os.environ, LDAPNOINIT="1")
        env.pop("LOCPATH", None)
        env["LSAN_OPTIONS"] = "suppressions=%s" % os.path.join(ks.srcdir(), "tests", "lsan.supp")
        return subprocess.run([os.path.join(builddir, "kenpo-admin"), "-c", sb.kenpod_conf,
                               "-D", ks.ADMIN_DN, "-y", sb.admin_pw_file] + list(args),
                              capture_output=True, text=True, env=env, timeout=120,
                              stdin=subprocess.DEVNULL)
    return run


# ---- helpers -------------------------------------------------------------------

def unique(prefix):
    _seq[0] += 1
    return "%s%03d%s" % (prefix, _seq[0], os.urandom(2).hex())


def new_member(sb, hashes, mails=None, extra=(), temp=False):
    login = unique("Sec.")
    addr = "%s@mail.example.jp" % login.lower().replace(".", "-")
    mails = mails or [addr]
    attrs = list(extra) + [("userPassword", hashes[PASSWORD])]
    attrs += [("kenpoMail%d" % (i + 1), a) for i, a in enumerate(mails)]
    if temp:
        attrs.append(("kenpoTempPassword", hashes[TEMP_PASSWORD]))
    m = sb.add_member(login, extra=attrs)
    m["mail"] = mails[0]
    m["mails"] = mails
    return m


def client(sb, sock=None):
    return kp.Client(sock or sb.kenpod_socket, timeout=30.0)


def mails_to(sb, addr, subject=None):
    return [x for x in sb.mails() if addr in x.kenpo_to and
            (subject is None or subject in x.kenpo_subject)]


def key_mail(sb, addr, n=1, timeout=15.0):
    """The key of the n-th key mail to addr."""
    deadline = time.monotonic() + timeout
    while True:
        ms = mails_to(sb, addr, "暗証キー")
        if len(ms) >= n:
            return KEY_RE.findall(ms[n - 1].kenpo_body)[0]
        if time.monotonic() >= deadline:
            raise TimeoutError("no key mail #%d to %s" % (n, addr))
        time.sleep(0.02)


def wait_mails(sb, addr, n, subject=None, timeout=15.0):
    deadline = time.monotonic() + timeout
    while len(mails_to(sb, addr, subject)) < n:
        if time.monotonic() >= deadline:
            raise TimeoutError("%d mails to %s" % (len(mails_to(sb, addr, subject)), addr))
        time.sleep(0.02)
    return mails_to(sb, addr, subject)


def entry(sb, m):
    return sb.entry(m["dn"])


def wrong_key(key):
    return "%010d" % ((int(key) + 1) % 10 ** 10)


def fail_until(c, login, rhost, result, limit=40):
    """Wrong passwords from rhost, waiting out delays, until `result` comes."""
    for _ in range(limit):
        r = c.auth_password(login, WRONG, rhost=rhost)
        if r["name"] == result:
            return r
        if r["name"] == "DELAY":
            time.sleep(r["seconds"])
    raise AssertionError("no %s from %s" % (result, rhost))


def full_login(sb, m, rhost=MEMBER_HOST, sock=None):
    """Password and key from rhost: the key's answer."""
    with client(sb, sock) as c:
        n = len(mails_to(sb, m["mail"], "暗証キー"))
        a = c.auth_password(m["login"], PASSWORD, rhost=rhost)
        assert a["name"] == "KEY_SENT", a
        return c.auth_key(m["login"], a["txn"], key_mail(sb, m["mail"], n + 1), rhost=rhost)


def log_text(sb):
    with open(sb.kenpod_log, errors="replace") as f:
        return f.read()


# ---- an outsider cannot keep a member out -----------------------------------------

def test_a_member_gets_in_while_another_source_hammers(sb, hashes):
    """The attacker's source is locked; the member's, never used before,
    is not.  The member's extra wait under attack is measured."""
    with sb.kenpod_settings_changed(society={"lockout_failures": "4",
                                             "lockout_duration": "10m"}):
        m = new_member(sb, hashes)

        def timed_login(who):
            t0 = time.monotonic()
            assert full_login(sb, who)["name"] == "OK"
            return time.monotonic() - t0

        quiet = statistics.median(timed_login(new_member(sb, hashes)) for _ in range(3))
        with client(sb) as c:
            locked = fail_until(c, m["login"], ATTACKER, "LOCKED")
            assert 590 <= locked["seconds"] <= 600
            # Even the right password, from the attacker's source.
            assert c.auth_password(m["login"], PASSWORD, rhost=ATTACKER)["name"] == "LOCKED"
        stop = threading.Event()
        hammered = [0]

        answers = set()

        def hammer():
            while not stop.is_set():
                with client(sb) as h:     # a connection each, as an attacker's
                    answers.add(h.auth_password(m["login"], WRONG, rhost=ATTACKER)["name"])
                hammered[0] += 1

        threads = [threading.Thread(target=hammer) for _ in range(2)]
        for t in threads:
            t.start()
        try:
            under_attack = statistics.median(timed_login(m) for _ in range(3))
        finally:
            stop.set()
            for t in threads:
                t.join()
        assert hammered[0] > 0 and answers == {"LOCKED"}, answers
        print("\nmember's full login (password + key), median of 3: %.0f ms quiet, %.0f ms "
              "while %d attempts hammered the account: %+.0f ms" % (
                  quiet * 1e3, under_attack * 1e3, hammered[0], (under_attack - quiet) * 1e3))
        # The member's source is familiar now; the attacker's stays locked.
        with client(sb) as c:
            assert c.account(m["login"], MEMBER_HOST)["name"] == "OK"
            assert c.account(m["login"], ATTACKER)["name"] == "LOCKED"
        assert re.search(r'audit v=1 event=login\.lock .*login="%s" .* scope="source"$'
                         % re.escape(m["login"]), log_text(sb), re.M)


def test_parallel_attempts_are_counted_before_verifying(sb, hashes):
    """8 wrong passwords at once from one source: each verification was
    counted first, so the delay holds (DELAY, without argon2, for those
    that come after the third); from 8 sources at once, all 8 count."""
    m = new_member(sb, hashes)

    def attempt(rhost):
        with client(sb) as c:
            return c.auth_password(m["login"], WRONG, rhost=rhost)["name"]

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        names = list(ex.map(attempt, [ATTACKER] * 8))
    took = time.monotonic() - t0
    verified = names.count("AUTH_ERR")
    sources = entry(sb, m).get("kenpoAuthSource", [])
    assert len(sources) == 1
    counted = int(sources[0].split(":")[1])
    print("\n8 at once from one source: %d verified and counted, %d delayed (%.1f s)"
          % (verified, names.count("DELAY"), took))
    assert counted == verified
    assert set(names) <= {"AUTH_ERR", "DELAY"} and "DELAY" in names
    # Three go through at once; one more for each second the others took
    # to arrive on a busy machine (the delay after the third is a second).
    assert verified <= 3 + int(took)
    m = new_member(sb, hashes)
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        names = list(ex.map(attempt, ["192.0.2.%d" % i for i in range(10, 18)]))
    assert names == ["AUTH_ERR"] * 8
    e = entry(sb, m)
    assert e["kenpoUnfamiliarFailures"] == ["8"] and len(e["kenpoAuthSource"]) == 8


def test_many_sources_lock_the_unfamiliar_ones_only(sb, hashes, admin):
    """The pool of unfamiliar sources locks them all, not the member's
    familiar place; kenpo-admin unlock clears it."""
    with sb.kenpod_settings_changed(society={"lockout_unfamiliar_failures": "5"}):
        m = new_member(sb, hashes)
        assert full_login(sb, m)["name"] == "OK"          # MEMBER_HOST is familiar now
        with client(sb) as c:
            for i in range(5):
                assert c.auth_password(m["login"], WRONG,
                                       rhost="198.51.100.%d" % (20 + i))["name"] == "AUTH_ERR"
            r = c.auth_password(m["login"], PASSWORD, rhost="198.51.100.99")
            assert r["name"] == "LOCKED" and r["seconds"] > 1700, r
            assert c.auth_password(m["login"], PASSWORD, rhost=MEMBER_HOST)["name"] == \
                "KEY_SENT"
            r = admin("unlock", m["login"])
            assert r.returncode == 0, r.stderr
            assert "kenpoUnfamiliarLockedUntil" not in entry(sb, m)
            assert c.auth_password(m["login"], PASSWORD, rhost="198.51.100.99")["name"] == \
                "KEY_SENT"


def test_pam_rhost_counts_by_source(sb, hashes, tmp_path, module_path, pam_env, driver):
    """Through pam_kenpo: PAM_RHOST is the source.  A lock of one host is
    not another's."""
    m = new_member(sb, hashes)
    d = service_dir(tmp_path, module_path, sb.kenpod_socket, "lang=en")
    with sb.kenpod_settings_changed(society={"lockout_failures": "3",
                                             "lockout_duration": "10m"}):
        with client(sb) as c:
            fail_until(c, m["login"], "192.0.2.1", "LOCKED")   # pam-driver's rhost
        out = drive(driver, pam_env, d, m["login"], ["auth"], [PASSWORD])
        assert out.results == [PAM_AUTH_ERR]
        assert out.texts("ERROR")[0].startswith("This account is locked")
        # From elsewhere, with the key, the member gets in.
        assert full_login(sb, m, rhost="203.0.113.77")["name"] == "OK"


def test_logins_leave_audit_lines(sb, hashes):
    """Logins and their failures in the one audit format of kenpod(8): the
    member (empty for a login ID that names nobody), the source, the reason."""
    m = new_member(sb, hashes)
    ghost = unique("Ghost.")
    with client(sb) as c:
        assert c.auth_password(m["login"], WRONG, rhost=ATTACKER)["name"] == "AUTH_ERR"
        assert c.auth_password(ghost, WRONG, rhost=ATTACKER)["name"] == "AUTH_ERR"
    assert full_login(sb, m)["name"] == "OK"
    text = log_text(sb)
    head = r'audit v=1 event=%s at=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z member="%s" ' \
           r'login="%s" caller_uid="\d+" caller_pid="\d+" service="kenpo-test" rhost="%s" '
    for event, dn, login, rhost, more in (
            ("login\\.failed", m["dn"], m["login"], ATTACKER, 'reason="password"'),
            ("login\\.failed", "", ghost, ATTACKER, 'reason="unknown"'),
            ("login\\.complete", m["dn"], m["login"], MEMBER_HOST, 'must_change="no"')):
        pattern = head % (event, re.escape(dn), re.escape(login), re.escape(rhost)) + more + "$"
        assert re.search(pattern, text, re.M), pattern
    assert PASSWORD not in text and WRONG not in text


# ---- nothing to enumerate --------------------------------------------------------

def _alike(name, measure, rounds=2):
    """measure() -> (known times, unknown times) of one round of 50 tries
    each, made alternately.  Their medians must lie within 20 %; when they
    do not, a loaded machine may be the cause, so another round of fresh
    tries is made, up to `rounds`.  A real difference fails every round."""
    for _ in range(rounds):
        known, unknown = measure()
        k, u = statistics.median(known), statistics.median(unknown)
        ratio = abs(k - u) / max(k, u)
        print("\n%s, median of %d: known %.1f ms, unknown %.1f ms (%.0f %%)"
              % (name, len(known), k * 1e3, u * 1e3, ratio * 100))
        if ratio <= 0.2:
            return k, u
    pytest.fail("%s: median known %.1f ms, unknown %.1f ms" % (name, k * 1e3, u * 1e3))


def _alternate(members, ghosts):
    """(kind, member or login ID) pairs, known and unknown by turns, either
    first every other time."""
    for i, (m, ghost) in enumerate(zip(members, ghosts)):
        pair = ((0, m), (1, ghost))
        yield from pair if i % 2 == 0 else pair[::-1]


def test_known_and_unknown_alike_at_kenpo_login(sb, hashes, tool):
    """50 known and 50 unknown login IDs, one wrong password each through
    `kenpo login`: the same answer and exit, the same directory work, and
    medians within 20 %."""
    answers = set()
    seen = ([], [])

    def measure():
        members = [new_member(sb, hashes)["login"] for _ in range(50)]
        ghosts = [unique("Ghost.") for _ in range(50)]
        times = ([], [])
        for kind, login in _alternate(members, ghosts):
            t0 = time.monotonic()
            rc, a = tool("login", "--rhost", ATTACKER, login, input=WRONG + "\n")
            times[kind].append(time.monotonic() - t0)
            answers.add((rc, json.dumps(a, sort_keys=True)))
            seen[kind].append(login)
        return times

    _alike("kenpo login, wrong password", measure)
    assert len(answers) == 1, answers
    # The same work for the directory: one search and one write each.
    costs = re.findall(r"auth password login=(\S+) .*: refused \(ldap: (\d+) searches, "
                       r"(\d+) modifies\)", log_text(sb))
    by_login = {login: (s, w) for login, s, w in costs}
    assert {by_login[login] for login in seen[0]} == {("1", "1")}
    assert {by_login[login] for login in seen[1]} == {("1", "1")}


def test_known_and_unknown_alike_at_pam(sb, hashes, tmp_path, module_path, pam_env):
    d = service_dir(tmp_path, module_path, sb.kenpod_socket)

    def measure():
        members = [new_member(sb, hashes)["login"] for _ in range(50)]
        ghosts = [unique("Ghost.") for _ in range(50)]
        order = list(_alternate(members, ghosts))
        res = pamtest(pam_env, d, [(login, [(AUTHENTICATE, PAM_AUTH_ERR, 0)], [WRONG])
                                   for _, login in order])
        times = ([], [])
        for (kind, _), r in zip(order, res):
            assert expect_ok(r)["errors"] == ["ログインIDまたはパスワードが正しくありません。"]
            times[kind].append(r["secs"])
        return times

    _alike("PAM, wrong password", measure)


def test_known_and_unknown_alike_across_two_hosts(sb, hashes):
    """Failures on host A hold on host B for unknown login IDs as for
    members (their state is in the directory), and B's times agree."""
    sock_b = sb.start_extra_kenpod("b")

    def ask(sock, login, password):
        with client(sb, sock) as c:          # a connection each, as clients do
            return c.auth_password(login, password, rhost=ATTACKER)

    def measure():
        members = [new_member(sb, hashes)["login"] for _ in range(50)]
        ghosts = [unique("Ghost.") for _ in range(50)]
        times = ([], [])
        for kind, login in _alternate(members, ghosts):
            assert ask(sb.kenpod_socket, login, WRONG)["name"] == "AUTH_ERR"
            t0 = time.monotonic()
            assert ask(sock_b, login, WRONG)["name"] == "AUTH_ERR"
            times[kind].append(time.monotonic() - t0)
        return times

    try:
        _alike("two hosts, second failure on B", measure)
        # Three failures on A: B delays both alike.
        member, ghost = new_member(sb, hashes)["login"], unique("Ghost.")
        delayed = []
        for login in (member, ghost):
            for _ in range(3):
                assert ask(sb.kenpod_socket, login, WRONG)["name"] == "AUTH_ERR"
            delayed.append(ask(sock_b, login, PASSWORD))
        assert delayed[0] == delayed[1] and delayed[0]["name"] == "DELAY", delayed
        # Where the unknown ID's state is: a failure entry, no member.
        assert sb.count_entries("ou=rates," + ks.SOCIETY_BASE,
                                "(objectClass=kenpoLoginFailures)") >= 50
    finally:
        sb.stop_extra_kenpod("b")


# ---- keys ----------------------------------------------------------------------

def test_key_mails_per_hour_are_capped(sb, hashes, tool, tmp_path, module_path, pam_env):
    with sb.kenpod_settings_changed(society={"key_mails_per_hour": "2",
                                             "key_resend_cooldown": "0s"}):
        m = new_member(sb, hashes)
        with client(sb) as c:
            a = c.auth_password(m["login"], PASSWORD)
            assert c.auth_resend(m["login"], a["txn"])["name"] == "KEY_SENT"
            r = c.auth_resend(m["login"], a["txn"])
            assert r["name"] == "KEY_LIMIT" and 3500 <= r["seconds"] <= 3600, r
            r = c.auth_password(m["login"], PASSWORD)
            assert r["name"] == "KEY_LIMIT", r
        assert len(mails_to(sb, m["mail"])) == 2
        # kenpo: the login finds the key pending (split mode: no mail), and
        # asking for a new one is refused.
        rc, a = tool("login", m["login"], input=PASSWORD + "\n")
        assert (rc, a["error"], a["key_pending"]) == (6, "key-sent", True), a
        rc, a = tool("login", "resend", m["login"], input=a["txn"] + "\n")
        assert (rc, a["error"]) == (1, "key-limit") and a["seconds"] > 3500, a
        assert "上限" in a["message"]["ja"]
        d = service_dir(tmp_path, module_path, sb.kenpod_socket)
        r = pamtest(pam_env, d, [(m["login"], [(AUTHENTICATE, PAM_AUTH_ERR, 0)], [PASSWORD])])
        assert expect_ok(r[0])["errors"] == [
            "この1時間に送信した暗証キーが上限に達しました。新しい暗証キーは60分後に送信できます。"]


def test_wrong_keys_count(sb, hashes, admin):
    """Wrong keys count as failures of the login's source (delays), and
    in the window of a day: at key_failures_per_day keys wait."""
    with sb.kenpod_settings_changed(society={"key_failures_per_day": "4"}):
        m = new_member(sb, hashes)
        with client(sb) as c:
            a = c.auth_password(m["login"], PASSWORD, rhost=ATTACKER)
            key = key_mail(sb, m["mail"])
            for _ in range(3):
                assert c.auth_key(m["login"], a["txn"], wrong_key(key))["name"] == "KEY_WRONG"
            # Three failures of that source: even the right password waits.
            r = c.auth_password(m["login"], PASSWORD, rhost=ATTACKER)
            assert (r["name"], r["seconds"]) == ("DELAY", 1), r
            time.sleep(1.1)
            a = c.auth_password(m["login"], PASSWORD, rhost=ATTACKER)
            assert a["name"] == "KEY_SENT"
            key = key_mail(sb, m["mail"], 2)
            assert c.auth_key(m["login"], a["txn"], wrong_key(key))["name"] == "KEY_WRONG"
            # The fourth wrong key of the day: keys wait for the day to end,
            # from any source, even with the right key.
            r = c.auth_key(m["login"], a["txn"], key)
            assert r["name"] == "LOCKED" and r["seconds"] > 86000, r
            r = c.auth_password(m["login"], PASSWORD, rhost=MEMBER_HOST)
            assert r["name"] == "LOCKED" and r["seconds"] > 86000, r
            assert entry(sb, m)["kenpoKeyFailures"] == ["4"]
            assert admin("unlock", m["login"]).returncode == 0
            assert c.auth_password(m["login"], PASSWORD, rhost=MEMBER_HOST)["name"] in \
                ("KEY_SENT", "KEY_PENDING")


# ---- temporary passwords ---------------------------------------------------------------

def test_expired_temporary_passwords(sb, hashes, tool, tmp_path, module_path, pam_env):
    """A reset's temporary password after reset_validity, and a letter's
    (no expiry of its own) after the society's temp_password_expiry, get
    their own answer and message."""
    d = service_dir(tmp_path, module_path, sb.kenpod_socket)
    with sb.kenpod_settings_changed(society={"reset_validity": "2s",
                                             "temp_password_expiry": "2020-03-31"}):
        m = new_member(sb, hashes)
        assert tool("reset", "request", m["mail"])[0] == 0
        mail = wait_mails(sb, m["mail"], 1)[0]
        temp = re.search(r"仮パスワード : ([A-Za-z0-9]{8})", mail.kenpo_body).group(1)
        time.sleep(2.2)
        rc, a = tool("login", m["login"], input=temp + "\n")
        assert (rc, a["error"]) == (1, "temp-expired"), a
        assert "有効期限" in a["message"]["ja"]
        r = pamtest(pam_env, d, [(m["login"], [(AUTHENTICATE, PAM_AUTH_ERR, 0)], [temp])])
        assert expect_ok(r[0])["errors"] == [
            "仮パスワードの有効期限が切れています。健康マイポータルのパスワード再発行のページ"
            "から、新しい仮パスワードを請求してください。"]
        letter = sb.add_preissued_member(extra=[("kenpoTempPassword", hashes[TEMP_PASSWORD])])
        with client(sb) as c:
            assert c.auth_password(letter["login"], TEMP_PASSWORD)["name"] == "TEMP_EXPIRED"
            assert c.auth_password(letter["login"], "P0a40acb")["name"] == "AUTH_ERR"
    # Without the date it is still good (and the member must register).
    with client(sb) as c:
        assert c.auth_password(letter["login"], TEMP_PASSWORD)["name"] == "NOT_REGISTERED"


# ---- password changes ----------------------------------------------------------------

def test_kenpo_password_change_needs_a_completed_login(sb, hashes, tool):
    mails = ["pw-1-%s@mail.example.jp" % os.urandom(3).hex(),
             "pw-2-%s@mail.example.com" % os.urandom(3).hex(),
             "pw-3-%s@mail.example.net" % os.urandom(3).hex()]
    m = new_member(sb, hashes, mails=mails)
    change = "%s\n" + "%s\n%s\n%s\n" % (PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
    # The password alone proves nothing.
    rc, a = tool("password", "change", m["login"], input=change % "")
    assert (rc, a["error"]) == (5, "login-required"), a
    rc, a = tool("password", "change", m["login"], input=change % ("9" * 13 + "." + "a" * 32))
    assert (rc, a["error"]) == (5, "login-required"), a
    rc, a = tool("login", m["login"], input=PASSWORD + "\n")
    assert (rc, a["error"]) == (6, "key-sent") and "proof" not in a
    rc, a = tool("login", "key", m["login"], input="%s\n%s\n" % (a["txn"], key_mail(sb, mails[0])))
    assert rc == 0 and re.fullmatch(PROOF_RE, a["proof"]), a
    proof = a["proof"]
    # A wrong current password with the proof: refused and counted (on
    # the member's own count: this source logged in a moment ago).
    rc, a = tool("password", "change", m["login"],
                 input="%s\n%s\n%s\n%s\n" % (proof, WRONG, NEW_PASSWORD, NEW_PASSWORD))
    assert (rc, a["error"]) == (1, "auth-failed"), a
    assert entry(sb, m)["kenpoAuthFailures"] == ["1"]
    rc, a = tool("password", "change", m["login"], input=change % proof)
    assert rc == 0, a
    # Every registered address hears of it, and the proof is spent.
    for addr in mails:
        notice = wait_mails(sb, addr, 1, "パスワード変更のお知らせ")[0]
        assert "変更日時：" in notice.kenpo_body
    rc, a = tool("password", "change", m["login"],
                 input="%s\n%s\n%s\n%s\n" % (proof, NEW_PASSWORD, PASSWORD, PASSWORD))
    assert (rc, a["error"]) == (5, "login-required"), a
    assert "audit v=1 event=password.change " in log_text(sb)


def test_pam_chauthtok_needs_the_key(sb, hashes, tmp_path, module_path, pam_env, driver):
    """`passwd` for a member: the current password, then the key, then the
    new password twice; and every address hears of it."""
    m = new_member(sb, hashes)
    # English: a set-uid program ignores the catalogue of the environment.
    d = service_dir(tmp_path, module_path, sb.kenpod_socket, "lang=en")
    # A member's passwd: set-uid root, run by someone else than root.
    member = ["-u", "65534"] if os.geteuid() == 0 else []
    out = drive(driver, pam_env, d, m["login"], ["chauthtok"],
                [PASSWORD, lambda _: key_mail(sb, m["mail"]), NEW_PASSWORD, NEW_PASSWORD],
                options=member)
    assert out.results == [PAM_SUCCESS], out.transcript
    assert [t for k, t in out.transcript if k.startswith("PROMPT")] == [
        "Current password: ", "One-time key: ", "New password: ", "Retype new password: "]
    wait_mails(sb, m["mail"], 1, "パスワード変更のお知らせ")
    # A wrong key: nothing changes.
    out = drive(driver, pam_env, d, m["login"], ["chauthtok"],
                [NEW_PASSWORD, lambda _: wrong_key(key_mail(sb, m["mail"], 2)), None],
                options=member)
    assert out.results != [PAM_SUCCESS]
    with client(sb) as c:
        assert c.auth_password(m["login"], NEW_PASSWORD)["name"] in ("KEY_SENT", "KEY_PENDING")


# ---- secrets off the command line; kenpod itself --------------------------------------

def test_no_login_handle_on_any_command_line(sb, hashes, builddir, srcdir):
    """A full `kenpo login` flow (password, key, resend, history, password
    change) while every /proc/*/cmdline is read: no password, txn, key,
    proof or ticket shows, and the kenpo processes were seen."""
    binary = os.path.join(builddir, "kenpo")
    env = dict(os.environ, KENPO_SOCKET=sb.kenpod_socket,
               LSAN_OPTIONS="suppressions=%s" % os.path.join(srcdir, "tests", "lsan.supp"))
    seen, secrets_ = set(), {PASSWORD, NEW_PASSWORD}
    stop = threading.Event()

    def scan():
        while not stop.is_set():
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open("/proc/%s/cmdline" % pid, "rb") as f:
                        cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
                except OSError:
                    continue
                if binary in cmd:
                    seen.add(cmd)

    def kenpo(*args, lines=()):
        p = subprocess.Popen([binary, "--json"] + list(args), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=env)
        time.sleep(0.2)             # the process waits on its stdin meanwhile
        out, _ = p.communicate("".join(x + "\n" for x in lines), timeout=60)
        a = json.loads(out)
        secrets_.update(str(a[k]) for k in ("txn", "proof", "ticket") if a.get(k))
        return a

    m = new_member(sb, hashes)
    scanner = threading.Thread(target=scan)
    scanner.start()
    try:
        with sb.kenpod_settings_changed(society={"key_resend_cooldown": "0s"}):
            a = kenpo("login", m["login"], lines=[PASSWORD])
            txn = a["txn"]
            a = kenpo("login", "resend", m["login"], lines=[txn])
            assert a["error"] == "key-sent", a
            key = key_mail(sb, m["mail"], 2)
            secrets_.add(key)
            a = kenpo("login", "key", m["login"], lines=[txn, key])
            assert a["ok"], a
            proof = a["proof"]
            assert kenpo("login", "history", m["login"], lines=[proof])["ok"]
            assert kenpo("password", "change", m["login"],
                         lines=[proof, PASSWORD, NEW_PASSWORD, NEW_PASSWORD])["ok"]
    finally:
        stop.set()
        scanner.join()
    assert any(" login key " in c for c in seen), seen
    leaked = [(s, c) for c in seen for s in secrets_ if s in c]
    assert not leaked, leaked


def _kenpod_as_nobody(sb, builddir):
    """A kenpod started as nobody (so that no change of uid makes it
    undumpable on its own), with copies of the sandbox's configuration and
    secret in a directory nobody may read; its Popen and that directory."""
    top = tempfile.mkdtemp(prefix="kenpod-dump-")
    os.chmod(top, 0o755)
    os.chown(top, 65534, 65534)
    conf = os.path.join(top, "kenpod.conf")
    sock = os.path.join(top, "kenpod.sock")
    saved = dict(sb.kenpod_settings)
    sb.kenpod_settings.update(user="nobody", secret_file=os.path.join(top, "secret"),
                              bind_password_file=os.path.join(top, "bind.pw"), socket=sock,
                              passwd_map=os.path.join(top, "passwd.mc"))
    try:
        text = sb.kenpod_config_text()
    finally:
        sb.kenpod_settings = saved
    for src, dst in ((sb.secret_file, "secret"), (sb.kenpod_pw_file, "bind.pw")):
        shutil.copy(src, os.path.join(top, dst))
    with open(conf, "w") as f:
        f.write(text)
    shutil.copy(os.path.join(builddir, "kenpod"), os.path.join(top, "kenpod"))
    for name in ("secret", "bind.pw", "kenpod.conf"):
        os.chown(os.path.join(top, name), 65534, 65534)
        os.chmod(os.path.join(top, name), 0o600)
    p = subprocess.Popen([os.path.join(top, "kenpod"), "-f", "-c", conf], user=65534,
                         group=65534, extra_groups=[], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=open(os.path.join(top, "log"), "w"),
                         cwd=top)
    deadline = time.monotonic() + 20
    while not os.path.exists(sock) and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return p, top


def test_kenpod_is_not_dumpable_and_makes_no_core(sb, builddir):
    """No core file, and not dumpable: another process of kenpod's user
    cannot read its memory (here /proc/PID/environ, which needs ptrace
    access), while it can read a dumpable process of that user."""
    proc, top, uid = None, None, os.geteuid()
    if uid == 0:
        proc, top = _kenpod_as_nobody(sb, builddir)
        pid, uid = proc.pid, 65534
    else:
        pid = sb.kenpod_pid()
    drop = {} if uid == os.geteuid() else dict(user=uid, group=uid, extra_groups=[])
    sleeper = subprocess.Popen(["sleep", "30"], **drop)
    try:
        assert proc is None or proc.poll() is None, open(os.path.join(top, "log")).read()
        with open("/proc/%d/limits" % pid) as f:
            core = [line.split() for line in f if line.startswith("Max core file size")][0]
        assert core[4:6] == ["0", "0"], core
        probe = ["cat"] if uid == os.geteuid() else \
            [shutil.which("setpriv"), "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups",
             "cat"]
        r = subprocess.run(probe + ["/proc/%d/environ" % sleeper.pid], capture_output=True)
        assert r.returncode == 0, r.stderr        # the probe reads a dumpable one
        r = subprocess.run(probe + ["/proc/%d/environ" % pid], capture_output=True)
        assert r.returncode != 0 and b"Permission denied" in r.stderr, r
    finally:
        sleeper.kill()
        sleeper.wait()
        if proc is not None:
            proc.terminate()
            proc.wait(10)
            shutil.rmtree(top, ignore_errors=True)


# ---- the key's address and wording ---------------------------------------------------------

def test_key_goes_to_the_chosen_address(sb, hashes):
    one = "key-one-%s@mail.example.jp" % os.urandom(3).hex()
    two = "key-two-%s@mail.example.com" % os.urandom(3).hex()
    m = new_member(sb, hashes, mails=[one, two], extra=[("kenpoKeyMail", "2")])
    with client(sb) as c:
        a = c.auth_password(m["login"], PASSWORD)
        assert a["masked"] == "****@****.com", a
        key = key_mail(sb, two)
        assert mails_to(sb, one) == []
        assert c.auth_key(m["login"], a["txn"], key)["name"] == "OK"
    # Address 3 chosen but empty: address 1.
    m = new_member(sb, hashes, mails=[one, two], extra=[("kenpoKeyMail", "3")])
    with client(sb) as c:
        a = c.auth_password(m["login"], PASSWORD)
        assert a["masked"] == "****@****.jp", a
        key_mail(sb, one)


def test_single_field_key_mail_says_password_then_key(sb, hashes):
    m = new_member(sb, hashes)
    with client(sb) as c:
        assert c.auth_password(m["login"], PASSWORD, kp.AUTHF_SINGLE)["name"] == "KEY_SENT"
    body = wait_mails(sb, m["mail"], 1)[0].kenpo_body
    assert "パスワードに続けて" in body and "暗証キー入力画面" not in body


# ---- the login verbs of kenpo --------------------------------------------------------------

def test_resend_abort_and_an_empty_key_line(sb, hashes, tool):
    m = new_member(sb, hashes)
    with sb.kenpod_settings_changed(society={"key_resend_cooldown": "0s"}):
        rc, a = tool("login", m["login"], input=PASSWORD + "\n")
        txn = a["txn"]
        old = key_mail(sb, m["mail"])
        # An empty key is a request for a new one, not a wrong key.
        rc, a = tool("login", "key", m["login"], input="%s\n\n" % txn)
        assert (rc, a["error"], a["resent"], a["txn"]) == (6, "key-sent", True, txn), a
        new = key_mail(sb, m["mail"], 2)
        assert "kenpoKeyTries" not in entry(sb, m)
        rc, a = tool("login", "resend", m["login"], input=txn + "\n")
        assert (rc, a["error"]) == (6, "key-sent"), a
        newest = key_mail(sb, m["mail"], 3)
        if new != newest:
            rc, a = tool("login", "key", m["login"], input="%s\n%s\n" % (txn, new))
            assert a["error"] == "key-wrong", a
        rc, a = tool("login", "abort", m["login"], input=txn + "\n")
        assert rc == 0 and a["ok"], a
        rc, a = tool("login", "key", m["login"], input="%s\n%s\n" % (txn, newest))
        assert (rc, a["error"]) == (1, "auth-failed"), a
        assert old  # the first key was mailed too


def test_an_expired_key_offers_a_new_one(sb, hashes, tool):
    m = new_member(sb, hashes)
    with sb.kenpod_settings_changed(society={"key_validity": "2s",
                                             "key_resend_cooldown": "0s"}):
        rc, a = tool("login", m["login"], input=PASSWORD + "\n")
        txn = a["txn"]
        key = key_mail(sb, m["mail"])
        time.sleep(2.2)
        rc, a = tool("login", "key", m["login"], input="%s\n%s\n" % (txn, key))
        assert (rc, a["error"], a["can_resend"]) == (4, "key-expired", True), a
        rc, a = tool("login", "resend", m["login"], input=txn + "\n")
        assert a["error"] == "key-sent", a
        rc, a = tool("login", "key", m["login"],
                     input="%s\n%s\n" % (txn, key_mail(sb, m["mail"], 2)))
        assert rc == 0, a


def test_web_login_returns_and_records_the_last_login(sb, hashes, tool):
    m = new_member(sb, hashes)

    def login():
        rc, a = tool("login", "--rhost", "203.0.113.5", m["login"], input=PASSWORD + "\n")
        n = len(mails_to(sb, m["mail"], "暗証キー"))
        rc, a = tool("login", "key", "--rhost", "203.0.113.5", m["login"],
                     input="%s\n%s\n" % (a["txn"], key_mail(sb, m["mail"], n)))
        assert rc == 0, a
        return a

    first = login()
    assert first["previous_login"] == ""
    stored = entry(sb, m)["kenpoLastLogin"][0]
    second = login()
    assert re.fullmatch(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d", second["previous_login"])
    jst = time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime(
        calendar.timegm(time.strptime(stored, "%Y%m%d%H%M%SZ")) + 9 * 3600))
    assert second["previous_login"] == jst
    rc, a = tool("login", "history", m["login"], input=second["proof"] + "\n")
    assert rc == 0 and len(a["logins"]) == 2, a
    assert a["logins"][0] == {"when": a["logins"][0]["when"], "service": "kenpo",
                              "source": "203.0.113.5"}
    assert a["logins"][1]["when"] == jst
    with client(sb) as c:
        r = c.login_history(m["login"], "1" * 13 + "." + "0" * 32)
        assert r["name"] == "LOGIN_REQUIRED"


# ---- the mailer pool ------------------------------------------------------------------------

def test_a_stalled_relay_holds_only_the_key_mail(sb, hashes):
    """A relay that accepts and never answers: the key's answer comes once
    the relay's time is up, and clearly; lookups and another login that
    mails nothing answer at once meanwhile."""
    stall = socket.socket()
    stall.bind(("127.0.0.1", 0))
    stall.listen(16)
    port = stall.getsockname()[1]
    m, other = new_member(sb, hashes), new_member(sb, hashes)
    try:
        with sb.kenpod_settings_changed(kenpod={"smtp_url": "smtp://127.0.0.1:%d" % port,
                                                "smtp_timeout": "2s", "mail_threads": "1"}):
            def key_login():
                with client(sb) as c:
                    return c.auth_password(m["login"], PASSWORD)

            with concurrent.futures.ThreadPoolExecutor(2) as ex:
                t0 = time.monotonic()
                login = ex.submit(key_login)
                time.sleep(0.3)
                t1 = time.monotonic()
                with client(sb) as c:
                    assert c.ping()[0] == kp.OK
                    assert c.byname(m["login"])[0] == kp.OK
                with client(sb) as c:
                    assert c.auth_password(other["login"], WRONG)["name"] == "AUTH_ERR"
                quick = time.monotonic() - t1
                # All answered while the key still waits for the relay.
                assert not login.done()
                r = login.result(timeout=30)
                took = time.monotonic() - t0
        print("\nstalled relay: key answered %s after %.1f s; lookups and a login "
              "meanwhile in %.0f ms" % (r["name"], took, quick * 1e3))
        assert r["name"] == "MAIL_FAILED" and took < 8, (r, took)
        assert "kenpoKeyHash" not in entry(sb, m)
    finally:
        stall.close()
