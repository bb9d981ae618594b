"""Authentication through kenpod: password, the mailed key (暗証キー),
split and single-field modes, temporary passwords, lockout and delays,
account state, sessions and password changes (kenpo-proto.h, the AUTH_*,
ACCOUNT, SESSION_OPEN and PASSWORD_CHANGE actions).

Keys are read from the mails the sandbox's mail sink stores, exactly as a
member reads them.  Short validities are set through the sandbox's kenpod
settings (kenpod restarts with them), so the real expiry code runs.  The
module runs its own sandbox; a sanitizer report in kenpod's log fails the
test during which it appeared.
"""

import calendar
import concurrent.futures
import itertools
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import pytest

import kenpoproto as kp
import kenposandbox as ks
from conftest import check_kenpod, start_sandbox

PASSWORD = "Kenpo2024Pass"
PROOF_RE = r"\d{13}\.[0-9a-f]{32}"
NEW_PASSWORD = "Shinki2025Pw"
TEMP_PASSWORD = "P0a40aca"
KEY_RE = re.compile(r"(?<!\d)(\d{10})(?!\d)")
_seq = itertools.count(1)


# ---- fixtures and helpers ------------------------------------------------------

@pytest.fixture(scope="module")
def sb(tmp_path_factory, builddir):
    s = start_sandbox(tmp_path_factory, builddir, "auth")
    yield s
    s.down()


@pytest.fixture(autouse=True)
def kenpod_healthy(sb):
    """After each test: kenpod still runs and no sanitizer reported."""
    yield
    if not sb.slapd_alive():
        sb.start_slapd()
    check_kenpod(sb)


@pytest.fixture(scope="module")
def hashes(testtool, tool_env):
    """{ARGON2} hashes (kenpod's default cost) of the passwords used here."""
    out = {}
    for pw in (PASSWORD, TEMP_PASSWORD):
        r = subprocess.run([testtool, "hash-password"], input=pw + "\n", capture_output=True,
                           text=True, env=tool_env, check=True)
        out[pw] = r.stdout.strip()
    return out


def new_member(sb, hashes, password=True, temp=None, temp_expiry=None,
               state="registered", disabled=False, mail=True, extra=()):
    """A fresh member with its own mail address; returns the add_member dict
    with "mail" added."""
    login = "Auth.%03d%s" % (next(_seq), os.urandom(2).hex())
    attrs = list(extra)
    addr = "%s@mail.example.jp" % login.lower().replace(".", "-")
    if password:
        attrs.append(("userPassword", hashes[PASSWORD]))
    if mail:
        attrs.append(("kenpoMail1", addr))
    if temp:
        attrs.append(("kenpoTempPassword", hashes[temp]))
    if temp_expiry:
        attrs.append(("kenpoTempPasswordExpiry", temp_expiry))
    if state == "issued":
        m = sb.add_preissued_member(extra=attrs)
    else:
        m = sb.add_member(login, extra=attrs, disabled=disabled)
    m["mail"] = addr
    return m


def client(sb, sock=None):
    return kp.Client(sock or sb.kenpod_socket, timeout=20.0)


def mails_to(sb, addr):
    return [m for m in sb.mails() if addr in m.kenpo_to]


def key_mail(sb, addr, n=1, timeout=10.0, subject=None):
    """The key of the n-th mail sent to addr (of those whose subject holds
    `subject`, when given)."""
    deadline = time.monotonic() + timeout
    while True:
        ms = [x for x in mails_to(sb, addr) if subject is None or subject in x.kenpo_subject]
        if len(ms) >= n:
            found = KEY_RE.findall(ms[n - 1].kenpo_body)
            assert len(set(found)) == 1, ms[n - 1].kenpo_body
            return found[0]
        if time.monotonic() >= deadline:
            raise TimeoutError("no mail #%d to %s" % (n, addr))
        time.sleep(0.02)


def wait_mails(sb, addr, n, timeout=10.0):
    """The mails to addr once there are n of them."""
    deadline = time.monotonic() + timeout
    while len(mails_to(sb, addr)) < n:
        if time.monotonic() >= deadline:
            raise TimeoutError("%d mails to %s, not %d" % (len(mails_to(sb, addr)), addr, n))
        time.sleep(0.02)
    return mails_to(sb, addr)


