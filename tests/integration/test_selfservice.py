"""Self-service through the real `kenpo` tool against the sandbox: the
registration guide (by address and by mail piped in), letter registration,
the identity check, password reset, the profile, and the policy checks.

Every link is taken from the mail the sandbox's mail sink stored, exactly
as a member would click it.  Expiry runs the real code with validities of
one second.  The module runs its own sandbox with a second society that
registers by identity check; a sanitizer report of kenpod or of the tool
fails the test during which it appeared.
"""

import calendar
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pytest

import kenpoproto as kp
import kenposandbox as ks
from conftest import check_kenpod, start_sandbox

TEMP_PASSWORD = "P0a40aca"
PASSWORD = "Kenpo2024Pass"
NEW_PASSWORD = "Shinki2025Pw"
ID_SOCIETY = "accenture"
ID_SOCIETY_NAME = "アクセンチュア健康保険組合"
ID_UID_MIN = 5000000
TOKEN_RE = re.compile(r"token=([A-Za-z0-9_-]{32})(?![A-Za-z0-9_-])")
KEY_RE = re.compile(r"(?<!\d)(\d{10})(?!\d)")
_seq = [0]


def unique(prefix):
    _seq[0] += 1
    return "%s%d" % (prefix, _seq[0])


# ---- fixtures ------------------------------------------------------------------

@pytest.fixture(scope="module")
def kenpo_bin(builddir):
    path = os.path.join(builddir, "kenpo")
    if not os.access(path, os.X_OK):
        pytest.fail("%s not found: run `make` and set KENPO_BUILDDIR" % path)
    return path


@pytest.fixture(scope="module")
def catalogue(builddir, srcdir, tmp_path_factory):
    """KENPO_LOCALEDIR and LOCPATH for Japanese messages: the build tree's
    (made by `make check`), else made here from po/ja.po."""
    loc = os.path.join(builddir, "tests", "locale")
    locs = os.path.join(builddir, "tests", "locales")
    if os.path.exists(os.path.join(loc, "ja", "LC_MESSAGES", "kenpo.mo")) and \
            os.path.isdir(os.path.join(locs, "ja_JP.UTF-8")):
        return loc, locs
    d = str(tmp_path_factory.mktemp("locale"))
    os.makedirs(os.path.join(d, "mo", "ja", "LC_MESSAGES"))
    subprocess.run(["msgfmt", "-o", os.path.join(d, "mo", "ja", "LC_MESSAGES", "kenpo.mo"),
                    os.path.join(srcdir, "po", "ja.po")], check=True)
    subprocess.run(["localedef", "-i", "ja_JP", "-f", "UTF-8",
                    os.path.join(d, "locales", "ja_JP.UTF-8")], check=False,
                   capture_output=True)
    return os.path.join(d, "mo"), os.path.join(d, "locales")


@pytest.fixture(scope="module")
def sb(tmp_path_factory, builddir):
    s = start_sandbox(tmp_path_factory, builddir, "self")
    base = s.add_society_subtree(ID_SOCIETY, ID_SOCIETY_NAME, ID_UID_MIN)
    s.extra_societies[ID_SOCIETY] = s.society_section(
        ID_SOCIETY, ID_SOCIETY_NAME, base, registration="identity", language="ja",
        uid_min=ID_UID_MIN, uid_max=ID_UID_MIN + 999999)
    s.id_base = base
    s.restart_kenpod()
    if not s.kenpod_alive():
        pytest.fail("kenpod did not start; see %s" % s.kenpod_log)
    yield s
    s.down()


@pytest.fixture(scope="module")
def tool(sb, kenpo_bin, catalogue, srcdir):
    """tool(*args, input=None, sock=None, user=None) -> (exit, json answer, stderr)."""
    loc, locs = catalogue

    def run(*args, input=None, sock=None, user=None, group=None, as_json=True):
        env = dict(os.environ)
        binary, supp, l1, l2 = kenpo_bin, os.path.join(srcdir, "tests", "lsan.supp"), loc, locs
        kw = {}
        if user is not None:
            # Another user may not read the build or source tree (root's
            # home is 0700): it runs copies.
            binary, supp, l1, l2 = (ks.readable_copy(p) for p in (binary, supp, l1, l2))
            kw = dict(user=user, group=group if group is not None else user, extra_groups=[])
        env.update(KENPO_SOCKET=sock or sb.kenpod_socket, KENPO_LOCALEDIR=l1, LOCPATH=l2,
                   LSAN_OPTIONS="suppressions=%s" % supp)
        env.pop("LANGUAGE", None)
        argv = [binary] + (["--json"] if as_json else []) + list(args)
        r = subprocess.run(argv, input=input if input is None or isinstance(input, bytes)
                           else input.encode(), capture_output=True, env=env, timeout=60, **kw)
        err = r.stderr.decode("utf-8", "replace")
        assert not any(m in err for m in ks.SANITIZER_MARKERS), err
        out = r.stdout.decode("utf-8")
        if not as_json:
            return r.returncode, out, err
        answer = json.loads(out) if out.strip() else None
        return r.returncode, answer, err
    return run


@pytest.fixture(autouse=True)
def kenpod_healthy(sb):
    yield
    check_kenpod(sb)


@pytest.fixture(scope="module")
def temp_hash(testtool, tool_env):
    r = subprocess.run([testtool, "hash-password"], input=TEMP_PASSWORD + "\n",
                       capture_output=True, text=True, env=tool_env, check=True)
    return r.stdout.strip()


@pytest.fixture(scope="module")
def pw_hash(testtool, tool_env):
    r = subprocess.run([testtool, "hash-password"], input=PASSWORD + "\n",
                       capture_output=True, text=True, env=tool_env, check=True)
    return r.stdout.strip()


# ---- helpers -------------------------------------------------------------------

def mails_to(sb, addr):
    return [m for m in sb.mails() if addr.lower() in [t.lower() for t in m.kenpo_to]]