def entry(sb, m, *attrs):
    """{attr: value} of the member's entry, read as the administrator."""
    out = {}
    text = sb.ldapsearch(m["dn"], "(objectClass=*)", *attrs, scope="base")
    for line in text.splitlines():
        if ":" in line and not line.startswith("dn:"):
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def login_key(sb, m, flags=0, sock=None):
    """Password then key: the answers of both."""
    with client(sb, sock) as c:
        a = c.auth_password(m["login"], PASSWORD, flags)
        assert a["name"] == "KEY_SENT", a
        key = key_mail(sb, m["mail"], len(mails_to(sb, m["mail"])))
        return a, c.auth_key(m["login"], a["txn"], key)


def wrong_key(key):
    return "%010d" % ((int(key) + 1) % 10 ** 10)


def log_costs(sb, tag_text):
    """(searches, modifies) logged for the last request whose tag holds tag_text."""
    with open(sb.kenpod_log, errors="replace") as f:
        lines = [l for l in f if tag_text in l and "(ldap:" in l]
    m = re.search(r"\(ldap: (\d+) searches, (\d+) modifies\)", lines[-1])
    return int(m.group(1)), int(m.group(2))


# ---- the key -----------------------------------------------------------------------

def test_password_then_key_from_mail(sb, hashes):
    m = new_member(sb, hashes)
    t0 = time.monotonic()
    with client(sb) as c:
        a = c.auth_password(m["login"].upper(), PASSWORD)
        t_pw = time.monotonic() - t0
        assert a["name"] == "KEY_SENT"
        assert a["login"] == m["login"]                 # canonical, not as typed
        assert a["masked"] == "****@****.jp" and a["seconds"] == 600
        assert re.fullmatch(r"[A-Za-z0-9_-]{32}", a["txn"])
        mail = mails_to(sb, m["mail"])[-1]
        assert mail.kenpo_subject == "【東洋紡健康保険組合】暗証キーのご案内"
        assert "10分" in mail.kenpo_body
        key = key_mail(sb, m["mail"])
        t1 = time.monotonic()
        ok = c.auth_key(m["login"], a["txn"], key)
        t_key = time.monotonic() - t1
    assert re.fullmatch(PROOF_RE, ok.pop("proof"))
    assert ok == {"result": kp.OK, "name": "OK", "login": m["login"],
                  "uid": m["uid_number"], "lang": 0, "flags": 0, "ticket": "",
                  "previous": ""}
    # Only keyed hashes are stored, and a used key is gone.
    e = entry(sb, m, "kenpoKeyHash", "kenpoKeyTxn", "kenpoKeyExpiry")
    assert e == {}
    print("\nlatency: password %.1f ms (key mailed), key %.1f ms, total %.1f ms"
          % (t_pw * 1e3, t_key * 1e3, (t_pw + t_key) * 1e3))


def test_ldap_operations_per_login(sb, hashes):
    """The password costs a search and two modifies: the attempt is counted
    before the password is verified, then the key stored with the count
    taken back."""
    m = new_member(sb, hashes)
    login_key(sb, m)
    assert log_costs(sb, "auth password login=%s " % m["login"]) == (1, 2)
    assert log_costs(sb, "auth key login=%s " % m["login"]) == (1, 1)
    with client(sb) as c:
        assert c.account(m["login"])["name"] == "OK"
        assert c.session_open(m["login"])["name"] == "OK"
    assert log_costs(sb, "account login=%s:" % m["login"]) == (1, 0)
    assert log_costs(sb, "session open login=%s " % m["login"]) == (1, 1)


def test_stored_key_is_keyed_hash_only(sb, hashes):
    m = new_member(sb, hashes)
    with client(sb) as c:
        a = c.auth_password(m["login"], PASSWORD)
    key = key_mail(sb, m["mail"])
    e = entry(sb, m, "kenpoKeyHash", "kenpoKeyTxn", "kenpoKeyExpiry", "kenpoKeySentAt")
    assert re.fullmatch(r"[0-9a-f]{64}", e["kenpoKeyHash"])
    assert re.fullmatch(r"[0-9a-f]{64}", e["kenpoKeyTxn"])
    assert key not in str(e) and a["txn"] not in str(e)
    with open(sb.kenpod_log, errors="replace") as f:
        log = f.read()
    assert key not in log and a["txn"] not in log and PASSWORD not in log


def test_wrong_key_five_times_voids_it(sb, hashes):
    m = new_member(sb, hashes)
    with client(sb) as c:
        a = c.auth_password(m["login"], PASSWORD)
        key = key_mail(sb, m["mail"])
        for left in (4, 3, 2, 1):
            r = c.auth_key(m["login"], a["txn"], wrong_key(key))
            assert (r["name"], r["tries"]) == ("KEY_WRONG", left)
        assert c.auth_key(m["login"], a["txn"], "12345")["name"] == "KEY_VOID"
        assert c.auth_key(m["login"], a["txn"], key)["name"] == "KEY_VOID"


def test_key_needs_its_txn(sb, hashes):
    m = new_member(sb, hashes)
    with client(sb) as c:
        a = c.auth_password(m["login"], PASSWORD)
        key = key_mail(sb, m["mail"])
        other = a["txn"][:-1] + ("A" if a["txn"][-1] != "A" else "B")
        assert c.auth_key(m["login"], other, key)["name"] == "AUTH_ERR"
        assert c.auth_key(m["login"], "", key)["name"] == "AUTH_ERR"
        assert c.auth_resend(m["login"], other)["name"] == "AUTH_ERR"
        assert c.auth_key("Nobody.Here", a["txn"], key)["name"] == "AUTH_ERR"
        # None of that cost the key a try.
        assert c.auth_key(m["login"], a["txn"], key)["name"] == "OK"


def test_resend_voids_old_key_and_cooldown(sb, hashes):
    m = new_member(sb, hashes)
    with client(sb) as c:
        a = c.auth_password(m["login"], PASSWORD)
        r = c.auth_resend(m["login"], a["txn"])
        assert r["name"] == "COOLDOWN" and 58 <= r["seconds"] <= 60, r
    assert len(mails_to(sb, m["mail"])) == 1
    with sb.kenpod_settings_changed(society={"key_resend_cooldown": "0s"}):
        with client(sb) as c:
            old = key_mail(sb, m["mail"])
            r = c.auth_resend(m["login"], a["txn"])
            assert r["name"] == "KEY_SENT" and r["txn"] == a["txn"]
            new = key_mail(sb, m["mail"], 2)
            if new != old:
                assert c.auth_key(m["login"], a["txn"], old)["name"] == "KEY_WRONG"
            assert c.auth_key(m["login"], a["txn"], new)["name"] == "OK"


def test_key_expires(sb, hashes):
    m = new_member(sb, hashes)
    with sb.kenpod_settings_changed(society={"key_validity": "2s"}):
        with client(sb) as c:
            a = c.auth_password(m["login"], PASSWORD)
            assert a["seconds"] == 2
            key = key_mail(sb, m["mail"])
            assert "2秒" in mails_to(sb, m["mail"])[0].kenpo_body
            time.sleep(2.3)
            assert c.auth_key(m["login"], a["txn"], key)["name"] == "KEY_EXPIRED"


def test_abort_voids_key(sb, hashes):
    m = new_member(sb, hashes)
    with client(sb) as c:
        a = c.auth_password(m["login"], PASSWORD)
        key = key_mail(sb, m["mail"])
        # A wrong txn voids nothing, and the answer is the same.
        assert c.auth_abort(m["login"], "x" * 32)["name"] == "OK"
        assert c.auth_abort("Nobody.Here", a["txn"])["name"] == "OK"
        assert "kenpoKeyHash" in entry(sb, m, "kenpoKeyHash")
        assert c.auth_abort(m["login"], a["txn"])["name"] == "OK"
        assert c.auth_key(m["login"], a["txn"], key)["name"] == "AUTH_ERR"
    assert entry(sb, m, "kenpoKeyHash", "kenpoKeyTxn") == {}


def test_new_password_login_voids_the_pending_key(sb, hashes):
    m = new_member(sb, hashes)
    with client(sb) as c:
        a1 = c.auth_password(m["login"], PASSWORD)
        k1 = key_mail(sb, m["mail"])
        a2 = c.auth_password(m["login"], PASSWORD)
        k2 = key_mail(sb, m["mail"], 2)
        assert c.auth_key(m["login"], a1["txn"], k1)["name"] == "AUTH_ERR"
        assert c.auth_key(m["login"], a2["txn"], k2)["name"] == "OK"


# ---- web modes -----------------------------------------------------------------------