def wait_mails(sb, addr, n, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        got = mails_to(sb, addr)
        if len(got) >= n:
            return got
        if time.monotonic() > deadline:
            raise AssertionError("%d mail(s) to %s expected, %d arrived" % (n, addr, len(got)))
        time.sleep(0.02)


def no_new_mail(sb, before, wait=0.3):
    time.sleep(wait)
    assert len(sb.mail_files()) == before


def token_of(mail):
    m = TOKEN_RE.search(mail.kenpo_body)
    assert m, mail.kenpo_body
    return m.group(1)


def guide_token(sb, tool, addr, *opts):
    opts = opts or ("--society", ks.SOCIETY_ID)
    n = len(mails_to(sb, addr))
    rc, a, _ = tool("guide", "request", *opts, addr)
    assert rc == 0 and a["ok"], a
    mail = wait_mails(sb, addr, n + 1)[-1]
    assert "利用登録手続きのご案内" in mail.kenpo_subject
    return token_of(mail)


def preissued(sb, temp_hash, **kw):
    return sb.add_preissued_member(extra=[("kenpoTempPassword", temp_hash)], **kw)


def letter_ticket(sb, tool, temp_hash, addr):
    m = preissued(sb, temp_hash)
    tok = guide_token(sb, tool, addr)
    rc, a, _ = tool("register", "letter", m["login"], input=tok + "\n" + TEMP_PASSWORD + "\n")
    assert rc == 0, a
    return m, tok, a["ticket"]


def complete(tool, ticket, login, mail, password=PASSWORD, nickname=None):
    opts = ["--login-id", login, "--mail", mail]
    if nickname is not None:
        opts += ["--nickname", nickname]
    return tool("register", "complete", *opts,
                input="%s\n%s\n%s\n" % (ticket, password, password))


def registered(sb, pw_hash, login, mail, **kw):
    extra = [("userPassword", pw_hash), ("kenpoMail1", mail)] + list(kw.pop("extra", []))
    return sb.add_member(login, extra=extra, **kw)


def lookup(sb, name):
    with kp.Client(sb.kenpod_socket) as c:
        return c.byname(name)


def verify(testtool, tool_env, stored, password):
    return subprocess.run([testtool, "verify-password", stored], input=password,
                          capture_output=True, text=True, env=tool_env).returncode == 0


# ---- policy checks (local) -------------------------------------------------------

def test_check_login_id_lists_every_rule(tool):
    rc, a, _ = tool("policy", "check-login-id", "Toyo.Taro")
    assert (rc, a["ok"], a["violations"]) == (0, True, [])
    rc, a, _ = tool("policy", "check-login-id", "07AA0A00")
    assert rc == 1 and a["error"] == "policy" and a["exit"] == 1
    assert [v["code"] for v in a["violations"]] == ["id-digits-7-8"]
    v = a["violations"][0]
    assert v["bit"] == 32
    assert v["message"]["ja"] == \
        "ログインIDを8文字で設定すると7、8桁目には数字を設定することができません。"
    assert v["message"]["en"].startswith("A login ID of 8 characters")
    rc, a, _ = tool("policy", "check-login-id", "--", "-")
    assert rc == 1
    assert [v["code"] for v in a["violations"]] == ["id-too-short", "id-bad-start"]
    rc, a, _ = tool("policy", "check-login-id", "12 34")
    assert [v["code"] for v in a["violations"]] == ["id-bad-char"]
    rc, a, _ = tool("policy", "check-login-id", "x" * 40)
    assert [v["code"] for v in a["violations"]] == ["id-too-long"]


# Names of the host's own accounts, in any case, and of the reserved list.
LOCAL_NAMES = ("root", "ROOT", "Daemon", "www-data", "_apt", "systemd-network", "sudo",
               "postmaster")


def _codes(a):
    return [v["code"] for v in a.get("violations", [])]


def test_check_login_id_refuses_local_accounts(sb, tool, kenpo_bin):
    for name in LOCAL_NAMES:
        rc, a, _ = tool("policy", "check-login-id", name)
        assert rc == 1 and _codes(a) == ["id-reserved"], (name, a)
        assert a["violations"][0]["message"]["ja"].startswith("このログインIDは予約")
    # An account only this host has (nss_wrapper adds it to its passwd).
    env = sb.nss_wrapper_env(passwd_extra=["local.only:x:4242:4242::/nonexistent:/bin/false"],
                             for_binary=kenpo_bin)
    for name in ("local.only", "LOCAL.Only"):
        r = subprocess.run([kenpo_bin, "--json", "policy", "check-login-id", name],
                           capture_output=True, text=True, env=env, timeout=30)
        a = json.loads(r.stdout)
        assert r.returncode == 1 and _codes(a) == ["id-reserved"], (name, a, r.stderr)
    rc, a, _ = tool("policy", "check-login-id", "local.only")
    assert rc == 0, a


def test_local_account_names_refused_at_registration_and_rename(sb, tool, temp_hash, pw_hash):
    addr = unique("root") + "@example.jp"
    m, _, ticket = letter_ticket(sb, tool, temp_hash, addr)
    before = sb.entry(m["dn"])
    mails = len(sb.mail_files())
    for name in LOCAL_NAMES:
        rc, a, _ = complete(tool, ticket, name, addr)
        assert rc == 1 and _codes(a) == ["id-reserved"], (name, a)
    assert sb.entry(m["dn"]) == before
    login = unique("Would.Be.Root")
    r = registered(sb, pw_hash, login, unique("wbr") + "@example.jp")
    before = sb.entry(r["dn"])
    for name in LOCAL_NAMES:
        rc, a, _ = tool("profile", "set", login, "login_id=" + name)
        assert rc == 1 and _codes(a) == ["id-reserved"], (name, a)
    assert sb.entry(r["dn"]) == before
    no_new_mail(sb, mails)
    # The ticket still works for an acceptable name.
    rc, a, _ = complete(tool, ticket, unique("Not.Root"), addr)
    assert rc == 0, a


def test_reserved_login_ids_setting(sb, tool, temp_hash, kenpo_bin):
    with sb.kenpod_settings_changed(kenpod={"reserved_login_ids": "yamada-*, kenpo.office"}):
        for name in ("Yamada-Taro", "KENPO.office"):
            rc, a, _ = tool("policy", "check-login-id", name)
            assert rc == 0, a       # the tool alone knows only the shipped list
            rc, a, _ = tool("policy", "check-login-id", "--available", name)
            assert rc == 1 and _codes(a) == ["id-reserved"], (name, a)
        addr = unique("resv") + "@example.jp"
        m, _, ticket = letter_ticket(sb, tool, temp_hash, addr)
        rc, a, _ = complete(tool, ticket, "yamada-hanako", addr)
        assert rc == 1 and _codes(a) == ["id-reserved"], a
        rc, a, _ = complete(tool, ticket, "Yamada.Hanako", addr)
        assert rc == 0, a
    with kp.Client(sb.kenpod_socket) as c:
        # A reserved name is a policy refusal on the wire too.
        result, r = c.call(kp.LOGIN_ID_CHECK, "root")
        assert (result, r.int32()) == (kp.POLICY, 1 << 6)
        r.end()


def test_local_account_in_directory_is_never_a_user(sb, pw_hash):
    """A member entry named like a local account (an administrator's
    ldapmodify, another host's kenpod) never resolves through kenpo."""
    m = registered(sb, pw_hash, "root", unique("r") + "@example.jp")
    assert lookup(sb, "root")[0] == kp.NOTFOUND
    with kp.Client(sb.kenpod_socket) as c:
        assert c.byuid(m["uid_number"])[0] == kp.NOTFOUND
    assert "names an account of this host" in sb.kenpod_log_tail(50)
    sb.ldap_admin_cmd("ldapdelete", m["dn"])


def test_passwd_names_are_exact(sb, pw_hash):
    login = unique("Case.Exact")
    registered(sb, pw_hash, login, unique("ce") + "@example.jp")
    assert lookup(sb, login)[0] == kp.OK
    assert lookup(sb, login.lower())[0] == kp.NOTFOUND
    assert lookup(sb, login.upper())[0] == kp.NOTFOUND
    assert lookup(sb, login)[0] == kp.OK     # not cached as missing


def test_check_password_reads_stdin(tool):
    rc, a, _ = tool("policy", "check-password", input="abc\n")
    assert rc == 1
    assert [v["code"] for v in a["violations"]] == \
        ["password-too-short", "password-no-upper", "password-no-digit"]
    assert a["violations"][0]["message"]["ja"] == "パスワードは8文字以上で入力してください。"
    assert a["message"]["ja"] == "次の条件を満たしていません。"
    rc, a, _ = tool("policy", "check-password", input="Abcdefg1\n")
    assert (rc, a["ok"]) == (0, True)
    rc, a, _ = tool("policy", "check-password", input="Abc-defg1\n")
    assert [v["code"] for v in a["violations"]] == ["password-bad-char"]
    # No password on the command line, ever: an argument is a usage error.
    rc, a, _ = tool("policy", "check-password", "Abcdefg1")
    assert rc == 2 and a["error"] == "usage"
    rc, a, _ = tool("policy", "check-password", input="")
    assert rc == 3 and a["error"] == "bad-input"


def test_check_login_id_available(sb, tool, pw_hash):
    registered(sb, pw_hash, "Taken.Name", "taken@example.jp")
    rc, a, _ = tool("policy", "check-login-id", "--available", "taken.NAME")
    assert rc == 1 and a["error"] == "id-taken" and a["available"] is False
    rc, a, _ = tool("policy", "check-login-id", "--available", "Free.Name")
    assert rc == 0 and a["available"] is True


def test_text_output_and_help(tool):
    rc, out, err = tool("--lang", "ja", "policy", "check-password", input="abc\n",
                        as_json=False)
    assert rc == 1 and "パスワードは8文字以上で入力してください。" in err
    rc, out, _ = tool("--help", as_json=False)
    assert rc == 0 and "Exit status:" in out and "75" in out


# ---- registration guide ------------------------------------------------------------

def test_guide_mail_and_link(sb, tool):
    addr = unique("guide") + "@example.jp"
    tok = guide_token(sb, tool, addr)
    mail = mails_to(sb, addr)[-1]
    assert "東洋紡健康保険組合です。" in mail.kenpo_body
    assert "https://portal.kenpo.test/toyobo/guide?token=" + tok in mail.kenpo_body
    assert "3時間" in mail.kenpo_body
    rc, a, _ = tool("token", "check", input=tok + "\n")
    assert rc == 0 and a["kind"] == "guide" and 10790 <= a["seconds"] <= 10800
    assert a["masked_address"] == "****@****.jp"
    # Stored only as a keyed hash.
    assert tok not in sb.ldapsearch(ks.SOCIETY_BASE)


def test_guide_rate_limit(sb, tool):
    addr = unique("rate") + "@example.jp"
    answers = [tool("guide", "request", "--society", ks.SOCIETY_ID, addr) for _ in range(7)]
    assert len({json.dumps(a[1], sort_keys=True) for a in answers}) == 1
    assert all(a[0] == 0 for a in answers)
    time.sleep(0.3)
    assert len(mails_to(sb, addr)) == 5        # guide_per_hour
    # Other addresses are not affected.
    guide_token(sb, tool, unique("other") + "@example.jp")


def test_guide_identity_society_only_roster(sb, tool):
    roster = unique("roster") + "@corp.example.jp"
    sb.add_roster_member(unique("A"), roster, "1980-04-01", base=sb.id_base)
    stranger = unique("stranger") + "@example.jp"
    before = len(sb.mail_files())
    known = tool("guide", "request", "--society", ID_SOCIETY, roster)
    unknown = tool("guide", "request", "--society", ID_SOCIETY, stranger)
    assert known[0] == unknown[0] == 0
    assert known[1] == unknown[1]
    assert len(wait_mails(sb, roster, 1)) == 1
    time.sleep(0.3)
    assert len(sb.mail_files()) == before + 1
    assert mails_to(sb, stranger) == []
    assert ID_SOCIETY_NAME in mails_to(sb, roster)[0].kenpo_subject


def test_unknown_society_and_several_societies(tool):
    rc, a, _ = tool("guide", "request", "--society", "nosuch", "a@example.jp")
    assert rc == 3 and a["error"] == "bad-input" and a["field"] == "society"
    # Two societies are configured: one must be named.
    rc, a, _ = tool("guide", "request", "a@example.jp")
    assert rc == 3 and a["field"] == "society"


# ---- the MTA pipe --------------------------------------------------------------

def test_mailin_answers_the_sender(sb, tool):
    msg = ("Return-Path: <bounce@mta.example.jp>\r\n"
           "From: \"Taro\" <taro.mailin@example.jp>\r\n"
           "To: kc@toyobo-kenpo.example.jp\r\nSubject: \r\n\r\n")
    rc, a, _ = tool("mailin", "--society", ks.SOCIETY_ID, input=msg)
    assert rc == 0 and a["ok"] and a["sender_from"] == "from"
    mail = wait_mails(sb, "taro.mailin@example.jp", 1)[-1]
    assert "利用登録手続きのご案内" in mail.kenpo_subject
    assert mails_to(sb, "bounce@mta.example.jp") == []
    rc, a, _ = tool("token", "check", input=token_of(mail) + "\n")
    assert rc == 0 and a["kind"] == "guide"


def test_mailin_refuses_unusable_mail(sb, tool):
    before = len(sb.mail_files())
    cases = [
        ("To: kc@toyobo-kenpo.example.jp\nSubject: hello\n\n", "no-sender"),
        ("From: taro@\n\n", "no-sender"),
        ("From: a@example.jp, b@example.jp\n\n", "no-sender"),
        ("Auto-Submitted: auto-replied\nFrom: robot@example.jp\n\n", "automatic"),
        ("Return-Path: <>\nFrom: MAILER-DAEMON@example.jp\n\n", "automatic"),
        ("From: big@example.jp\n\n" + "x" * (1024 * 1024), "too-large"),
        ("", "malformed"),
    ]
    for msg, code in cases:
        rc, a, _ = tool("mailin", "--society", ks.SOCIETY_ID, input=msg)
        assert (rc, a["error"]) == (3, code), (msg[:60], a)
    no_new_mail(sb, before)


def test_mailin_kenpod_away_is_tempfail(tool, tmp_path):
    rc, a, _ = tool("mailin", "--society", ks.SOCIETY_ID, input="From: t@example.jp\n\n",
                    sock=str(tmp_path / "none.sock"))
    assert rc == 75 and a["error"] == "unavailable"


# ---- letter registration -------------------------------------------------------

def test_letter_registration_end_to_end(sb, tool, temp_hash, testtool, tool_env):
    addr = unique("letter") + "@example.jp"
    m = preissued(sb, temp_hash)
    login = unique("Toyo.Taro")
    assert lookup(sb, login)[0] == kp.NOTFOUND        # and now cached as missing
    tok = guide_token(sb, tool, addr)
    rc, a, _ = tool("register", "letter", m["login"], input=tok + "\n" + "Wrong0pass\n")
    assert rc == 1 and a["error"] == "auth-failed"
    rc, a, _ = tool("register", "letter", "NOSUCH00", input=tok + "\n" + TEMP_PASSWORD + "\n")
    assert rc == 1 and a["error"] == "auth-failed"
    rc, a, _ = tool("register", "letter", m["login"], input=tok + "\n" + TEMP_PASSWORD + "\n")
    assert rc == 0 and a["mail"] == addr and len(a["ticket"]) == 32, a
    ticket = a["ticket"]
    # The guide link is used now.
    rc, a, _ = tool("register", "letter", m["login"], input=tok + "\n" + TEMP_PASSWORD + "\n")
    assert rc == 4 and a["error"] == "token-invalid"
    rc, a, _ = complete(tool, ticket, login, addr)
    assert rc == 0 and a["login_id"] == login, a
    e = sb.entry(m["dn"])
    assert e["kenpoState"] == ["registered"] and e["uid"] == [login]
    assert e["kenpoMail1"] == [addr] and e["kenpoNickname"] == ["ご本人"]
    assert "kenpoTempPassword" not in e
    assert e["homeDirectory"] == ["/home/" + login]
    assert e["userPassword"][0].startswith("{ARGON2}$argon2id$")
    assert verify(testtool, tool_env, e["userPassword"][0], PASSWORD)
    done = wait_mails(sb, addr, 2)[-1]
    assert "利用登録完了のご案内" in done.kenpo_subject
    assert "https://portal.kenpo.test/toyobo/login" in done.kenpo_body
    assert login in done.kenpo_body and PASSWORD not in done.kenpo_body
    # kenpod forgot its cached "no such user".
    result, rec = lookup(sb, login)
    assert result == kp.OK and rec["uid"] == m["uid_number"]
    # The ticket is used too.
    rc, a, _ = complete(tool, ticket, unique("Again"), addr)
    assert rc == 4 and a["error"] == "token-invalid"


def test_letter_wrong_answers_void_the_link(sb, tool, temp_hash):
    m = preissued(sb, temp_hash)
    tok = guide_token(sb, tool, unique("void") + "@example.jp")
    for _ in range(5):      # identity_max_tries
        rc, a, _ = tool("register", "letter", m["login"], input=tok + "\n" + "Wrong0pass\n")
        assert a["error"] == "auth-failed"
    rc, a, _ = tool("register", "letter", m["login"], input=tok + "\n" + TEMP_PASSWORD + "\n")
    assert rc == 4 and a["error"] == "token-invalid"
    assert sb.entry(m["dn"], "kenpoTempPasswordTries")["kenpoTempPasswordTries"] == ["5"]


def test_complete_refusals_change_nothing(sb, tool, temp_hash, pw_hash):
    addr = unique("refuse") + "@example.jp"
    m, _, ticket = letter_ticket(sb, tool, temp_hash, addr)
    registered(sb, pw_hash, "Already.Taken", unique("t") + "@example.jp")
    before_entry = sb.entry(m["dn"])
    before = len(sb.mail_files())
    rc, a, _ = complete(tool, ticket, "07AB1C23", addr)
    assert rc == 1 and [v["code"] for v in a["violations"]] == ["id-digits-7-8"]
    rc, a, _ = complete(tool, ticket, "Good.Name", addr, password="short")
    assert rc == 1 and {v["code"] for v in a["violations"]} == \
        {"password-too-short", "password-no-upper", "password-no-digit"}
    rc, a, _ = tool("register", "complete", "--login-id", "Good.Name", "--mail", addr,
                    input="%s\n%s\n%s\n" % (ticket, PASSWORD, NEW_PASSWORD))
    assert rc == 1 and a["error"] == "passwords-differ"
    rc, a, _ = complete(tool, ticket, "already.TAKEN", addr)
    assert rc == 1 and a["error"] == "id-taken"
    rc, a, _ = complete(tool, ticket, "Good.Name", "not-an-address")
    assert (rc, a["error"], a["field"]) == (3, "bad-input", "mail")
    rc, a, _ = complete(tool, ticket, "Good.Name", "a@example.jp\r\nBcc: x@example.jp")
    assert (rc, a["field"]) == (3, "mail")
    rc, a, _ = complete(tool, ticket, "Good.Name", addr, nickname="a\nb")
    assert (rc, a["field"]) == (3, "nickname")
    rc, a, _ = complete(tool, ticket, "Good.Name", addr, nickname="名" * 65)
    assert (rc, a["field"]) == (3, "nickname")
    rc, a, _ = _complete_bytes(tool, ticket, addr)
    assert (rc, a["field"]) == (3, "nickname")
    assert sb.entry(m["dn"]) == before_entry
    no_new_mail(sb, before)
    # The ticket survived every refusal.
    rc, a, _ = complete(tool, ticket, "Good.Name" + unique(""), addr, nickname="タロウ")
    assert rc == 0, a
    assert sb.entry(m["dn"], "kenpoNickname")["kenpoNickname"] == ["タロウ"]


def _complete_bytes(tool, ticket, addr):
    """register complete with a nickname that is not UTF-8 (argv carries bytes)."""
    return tool("register", "complete", "--login-id", "Good.Name", "--mail", addr,
                "--nickname", os.fsdecode(b"\xff\xfe"),
                input="%s\n%s\n%s\n" % (ticket, PASSWORD, PASSWORD))


def test_two_completions_at_once_one_wins(sb, tool, temp_hash, kenpo_bin, catalogue):
    for round_ in range(3):
        addr = unique("race") + "@example.jp"
        m, _, ticket = letter_ticket(sb, tool, temp_hash, addr)
        logins = [unique("Racer.A"), unique("Racer.B")]
        env = dict(os.environ, KENPO_SOCKET=sb.kenpod_socket)
        procs = [subprocess.Popen([kenpo_bin, "--json", "register", "complete",
                                   "--login-id", login, "--mail", addr],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env) for login in logins]
        outs = [p.communicate(("%s\n%s\n%s\n" % (ticket, PASSWORD, PASSWORD)).encode(),
                              timeout=60)
                for p in procs]
        codes = sorted(p.returncode for p in procs)
        answers = [json.loads(o[0]) for o in outs]
        assert codes == [0, 4], answers
        loser = [a for a in answers if not a["ok"]][0]
        assert loser["error"] == "token-invalid"
        winner = [a for a in answers if a["ok"]][0]
        assert sb.entry(m["dn"], "uid")["uid"] == [winner["login_id"]]


def test_two_letter_openings_at_once_one_wins(sb, tool, temp_hash, kenpo_bin):
    m = preissued(sb, temp_hash)
    tok = guide_token(sb, tool, unique("race2") + "@example.jp")
    env = dict(os.environ, KENPO_SOCKET=sb.kenpod_socket)
    procs = [subprocess.Popen([kenpo_bin, "--json", "register", "letter", m["login"]],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env) for _ in range(2)]
    for p in procs:
        p.stdin.write((tok + "\n" + TEMP_PASSWORD + "\n").encode())
        p.stdin.close()
    for p in procs:
        p.wait(60)
    assert sorted(p.returncode for p in procs) == [0, 4]


# ---- identity check -----------------------------------------------------------

def test_identity_registration_end_to_end(sb, tool, testtool, tool_env):
    roster = unique("hanako") + "@corp.example.jp"
    number = unique("R")
    dn = sb.add_roster_member(number, roster, "1985-02-28", base=sb.id_base)
    tok = guide_token(sb, tool, roster, "--society", ID_SOCIETY)
    rc, a, _ = tool("register", "identity", roster, "1985-03-01", input=tok + "\n")
    assert (rc, a["error"], a["tries_left"]) == (1, "mismatch", 4)
    rc, a, _ = tool("register", "identity", "other@corp.example.jp", "1985-02-28", input=tok + "\n")
    assert (rc, a["error"], a["tries_left"]) == (1, "mismatch", 3)
    n = len(mails_to(sb, roster))
    rc, a, _ = tool("register", "identity", roster.upper(), "1985-02-28", input=tok + "\n")
    assert rc == 0, a
    key = a["authkey"]
    assert re.fullmatch(r"[A-HJ-NPR-Z2-9]{8}", key)
    mail = wait_mails(sb, roster, n + 1)[-1]
    assert "本人確認完了のご案内" in mail.kenpo_subject and "30分" in mail.kenpo_body
    assert key not in mail.kenpo_body and key.lower() not in mail.kenpo_body
    itok = token_of(mail)
    assert "https://portal.kenpo.test/%s/identity?token=%s" % (ID_SOCIETY, itok) \
        in mail.kenpo_body
    # The guide link is used.
    rc, a, _ = tool("register", "identity", roster, "1985-02-28", input=tok + "\n")
    assert rc == 4 and a["error"] == "token-invalid"
    rc, a, _ = tool("register", "identity-open", input=itok + "\n" + "ZZZZZZZZ\n")
    assert (rc, a["error"], a["tries_left"]) == (1, "mismatch", 4)
    rc, a, _ = tool("register", "identity-open", input=itok + "\n" + key.lower() + "\n")
    assert rc == 0 and a["mail"] == sb.entry(dn, "kenpoRosterMail")["kenpoRosterMail"][0]
    ticket = a["ticket"]
    rc, a, _ = tool("register", "identity-open", input=itok + "\n" + key + "\n")
    assert rc == 4 and a["error"] == "token-invalid"
    login = unique("Hanako.Y")
    private = unique("hanako") + "@example.jp"
    rc, a, _ = complete(tool, ticket, login, private, nickname="はなこ")
    assert rc == 0, a
    e = sb.entry(dn)
    assert e["kenpoState"] == ["registered"] and e["uid"] == [login]
    assert "posixAccount" in e["objectClass"]
    assert ID_UID_MIN <= int(e["uidNumber"][0]) < ID_UID_MIN + 1000
    assert e["homeDirectory"] == ["/home/" + login] and e["kenpoMail1"] == [private]
    assert verify(testtool, tool_env, e["userPassword"][0], PASSWORD)
    done = wait_mails(sb, private, 1)[-1]
    assert "利用登録完了のご案内" in done.kenpo_subject and ID_SOCIETY_NAME in done.kenpo_body
    assert lookup(sb, login)[0] == kp.OK


class CuttingProxy:
    """A TCP proxy in front of slapd that goes away at a chosen moment: it
    passes everything on until a client sends a request holding `marker`,
    then closes that connection without passing the request on, and refuses
    every connection from then on, as a directory that has just gone down."""

    def __init__(self, port, marker):
        self.target = ("127.0.0.1", port)
        self.marker = marker
        self.cut = threading.Event()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.settimeout(0.1)
        self.uri = "ldap://127.0.0.1:%d/" % self.listener.getsockname()[1]
        self.socks = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.cut.is_set():
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            server = socket.create_connection(self.target)
            self.socks += [client, server]
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()
        self.listener.close()

    def _pump(self, src, dst, from_client):
        seen = b""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                seen = seen[-len(self.marker):] + data
                if from_client and self.marker in seen:
                    self.cut.set()
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.cut.set()
        self.thread.join(5)
        for s in self.socks:
            s.close()


def identity_ticket(sb, tool, roster, number, dob):
    """A registration ticket of a roster member, through the identity check."""
    sb.add_roster_member(number, roster, dob, base=sb.id_base)
    tok = guide_token(sb, tool, roster, "--society", ID_SOCIETY)
    n = len(mails_to(sb, roster))
    rc, a, _ = tool("register", "identity", roster, dob, input=tok + "\n")
    assert rc == 0, a
    itok = token_of(wait_mails(sb, roster, n + 1)[-1])
    rc, a, _ = tool("register", "identity-open", input=itok + "\n" + a["authkey"] + "\n")
    assert rc == 0, a
    return a["ticket"]


def test_directory_gone_while_taking_a_uid_is_unavailable(sb, tool):
    """A roster member becomes a Unix account at registration, with the next
    uidNumber of the society's counter.  If the directory goes away at that
    moment, the answer is "unavailable" (exit 75: try again), not an internal
    error (70), and the member is left as it was."""
    roster = unique("gone") + "@corp.example.jp"
    number = unique("G")
    dn = "kenpoMemberNumber=%s,ou=members,%s" % (number, sb.id_base)
    ticket = identity_ticket(sb, tool, roster, number, "1977-07-07")
    counter = "cn=uidNumber," + sb.id_base
    before = sb.entry(counter, "kenpoNextUid")["kenpoNextUid"]
    proxy = CuttingProxy(sb.ldap_port, b"cn=uidNumber," + sb.id_base.encode())
    try:
        with sb.kenpod_settings_changed(kenpod={"ldap_uri": proxy.uri}):
            rc, a, _ = complete(tool, ticket, unique("Gone.Taro"), unique("gone") + "@example.jp")
            assert proxy.cut.is_set(), a
            assert (rc, a["error"]) == (75, "unavailable"), a
    finally:
        proxy.close()
    e = sb.entry(dn, "kenpoState", "uid", "uidNumber", "objectClass")
    assert e["kenpoState"] == ["issued"] and "uid" not in e and "uidNumber" not in e
    assert "posixAccount" not in e["objectClass"]
    assert sb.entry(counter, "kenpoNextUid")["kenpoNextUid"] == before


def test_identity_failures_capped_per_link_and_address(sb, tool):
    roster = unique("cap") + "@corp.example.jp"
    sb.add_roster_member(unique("D"), roster, "1970-01-01", base=sb.id_base)
    first, second = [guide_token(sb, tool, roster, "--society", ID_SOCIETY) for _ in range(2)]
    lefts = []
    for _ in range(5):
        rc, a, _ = tool("register", "identity", roster, "1970-01-02", input=first + "\n")
        assert (rc, a["error"]) == (1, "mismatch")
        lefts.append(a["tries_left"])
    assert lefts == [4, 3, 2, 1, 0]
    rc, a, _ = tool("register", "identity", roster, "1970-01-01", input=first + "\n")
    assert (rc, a["error"]) == (4, "token-invalid")     # the link is void
    # Another link for the same address: even the right answer is refused,
    # and the answer is the one an unknown address gets.
    rc, a, _ = tool("register", "identity", roster, "1970-01-01", input=second + "\n")
    assert (rc, a["error"], a["tries_left"]) == (1, "mismatch", 0)


def test_identity_refused_in_letter_society(sb, tool):
    tok = guide_token(sb, tool, unique("lt") + "@example.jp")
    rc, a, _ = tool("register", "identity", "a@example.jp", "1980-01-01", input=tok + "\n")
    assert (rc, a["field"]) == (3, "registration")


def test_identity_bad_input(sb, tool):
    roster = unique("bad") + "@corp.example.jp"
    sb.add_roster_member(unique("E"), roster, "2000-02-29", base=sb.id_base)
    tok = guide_token(sb, tool, roster, "--society", ID_SOCIETY)
    before = len(sb.mail_files())
    for dob in ("2023-02-29", "2023-02-30", "2023-13-01", "2023-1-01", "20230101", "x"):
        rc, a, _ = tool("register", "identity", roster, dob, input=tok + "\n")
        assert (rc, a["field"]) == (3, "date_of_birth"), dob
    for addr in ("taro@", "ta ro@example.jp", "a@example.jp\nBcc: b@example.jp", "a" * 300):
        rc, a, _ = tool("register", "identity", addr, "2000-02-29", input=tok + "\n")
        assert (rc, a["field"]) == (3, "address"), addr
    no_new_mail(sb, before)
    # Nothing was counted: the right answer still passes (a leap day).
    rc, a, _ = tool("register", "identity", roster, "2000-02-29", input=tok + "\n")
    assert rc == 0, a


# ---- password reset ----------------------------------------------------------

def test_reset_same_answer_for_unknown(sb, tool, pw_hash):
    addr = unique("reset") + "@example.jp"
    registered(sb, pw_hash, unique("Reset.Known"), addr)
    before = len(sb.mail_files())
    known = tool("reset", "request", addr)
    unknown = tool("reset", "request", unique("nobody") + "@example.jp")
    assert known[:2] == unknown[:2] and known[0] == 0
    wait_mails(sb, addr, 1)
    time.sleep(0.3)
    assert len(sb.mail_files()) == before + 1
    # Text output is the same too.
    k = tool("reset", "request", addr, as_json=False)
    u = tool("reset", "request", unique("nobody") + "@example.jp", as_json=False)
    assert k == u


def test_reset_flow_and_temporary_login(sb, tool, pw_hash, testtool, tool_env):
    addr = unique("forgot") + "@example.jp"
    second = unique("second") + "@example.jp"
    login = unique("Forgot.Me")
    m = registered(sb, pw_hash, login, addr, extra=[("kenpoMail2", second)])
    old = sb.entry(m["dn"], "userPassword")["userPassword"]
    t0 = time.time()
    rc, a, _ = tool("reset", "request", second)     # any registered address
    assert rc == 0
    mail = wait_mails(sb, second, 1)[-1]
    assert "パスワード再発行のご案内" in mail.kenpo_subject
    assert "ログインID : " + login in mail.kenpo_body
    temp = re.search(r"仮パスワード : ([A-Za-z0-9]{8})", mail.kenpo_body).group(1)
    tok = token_of(mail)
    e = sb.entry(m["dn"])
    assert e["userPassword"] == old          # the current password keeps working
    assert e["kenpoTempPassword"][0].startswith("{ARGON2}$argon2id$")
    assert verify(testtool, tool_env, e["kenpoTempPassword"][0], temp)
    expiry = calendar.timegm(time.strptime(e["kenpoTempPasswordExpiry"][0][:14],
                                           "%Y%m%d%H%M%S"))
    assert abs(expiry - (t0 + 3 * 3600)) < 30
    rc, a, _ = tool("token", "check", input=tok + "\n")
    assert rc == 0 and a["kind"] == "reset"
    rc, a, _ = tool("reset", "open", input=tok + "\n")
    assert rc == 0 and a["login_id"] == login and 10700 < a["seconds"] <= 10800
    rc, a, _ = tool("reset", "open", input=tok + "\n")
    assert rc == 4 and a["error"] == "token-invalid"
    # The old password still authenticates (a key is mailed next).
    rc, a, _ = tool("login", login, input=PASSWORD + "\n")
    assert rc == 6 and a["error"] == "key-sent", a
    # The temporary one logs in and forces a change.
    rc, a, _ = tool("login", login, input=temp + "\n")
    assert rc == 7 and a["error"] == "must-change" and a["must_change"] is True, a
    # No proof of a login (the first line) is needed with the temporary password.
    rc, a, _ = tool("password", "change", login, input="\n%s\nshort\nshort\n" % temp)
    assert rc == 1 and a["error"] == "policy" and a["violations"]
    rc, a, _ = tool("password", "change", login,
                    input="\n%s\n%s\n%s\n" % (temp, NEW_PASSWORD, NEW_PASSWORD))
    assert rc == 0, a
    # The same password again is refused, with its own code.
    rc, a, _ = tool("password", "change", login,
                    input="\n%s\n%s\n%s\n" % (NEW_PASSWORD, NEW_PASSWORD, NEW_PASSWORD))
    assert rc == 1 and a["error"] == "policy", a
    assert [v["code"] for v in a["violations"]] == ["same-as-old"], a
    rc, a, _ = tool("login", login, input=NEW_PASSWORD + "\n")
    assert rc == 6 and len(a["txn"]) > 0 and a["masked_address"] == "****@****.jp"
    # The key mailed after the first login is still pending (split mode).
    key = KEY_RE.search([x for x in mails_to(sb, addr)
                         if "暗証キー" in x.kenpo_subject][-1].kenpo_body).group(1)
    rc, a, _ = tool("login", "key", login, input="%s\n%s\n" % (a["txn"], key))
    assert rc == 0 and a["login_id"] == login and a["must_change"] is False, a


def test_reset_link_voided_by_a_new_request(sb, tool, pw_hash):
    addr = unique("twice") + "@example.jp"
    registered(sb, pw_hash, unique("Twice.Reset"), addr)
    tool("reset", "request", addr)
    first = token_of(wait_mails(sb, addr, 1)[-1])
    tool("reset", "request", addr)
    second = token_of(wait_mails(sb, addr, 2)[-1])
    assert tool("token", "check", input=first + "\n")[1]["error"] == "token-invalid"
    assert tool("token", "check", input=second + "\n")[0] == 0


def test_reset_rate_limit_and_bad_input(sb, tool, pw_hash):
    addr = unique("many") + "@example.jp"
    registered(sb, pw_hash, unique("Many.Resets"), addr)
    for _ in range(7):
        assert tool("reset", "request", addr)[0] == 0
    time.sleep(0.3)
    assert len(mails_to(sb, addr)) == 5
    before = len(sb.mail_files())
    for bad in ("nobody", "a@b@example.jp", "a@example.jp\r\nBcc: x@example.jp", "x" * 300):
        rc, a, _ = tool("reset", "request", bad)
        assert (rc, a["error"], a["field"]) == (3, "bad-input", "address"), bad
    # Longer than a protocol string: refused by the tool itself.
    rc, a, _ = tool("reset", "request", "x" * 5000)
    assert (rc, a["error"]) == (3, "bad-input")
    no_new_mail(sb, before)


# ---- tokens: malformed, expired --------------------------------------------------

def test_malformed_tokens(tool):
    for bad in ("short", "A" * 31, "A" * 33, "!" * 32, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\nA"):
        rc, a, _ = tool("token", "check", input=bad + "\n")
        assert (rc, a["error"]) == (4, "token-invalid"), bad
        rc, a, _ = tool("register", "letter", "ABCDEF12", input=bad + "\n" + "x\n")
        assert rc == 4
    # Well-formed but unknown; and one that starts with '-'.
    for unknown in ("B" * 32, "-" + "C" * 31):
        rc, a, _ = tool("token", "check", input=unknown + "\n")
        assert (rc, a["error"]) == (4, "token-invalid")


def test_links_expire(sb, tool, temp_hash, pw_hash):
    roster = unique("exp") + "@corp.example.jp"
    sb.add_roster_member(unique("X"), roster, "1990-01-01", base=sb.id_base)
    reset_addr = unique("expreset") + "@example.jp"
    registered(sb, pw_hash, unique("Exp.Reset"), reset_addr)
    m = preissued(sb, temp_hash)
    extra = {ID_SOCIETY: dict(sb.extra_societies[ID_SOCIETY], identity_validity="1s")}
    with sb.kenpod_settings_changed(society={"guide_validity": "1s", "reset_validity": "1s"},
                                    extra_societies=extra):
        guide = guide_token(sb, tool, unique("expguide") + "@example.jp")
        tool("reset", "request", reset_addr)
        reset = token_of(wait_mails(sb, reset_addr, 1)[-1])
        gid = guide_token(sb, tool, roster, "--society", ID_SOCIETY)
        n = len(mails_to(sb, roster))
        rc, a, _ = tool("register", "identity", roster, "1990-01-01", input=gid + "\n")
        assert rc == 0, a
        key = a["authkey"]
        ident = token_of(wait_mails(sb, roster, n + 1)[-1])
        time.sleep(1.3)
        rc, a, _ = tool("register", "identity-open", input=ident + "\n" + key + "\n")
        assert (rc, a["error"]) == (4, "token-expired")
        rc, a, _ = tool("token", "check", input=guide + "\n")
        assert (rc, a["error"]) == (4, "token-expired")
        rc, a, _ = tool("register", "letter", m["login"], input=guide + "\n" + TEMP_PASSWORD + "\n")
        assert (rc, a["error"]) == (4, "token-expired")
        rc, a, _ = tool("reset", "open", input=reset + "\n")
        assert (rc, a["error"]) == (4, "token-expired")
        # An expired link stays expired (not "unknown") when asked again,
        # and nothing was registered.
        assert tool("token", "check", input=guide + "\n")[1]["error"] == "token-expired"
        assert sb.entry(m["dn"], "kenpoState")["kenpoState"] == ["issued"]


# ---- profile --------------------------------------------------------------------

def test_profile_show_and_set(sb, tool, pw_hash):
    addr = unique("prof") + "@example.jp"
    login = unique("Prof.Ile")
    m = registered(sb, pw_hash, login, addr)
    sb.add_household_member(m["dn"], "01", nickname="ご家族01")
    sb.add_household_member(m["dn"], "02")
    rc, a, _ = tool("profile", "show", login.lower())
    assert rc == 0, a
    p = a["profile"]
    assert p["login_id"] == login and p["mail1"] == addr and p["mail2"] == ""
    # The JSON convention (kenpo(1), JSON OUTPUT): flags are booleans, the
    # household a list of entries.
    assert p["key_mail"] == "1" and p["notify_magazine"] is True
    assert p["disclose_medical"] is False and p["state"] == "registered"
    assert [(h["index"], h["nickname"]) for h in p["household"]] == \
        [("01", "ご家族01"), ("02", "ご家族02")]
    assert p["household"][0]["disclose_generic"] is False
    # The text form keeps kenpod's field names and yes/no.
    rc, text, _ = tool("profile", "show", login, as_json=False)
    assert rc == 0 and "key_mail: 1\n" in text and "disclose_medical: no\n" in text
    assert "household.02.nickname: ご家族02\n" in text and "household.01.index" not in text
    rc, a, _ = tool("profile", "set", login, "nickname=ニック", "mail2=second@example.jp",
                    "key_mail=2", "notify_magazine=no", "notify_documents=no",
                    "household.02.nickname=ジロウ", "household.01.disclose_medical=yes",
                    "disclose_generic=yes")
    assert rc == 0, a
    e = sb.entry(m["dn"])
    assert e["kenpoNickname"] == ["ニック"] and e["kenpoMail2"] == ["second@example.jp"]
    assert e["kenpoKeyMail"] == ["2"] and e["kenpoNotifyMagazine"] == ["FALSE"]
    assert e["kenpoDiscloseGeneric"] == ["TRUE"]
    hh = sb.entry("kenpoHouseholdIndex=02," + m["dn"])
    assert hh["kenpoNickname"] == ["ジロウ"]
    assert sb.entry("kenpoHouseholdIndex=01," + m["dn"])["kenpoDiscloseMedical"] == ["TRUE"]
    p = tool("profile", "show", login)[1]["profile"]
    assert p["notify_documents"] is False and p["household"][0]["disclose_medical"] is True
    # The nickname is the GECOS field.
    assert lookup(sb, login)[1]["gecos"] == "ニック"
    # Removing the address the key goes to sends the key to address 1 again.
    rc, a, _ = tool("profile", "set", login, "mail2=")
    assert rc == 0 and "kenpoMail2" not in sb.entry(m["dn"])
    assert sb.entry(m["dn"])["kenpoKeyMail"] == ["1"]


def test_profile_mail1_change_notifies_old_address(sb, tool, pw_hash):
    old = unique("old") + "@example.jp"
    new = unique("new") + "@example.co.jp"
    login = unique("Mail.Change")
    m = registered(sb, pw_hash, login, old)
    rc, a, _ = tool("profile", "set", login, "mail1=" + new)
    assert rc == 0, a
    notice = wait_mails(sb, old, 1)[-1]
    assert "ご登録内容変更のお知らせ" in notice.kenpo_subject
    assert "メールアドレス1 を変更しました（変更後：****@****.jp）" in notice.kenpo_body
    assert new not in notice.kenpo_body
    confirmation = wait_mails(sb, new, 1)[-1]
    assert "メールアドレス登録のお知らせ" in confirmation.kenpo_subject
    assert "メールアドレス1として登録されました" in confirmation.kenpo_body
    assert sb.entry(m["dn"], "kenpoMail1")["kenpoMail1"] == [new]


def test_profile_refusals_change_nothing(sb, tool, pw_hash):
    addr = unique("pr") + "@example.jp"
    login = unique("Prof.Refuse")
    m = registered(sb, pw_hash, login, addr)
    someone = unique("Someone.Else")
    registered(sb, pw_hash, someone, unique("se") + "@example.jp")
    before = sb.entry(m["dn"])
    mails = len(sb.mail_files())
    cases = [
        (["mail1="], 3, "mail1"),
        (["mail2=bad"], 3, "mail2"),
        (["nickname="], 3, "nickname"),
        (["nickname=" + os.fsdecode(b"\xc3\x28")], 3, "nickname"),
        (["nickname=a\rb"], 3, "nickname"),
        (["key_mail=4"], 3, "key_mail"),
        (["key_mail=2"], 3, "key_mail"),          # no address 2
        (["key_required=no"], 3, "key_required"),  # not the member's to choose
        (["colour=blue"], 3, "colour"),
        (["household.07.nickname=x"], 3, "household.07.nickname"),
        (["household.01.shoe_size=x"], 3, "household.01.shoe_size"),
        (["nickname=OK", "nickname=Twice"], 3, "nickname"),
        (["nickname=Fine", "mail3=a@example.jp\nBcc: b@example.jp"], 3, "mail3"),
    ]
    for args, code, field in cases:
        rc, a, _ = tool("profile", "set", login, *args)
        assert (rc, a.get("field")) == (code, field), (args, a)
    rc, a, _ = tool("profile", "set", login, "login_id=07AA0A00", "nickname=Fine")
    assert rc == 1 and [v["code"] for v in a["violations"]] == ["id-digits-7-8"]
    rc, a, _ = tool("profile", "set", login, "login_id=" + someone.upper())
    assert rc == 1 and a["error"] == "id-taken"
    rc, a, _ = tool("profile", "set", login, "no-equals-sign")
    assert rc == 2
    # More fields than a request may carry: a usage error before anything
    # is sent (kenpod is not even asked: an absent socket does not matter).
    many = ["household.%02d.nickname=x" % (i % 99 + 1) for i in range(kp.PROFILE_PAIRS_MAX + 1)]
    for sock in (None, "/nonexistent/kenpod.sock"):
        rc, a, _ = tool("profile", "set", login, *many, sock=sock)
        assert (rc, a["ok"], a["error"], a["exit"]) == (2, False, "usage", 2), a
    rc, a, _ = tool("profile", "set", login, *many[:kp.PROFILE_PAIRS_MAX])
    assert rc == 3 and a["error"] == "bad-input", a      # sent, and judged by kenpod
    assert sb.entry(m["dn"]) == before
    no_new_mail(sb, mails)


def test_profile_login_id_change(sb, tool, pw_hash):
    login = unique("Old.Login")
    new = unique("New.Login")
    m = registered(sb, pw_hash, login, unique("lc") + "@example.jp")
    assert lookup(sb, login)[0] == kp.OK and lookup(sb, new)[0] == kp.NOTFOUND
    rc, a, _ = tool("profile", "set", login, "login_id=" + new)
    assert rc == 0, a
    assert sb.entry(m["dn"], "uid")["uid"] == [new]
    assert lookup(sb, new)[0] == kp.OK and lookup(sb, login)[0] == kp.NOTFOUND
    assert tool("profile", "show", new)[1]["profile"]["login_id"] == new


def test_profile_unknown_member(tool):
    rc, a, _ = tool("profile", "show", "No.Such.Member")
    assert rc == 1 and a["error"] == "not-found"


@pytest.fixture
def public_socket(sb):
    """kenpod on a socket an unprivileged user can reach, with the portal
    group nogroup; yields the socket path (only as root)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run the client as another user")
    top = tempfile.mkdtemp(prefix="kenpod-self-")
    os.chmod(top, 0o755)
    sock = os.path.join(top, "kenpod.sock")
    try:
        with sb.kenpod_settings_changed(kenpod={"portal_group": "nogroup"}, socket=sock):
            yield sock
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_portal_group_needs_a_ticket(sb, tool, pw_hash, public_socket):
    login = unique("Tick.Et")
    m = registered(sb, pw_hash, login, unique("tk") + "@example.jp")
    other = unique("Other.Member")
    registered(sb, pw_hash, other, unique("om") + "@example.jp")
    nobody = 65534
    rc, a, _ = tool("profile", "show", login, sock=public_socket, user=nobody)
    assert (rc, a["error"]) == (5, "denied")
    rc, a, _ = tool("profile", "set", login, "nickname=Hacked", sock=public_socket, user=nobody)
    assert (rc, a["error"]) == (5, "denied")
    # Root hands out a ticket (as the login would).
    rc, a, _ = tool("profile", "show", login, sock=public_socket)
    ticket = a["ticket"]
    rc, a, _ = tool("profile", "show", "--ticket", login, input=ticket + "\n",
                    sock=public_socket, user=nobody)
    assert rc == 0 and a["profile"]["login_id"] == login and "ticket" not in a
    rc, a, _ = tool("profile", "show", "--ticket", other, input=ticket + "\n",
                    sock=public_socket, user=nobody)
    assert (rc, a["error"]) == (4, "token-invalid")        # another member's
    rc, a, _ = tool("profile", "set", "--ticket", login, "nickname=Mine", input=ticket + "\n",
                    sock=public_socket, user=nobody)
    assert rc == 0, a
    assert sb.entry(m["dn"], "kenpoNickname")["kenpoNickname"] == ["Mine"]
    # The ticket is never an argument.
    rc, a, _ = tool("profile", "show", "--ticket", ticket, login, sock=public_socket,
                    user=nobody)
    assert (rc, a["error"]) == (2, "usage")
    # Self-service needs the portal group at all.
    rc, a, _ = tool("guide", "request", "--society", ks.SOCIETY_ID, "a@example.jp",
                    sock=public_socket, user=nobody, group=100)
    assert (rc, a["error"]) == (5, "denied")
    rc, a, _ = tool("policy", "check-login-id", "Still.Local", user=nobody)
    assert rc == 0


def test_old_tokens_and_counters_are_removed(sb, pw_hash):
    if os.geteuid() != 0:
        pytest.skip("profile tickets without a login need root")
    login = unique("Sweep.Er")
    registered(sb, pw_hash, login, unique("sw") + "@example.jp")
    old, h = "20000101000000Z", "0" * 64
    tok = "kenpoTokenHash=%s,ou=tokens,%s" % (h, ks.SOCIETY_BASE)
    rate = "kenpoRateKey=guide:%s,ou=rates,%s" % (h, ks.SOCIETY_BASE)
    sb.ldapadd(ks.ldif_entry(tok, [("objectClass", "kenpoToken"), ("kenpoTokenHash", h),
                                   ("kenpoTokenKind", "guide"), ("kenpoTokenExpiry", old)]) +
               ks.ldif_entry(rate, [("objectClass", "kenpoRateCounter"),
                                    ("kenpoRateKey", "guide:" + h), ("kenpoRateCount", "3"),
                                    ("kenpoRateWindow", old)]))
    fresh = sb.count_entries("ou=tokens," + ks.SOCIETY_BASE)
    # Every new token (here: a profile ticket for root) sweeps now and then.
    for i in range(400):
        with kp.Client(sb.kenpod_socket) as c:
            assert c.call(0x00030008, login, "")[0] == kp.OK
        if not sb.entry(tok) and not sb.entry(rate):
            break
    assert sb.entry(tok) == {} and sb.entry(rate) == {}
    # Live tokens stay.
    assert sb.count_entries("ou=tokens," + ks.SOCIETY_BASE) >= fresh