def test_split_mode_across_two_kenpods(sb, hashes):
    """The password on kenpod A mails the key; a later transaction on kenpod
    B (another host on the same directory) answers it without a new mail."""
    m = new_member(sb, hashes)
    sock_b = sb.start_extra_kenpod("b")
    try:
        with client(sb) as a_conn:
            a = a_conn.auth_password(m["login"], PASSWORD, kp.AUTHF_SPLIT)
            assert a["name"] == "KEY_SENT"
        key = key_mail(sb, m["mail"])
        with client(sb, sock_b) as b_conn:
            b = b_conn.auth_password(m["login"], PASSWORD, kp.AUTHF_SPLIT)
            assert b["name"] == "KEY_PENDING", b
            assert b["txn"] != a["txn"] and 0 < b["seconds"] <= 600
            assert b["masked"] == "****@****.jp"
            assert len(mails_to(sb, m["mail"])) == 1          # no new mail
            # Only the latest transaction may answer.
            assert b_conn.auth_key(m["login"], a["txn"], key)["name"] == "AUTH_ERR"
            assert b_conn.auth_key(m["login"], b["txn"], key)["name"] == "OK"
    finally:
        sb.stop_extra_kenpod("b")


def test_key_is_used_once_across_hosts(sb, hashes):
    """Two kenpods given the right key at the same moment: exactly one OK."""
    sock_b = sb.start_extra_kenpod("b")
    try:
        for _ in range(3):
            m = new_member(sb, hashes)
            with client(sb) as c:
                a = c.auth_password(m["login"], PASSWORD)
            key = key_mail(sb, m["mail"])

            def answer(sock):
                with client(sb, sock) as c:
                    return c.auth_key(m["login"], a["txn"], key)["name"]

            with concurrent.futures.ThreadPoolExecutor(4) as ex:
                names = list(ex.map(answer, [sb.kenpod_socket, sock_b] * 2))
            assert sorted(names) == ["AUTH_ERR"] * 3 + ["OK"], names
    finally:
        sb.stop_extra_kenpod("b")


def test_single_field(sb, hashes):
    m = new_member(sb, hashes)
    with client(sb) as c:
        a = c.auth_password(m["login"], PASSWORD, kp.AUTHF_SINGLE)
        assert a["name"] == "KEY_SENT"
        key = key_mail(sb, m["mail"])
        # The password alone again: the key survives, no new mail.
        p = c.auth_password(m["login"], PASSWORD, kp.AUTHF_SINGLE)
        assert p["name"] == "KEY_PENDING"
        r = c.auth_password(m["login"], PASSWORD + wrong_key(key), kp.AUTHF_SINGLE)
        assert (r["name"], r["tries"]) == ("KEY_WRONG", 4)
        r = c.auth_password(m["login"], "Wrong" + PASSWORD + key, kp.AUTHF_SINGLE)
        assert r["name"] == "AUTH_ERR"
        r = c.auth_password(m["login"], PASSWORD + key, kp.AUTHF_SINGLE)
        assert r["name"] == "OK" and r["login"] == m["login"]
        assert len(mails_to(sb, m["mail"])) == 1
        # Without SINGLE the same answer is just a wrong password.
        assert c.auth_password(m["login"], PASSWORD + key)["name"] == "AUTH_ERR"


def test_single_field_password_ending_in_digits(sb, hashes, testtool, tool_env):
    """A password that itself ends with ten digits still works alone."""
    pw = "Abcd1234567890"
    h = subprocess.run([testtool, "hash-password"], input=pw + "\n", capture_output=True,
                       text=True, env=tool_env, check=True).stdout.strip()
    m = new_member(sb, hashes, password=False, extra=[("userPassword", h)])
    with client(sb) as c:
        assert c.auth_password(m["login"], pw, kp.AUTHF_SINGLE)["name"] == "KEY_SENT"
        key = key_mail(sb, m["mail"])
        assert c.auth_password(m["login"], pw, kp.AUTHF_SINGLE)["name"] == "KEY_PENDING"
        assert c.auth_password(m["login"], pw + key, kp.AUTHF_SINGLE)["name"] == "OK"


def test_key_is_the_societys_policy(sb, hashes):
    """No member turns the key off: kenpoKeyRequired FALSE is not read, and
    goes at the member's next login.  Only key = optional in kenpod.conf
    logs in with the password alone."""
    m = new_member(sb, hashes, extra=[("kenpoKeyRequired", "FALSE")])
    with client(sb) as c:
        assert c.auth_password(m["login"], PASSWORD)["name"] == "KEY_SENT"
    assert "kenpoKeyRequired" not in entry(sb, m, "kenpoKeyRequired")
    m = new_member(sb, hashes)
    with sb.kenpod_settings_changed(society={"key": "optional"}):
        with client(sb) as c:
            r = c.auth_password(m["login"], PASSWORD)
    assert re.fullmatch(PROOF_RE, r.pop("proof"))
    assert r == {"result": kp.OK, "name": "OK", "login": m["login"],
                 "uid": m["uid_number"], "lang": 0, "flags": 0, "ticket": "", "previous": ""}
    assert mails_to(sb, m["mail"]) == []


# ---- temporary passwords and changes --------------------------------------------------

def test_temporary_password_then_change(sb, hashes):
    future = time.strftime("%Y%m%d%H%M%SZ", time.gmtime(time.time() + 3600))
    m = new_member(sb, hashes, temp=TEMP_PASSWORD, temp_expiry=future)
    with client(sb) as c:
        r = c.auth_password(m["login"], TEMP_PASSWORD)
        assert r["name"] == "OK" and r["flags"] == kp.AUTHR_MUST_CHANGE
        assert mails_to(sb, m["mail"]) == []                 # no key for it
        assert c.account(m["login"])["name"] == "MUST_CHANGE"
        # The temporary password needs no proof of a login: it is one.
        r = c.password_change(m["login"], TEMP_PASSWORD, NEW_PASSWORD)
        assert r["name"] == "OK", r
        assert c.account(m["login"])["name"] == "OK"
        assert c.auth_password(m["login"], TEMP_PASSWORD)["name"] == "AUTH_ERR"
        assert c.auth_password(m["login"], PASSWORD)["name"] == "AUTH_ERR"
        a = c.auth_password(m["login"], NEW_PASSWORD)
        assert a["name"] == "KEY_SENT"
        # Two mails: the notice of the change (queued) and the key.
        key = key_mail(sb, m["mail"], 1, subject="暗証キー")
        wait_mails(sb, m["mail"], 2)
        subjects = sorted(x.kenpo_subject for x in mails_to(sb, m["mail"]))
        assert subjects == ["【東洋紡健康保険組合】パスワード変更のお知らせ",
                            "【東洋紡健康保険組合】暗証キーのご案内"]
        assert c.auth_key(m["login"], a["txn"], key)["name"] == "OK"
    e = entry(sb, m, "kenpoTempPassword", "kenpoTempPasswordExpiry", "kenpoMustChange",
              "userPassword")
    assert set(e) == {"userPassword"}


def test_expired_temporary_password_refused(sb, hashes):
    """An expired temporary password is refused with its own answer (only
    its holder learns that it was right); a wrong one is just wrong."""
    past = time.strftime("%Y%m%d%H%M%SZ", time.gmtime(time.time() - 60))
    m = new_member(sb, hashes, temp=TEMP_PASSWORD, temp_expiry=past)
    with client(sb) as c:
        assert c.auth_password(m["login"], TEMP_PASSWORD)["name"] == "TEMP_EXPIRED"
        assert c.auth_password(m["login"], "P0a40acb")["name"] == "AUTH_ERR"
        assert c.password_change(m["login"], TEMP_PASSWORD, NEW_PASSWORD)["name"] == \
            "TEMP_EXPIRED"


def test_policy_violations_listed_and_nothing_changed(sb, hashes):
    m = new_member(sb, hashes)
    before = entry(sb, m, "userPassword", "modifyTimestamp")
    with client(sb) as c:
        r = c.password_change(m["login"], PASSWORD, "abc")
        assert r["name"] == "POLICY"
        assert r["mask"] == (1 << 8) | (1 << 11) | (1 << 13)   # short, no upper, no digit
        r = c.password_change(m["login"], PASSWORD, "Abcdefg!1" + "x" * 40)
        assert r["mask"] == (1 << 9) | (1 << 10)                # long, bad character
        r = c.password_change(m["login"], PASSWORD, PASSWORD)
        assert r["mask"] == kp.PWC_SAME_AS_OLD
        # A wrong old password with a good new one: refused, counted.
        assert c.password_change(m["login"], "Wrong2024Pass", NEW_PASSWORD)["name"] == "AUTH_ERR"
        assert c.password_change("Nobody.Here", "Wrong2024Pass", NEW_PASSWORD)["name"] == \
            "AUTH_ERR"
    after = entry(sb, m, "userPassword", "kenpoUnfamiliarFailures")
    assert after["userPassword"] == before["userPassword"]
    assert after["kenpoUnfamiliarFailures"] == "1"


def test_admin_change_needs_root(sb, hashes):
    m = new_member(sb, hashes)
    code = ("import sys; sys.path.insert(0, %r); import kenpoproto as kp\n"
            "c = kp.Client(sys.argv[1]); print(c.password_change(sys.argv[2], '', %r, "
            "kp.PWCF_ADMIN)['name'])\n" % (ks.kenpoproto_for_others(), NEW_PASSWORD))
    if os.geteuid() != 0:
        out = subprocess.run([sys.executable, "-c", code, sb.kenpod_socket, m["login"]],
                             capture_output=True, text=True, check=True).stdout
        assert out.strip() == "DENIED"
        return
    top = tempfile.mkdtemp(prefix="kenpod-")
    try:
        os.chmod(top, 0o755)
        sock = os.path.join(top, "run", "kenpod.sock")
        with sb.kenpod_settings_changed(socket=sock):
            out = subprocess.run(["/usr/bin/python3", "-c", code, sock, m["login"]],
                                 user=65534, group=65534, extra_groups=[],
                                 capture_output=True, text=True, check=True).stdout
            assert out.strip() == "DENIED"
            with kp.Client(sock) as c:
                assert c.password_change(m["login"], "", NEW_PASSWORD,
                                         kp.PWCF_ADMIN)["name"] == "OK"
                assert c.password_change("Nobody.Here", "", NEW_PASSWORD,
                                         kp.PWCF_ADMIN)["name"] == "NOTFOUND"
                assert c.auth_password(m["login"], NEW_PASSWORD)["name"] == "KEY_SENT"
    finally:
        subprocess.run(["rm", "-rf", top], check=False)


# ---- lockout ----------------------------------------------------------------------------

def test_delay_answers_without_verification(sb, hashes):
    m = new_member(sb, hashes)
    with client(sb) as c:
        verified = []
        for _ in range(3):
            t0 = time.monotonic()
            assert c.auth_password(m["login"], "Wrong2024Pass")["name"] == "AUTH_ERR"
            verified.append(time.monotonic() - t0)
        t0 = time.monotonic()
        r = c.auth_password(m["login"], PASSWORD)            # even the right one
        took = time.monotonic() - t0
        assert (r["name"], r["seconds"]) == ("DELAY", 1)
        # No argon2 spent: quick, or at least well under the quickest of
        # the attempts that were verified (a loaded machine slows both).
        assert took < 0.04 or took < min(verified) / 2, (took, verified)
        time.sleep(1.05)
        assert c.auth_password(m["login"], "Wrong2024Pass")["name"] == "AUTH_ERR"
        r = c.auth_password(m["login"], PASSWORD)
        assert (r["name"], r["seconds"]) == ("DELAY", 2)
        time.sleep(2.05)
        assert c.auth_password(m["login"], PASSWORD)["name"] == "KEY_SENT"
    assert "kenpoAuthSource" not in entry(sb, m, "kenpoAuthSource")   # reset


def test_lockout_after_failures_and_its_end(sb, hashes):
    m = new_member(sb, hashes)
    with sb.kenpod_settings_changed(society={"lockout_failures": "4",
                                             "lockout_duration": "3s"}):
        with client(sb) as c:
            for i in range(4):
                r = c.auth_password(m["login"], "Wrong2024Pass")
                while r["name"] == "DELAY":
                    time.sleep(r["seconds"])
                    r = c.auth_password(m["login"], "Wrong2024Pass")
                assert r["name"] == "AUTH_ERR"
            r = c.auth_password(m["login"], PASSWORD)
            assert r["name"] == "LOCKED" and 1 <= r["seconds"] <= 3, r
            a = c.account(m["login"])
            assert a["name"] == "LOCKED" and 1 <= a["seconds"] <= 3
            # The lock is this source's ("" here), kept with its failures.
            assert re.fullmatch(r"[0-9a-f]{16}:4:\d+:\d+",
                                entry(sb, m, "kenpoAuthSource")["kenpoAuthSource"])
            time.sleep(r["seconds"] + 0.1)
            assert c.account(m["login"])["name"] == "OK"
            assert c.auth_password(m["login"], PASSWORD)["name"] == "KEY_SENT"
    assert entry(sb, m, "kenpoAuthSource", "kenpoAuthFailures", "kenpoLockedUntil") == {}


def test_administrators_ppolicy_lock_is_honoured(sb, hashes):
    m = new_member(sb, hashes)
    sb.ldapmodify("dn: %s\nchangetype: modify\nadd: pwdAccountLockedTime\n"
                  "pwdAccountLockedTime: 000001010000Z\n" % m["dn"])
    with client(sb) as c:
        assert c.account(m["login"])["name"] == "LOCKED"
        assert c.account(m["login"])["seconds"] == 0
        r = c.auth_password(m["login"], PASSWORD)
        assert (r["name"], r["seconds"]) == ("LOCKED", 0)


def _alike(name, measure, rounds=3):
    """measure() -> (known times, unknown times) of one round of tries made
    alternately.  Their medians must lie within 20 %; when they do not, a
    loaded machine may be the cause, so another round of fresh tries is
    made, up to `rounds`.  A real difference fails every round."""
    for _ in range(rounds):
        known, unknown = measure()
        k, u = statistics.median(known), statistics.median(unknown)
        print("\n%s: median known %.1f ms, unknown %.1f ms (%d each)"
              % (name, k * 1e3, u * 1e3, len(known)))
        if abs(k - u) <= 0.2 * max(k, u):
            return k, u
    pytest.fail("%s: median known %.1f ms, unknown %.1f ms" % (name, k * 1e3, u * 1e3))


def test_unknown_login_and_wrong_password_look_the_same(sb, hashes):
    """A wrong password for a member and any password for a login ID that
    names nobody: the same answer, and the same time (medians of 15 tries
    each, made alternately, within 20 %: both count the failure in the
    directory and verify one hash)."""
    answers = set()

    def measure():
        members = [new_member(sb, hashes) for _ in range(15)]
        ghosts = ["Ghost.%s" % os.urandom(3).hex() for _ in range(15)]
        times = ([], [])
        with client(sb) as c:
            for i, (m, ghost) in enumerate(zip(members, ghosts)):
                # Either goes first by turns, so that neither is always
                # the one that finds the directory's caches warm.
                pair = ((0, m["login"]), (1, ghost))
                for kind, login in pair if i % 2 == 0 else pair[::-1]:
                    t0 = time.monotonic()
                    r = c.auth_password(login, "Wrong2024Pass")
                    times[kind].append(time.monotonic() - t0)
                    answers.add(tuple(sorted(r.items())))
        return times

    _alike("wrong password", measure)
    assert len(answers) == 1, answers
    # Delays come for unknown login IDs as for members.  Each is asked
    # right after its own third failure: the delay is one second, which
    # the other's failures may outlast on a busy machine.
    ghost, m = "Ghost.%s" % os.urandom(3).hex(), new_member(sb, hashes)
    delayed = []
    with client(sb) as c:
        for login in (ghost, m["login"]):
            for _ in range(3):
                assert c.auth_password(login, "Wrong2024Pass")["name"] == "AUTH_ERR"
            delayed.append(c.auth_password(login, PASSWORD))
    assert delayed[0] == delayed[1]
    assert delayed[0]["name"] == "DELAY"


# ---- account states ---------------------------------------------------------------------

def test_preissued_not_registered_only_with_right_password(sb, hashes):
    m = new_member(sb, hashes, state="issued", password=False, mail=False,
                   temp=TEMP_PASSWORD)
    with client(sb) as c:
        assert c.auth_password(m["login"], "P0a40acb")["name"] == "AUTH_ERR"
        assert c.auth_password(m["login"], TEMP_PASSWORD)["name"] == "NOT_REGISTERED"
        assert c.account(m["login"])["name"] == "NOTFOUND"


def test_disabled_member(sb, hashes):
    m = new_member(sb, hashes, disabled=True)
    with client(sb) as c:
        assert c.account(m["login"])["name"] == "DISABLED"
        assert c.auth_password(m["login"], "Wrong2024Pass")["name"] == "AUTH_ERR"
        assert c.auth_password(m["login"], PASSWORD)["name"] == "DISABLED"
    assert mails_to(sb, m["mail"]) == []


def test_session_shows_previous_login_in_jst(sb, hashes):
    m = new_member(sb, hashes, extra=[("kenpoLastLogin", "20240401013006Z")])
    with client(sb) as c:
        r = c.session_open(m["login"], "sshd", "192.0.2.1")
        assert r == {"result": kp.OK, "name": "OK", "lang": 0,
                     "previous": "2024/04/01 10:30:06"}
        stored = entry(sb, m, "kenpoLastLogin")["kenpoLastLogin"]
        assert re.fullmatch(r"\d{14}Z", stored)
        utc = calendar.timegm(time.strptime(stored, "%Y%m%d%H%M%SZ"))
        jst = time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime(utc + 9 * 3600))
        assert c.session_open(m["login"])["previous"] == jst
        fresh = new_member(sb, hashes)
        assert c.session_open(fresh["login"])["previous"] == ""
        assert c.session_open("Nobody.Here")["name"] == "NOTFOUND"


# ---- failures of the directory and the relay ------------------------------------------------

def test_directory_down_is_unavail(sb, hashes):
    m = new_member(sb, hashes)
    sb.stop_slapd()
    try:
        with client(sb) as c:
            for r in (c.auth_password(m["login"], PASSWORD), c.auth_key(m["login"], "t", "1"),
                      c.account(m["login"]), c.session_open(m["login"]),
                      c.password_change(m["login"], PASSWORD, NEW_PASSWORD)):
                assert r["name"] == "UNAVAIL", r
    finally:
        sb.start_slapd()
    deadline = time.monotonic() + 10
    while True:
        with client(sb) as c:
            r = c.auth_password(m["login"], PASSWORD)
        if r["name"] != "UNAVAIL" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r["name"] == "KEY_SENT"


def test_mail_relay_down(sb, hashes):
    m = new_member(sb, hashes)
    with sb.kenpod_settings_changed(kenpod={"smtp_url": "smtp://127.0.0.1:1"}):
        with client(sb) as c:
            r = c.auth_password(m["login"], PASSWORD)
            assert r == {"result": kp.MAIL_FAILED, "name": "MAIL_FAILED", "lang": 0}
    # No usable key is left behind.
    assert entry(sb, m, "kenpoKeyHash", "kenpoKeyTxn", "kenpoKeyExpiry",
                 "kenpoKeySentAt") == {}
    assert mails_to(sb, m["mail"]) == []


def test_profile_ticket_only_on_request(sb, hashes):
    """A login hands out a profile ticket only when asked (KENPO_AUTHF_TICKET):
    it costs a directory write that sshd and login have no use for."""
    m = new_member(sb, hashes)
    with sb.kenpod_settings_changed(society={"key": "optional"}):
        with client(sb) as c:
            plain = c.auth_password(m["login"], PASSWORD)
            asked = c.auth_password(m["login"], PASSWORD, kp.AUTHF_TICKET)
    assert plain["name"] == "OK" and plain["ticket"] == ""
    assert asked["name"] == "OK" and re.fullmatch(r"[A-Za-z0-9_-]{32}", asked["ticket"])

    k = new_member(sb, hashes)
    with client(sb) as c:
        a = c.auth_password(k["login"], PASSWORD, kp.AUTHF_TICKET)
        assert a["name"] == "KEY_SENT"
        ok = c.auth_key(k["login"], a["txn"], key_mail(sb, k["mail"]), kp.AUTHF_TICKET)
    assert ok["name"] == "OK" and re.fullmatch(r"[A-Za-z0-9_-]{32}", ok["ticket"])


def test_session_open_needs_root_or_the_portal(sb, hashes):
    """SESSION_OPEN writes the member's last login: a local user who is
    neither root nor in the portal group is refused; lookups stay open."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run the client as another user")
    m = new_member(sb, hashes)
    top = tempfile.mkdtemp(prefix="kenpod-auth-")
    os.chmod(top, 0o755)
    sock = os.path.join(top, "kenpod.sock")
    probe = ("import sys, kenpoproto as kp\n"
             "c = kp.Client(sys.argv[1], timeout=10)\n"
             "print(c.session_open(sys.argv[2])['name'], c.byname(sys.argv[2])[0] == kp.OK)\n")
    env = dict(os.environ, PYTHONPATH=ks.kenpoproto_for_others())
    try:
        with sb.kenpod_settings_changed(kenpod={"portal_group": "users"}, socket=sock):
            r = subprocess.run([sys.executable, "-c", probe, sock, m["login"]], env=env,
                               user=65534, group=65534, extra_groups=[], capture_output=True,
                               text=True, timeout=30)
            assert r.stdout.split() == ["DENIED", "True"], r.stderr
            r = subprocess.run([sys.executable, "-c", probe, sock, m["login"]], env=env,
                               user=65534, group="users", extra_groups=[],
                               capture_output=True, text=True, timeout=30)
            assert r.stdout.split() == ["OK", "True"], r.stderr
    finally:
        shutil.rmtree(top, ignore_errors=True)
