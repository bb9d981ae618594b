"""Who changed what, and when: kenpo-admin's audit lines (admin_log and
syslog), slapd's access log (slapo-accesslog, which the sandbox runs as
`kenpo-admin init` sets it up), `kenpo-admin history MEMBER` built on it,
an administrator's profile change (`kenpo-admin set`), and the export of
who wants which notice mail (`list --notify`).

The module runs its own sandbox, kenpod at a low argon2 cost so that the
members' hashes need no upgrade at login.
"""

import csv
import io
import json
import os
import re
import subprocess

import pytest

import kenpoproto as kp
import kenposandbox as ks
from conftest import check_kenpod, start_sandbox

LOW_COST = {"argon2_t": "1", "argon2_m": "8K"}
PASSWORD = "Kiroku2025Pw"


@pytest.fixture(scope="module")
def sb(tmp_path_factory, builddir):
    # Password logins alone: the key is the society's policy, not each member's.
    s = start_sandbox(tmp_path_factory, builddir, "audit", programs=("kenpod", "kenpo-admin"),
                      society={"key": "optional"}, kenpod=LOW_COST)
    yield s
    s.down()


@pytest.fixture(autouse=True)
def kenpod_healthy(sb):
    yield
    check_kenpod(sb)


@pytest.fixture(scope="module")
def audit_log(sb):
    return os.path.join(sb.dir, "admin-audit.log")


@pytest.fixture(scope="module")
def conf(sb, audit_log):
    saved = dict(sb.kenpod_settings)
    sb.kenpod_settings["admin_log"] = audit_log
    try:
        text = sb.kenpod_config_text()
    finally:
        sb.kenpod_settings = saved
    path = os.path.join(sb.dir, "audit.conf")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


@pytest.fixture(scope="module")
def admin(sb, builddir, conf):
    binary = os.path.join(builddir, "kenpo-admin")

    def run(*args, bind="admin"):
        argv = [binary, "-c", conf]
        if bind == "admin":
            argv += ["-D", ks.ADMIN_DN, "-y", sb.admin_pw_file]
        env = dict(os.environ, LDAPNOINIT="1",
                   LSAN_OPTIONS="suppressions=" + os.path.join(ks.srcdir(), "tests", "lsan.supp"))
        env.pop("LOCPATH", None)
        r = subprocess.run(argv + list(args), capture_output=True, text=True, env=env,
                           timeout=300, stdin=subprocess.DEVNULL)
        assert not any(m in r.stderr for m in ks.SANITIZER_MARKERS), r.stderr
        return r
    return run


@pytest.fixture(scope="module")
def pw_hash(testtool, tool_env):
    r = subprocess.run([testtool, "hash-password", "--t", "1", "--m", "8K"],
                       input=PASSWORD + "\n", capture_output=True, text=True, env=tool_env,
                       check=True)
    return r.stdout.strip()


def ok_json(r, code=0):
    assert r.returncode == code, r.stderr + r.stdout
    out = json.loads(r.stdout)
    assert out["ok"] is (code == 0), out
    return out


def audit_lines(path, since=0):
    """The audit lines appended since offset `since`, as dicts: the format of
    kenpod's audit lines (src/kenpod/log.h) after the local time."""
    with open(path, encoding="utf-8") as f:
        f.seek(since)
        text = f.read()
    out = []
    for line in text.splitlines():
        m = re.match(r"^(\S+) kenpo-admin\[\d+\]: audit v=1 event=(\S+) at=(\S+)(.*)$", line)
        assert m, line
        pairs = {k: re.sub(r"\\x([0-9a-f]{2})", lambda h: chr(int(h.group(1), 16)), v)
                 for k, v in re.findall(r' (\w+)="((?:[^"\\]|\\x[0-9a-f]{2})*)"', m.group(4))}
        pairs.update(time=m.group(1), event=m.group(2), at=m.group(3))
        out.append(pairs)
    return out


def log_size(path):
    return os.path.getsize(path) if os.path.exists(path) else 0


def accesslog(sb, dn, *more):
    """The access log's entries about dn, oldest first, as {attr: [values]}."""
    import ldap
    conn = sb.connect("admin")
    try:
        res = conn.search_s(ks.ACCESSLOG_SUFFIX, ldap.SCOPE_ONELEVEL,
                            "(&(objectClass=auditWriteObject)(reqDN=%s)%s)" % (dn, "".join(more)))
    finally:
        conn.unbind_s()
    entries = [{k: [v.decode() for v in vs] for k, vs in e.items()} for _, e in res]
    return sorted(entries, key=lambda e: e["reqStart"][0])


def in_order(seq, want):
    """True when want's items appear in seq in this order (others may be
    between them: kenpod may write more than these)."""
    it = iter(seq)
    return all(any(x == w for x in it) for w in want)


def registered(sb, pw_hash, login, number):
    """A registered member with a password and two addresses; the society
    asks for no key."""
    return sb.add_member(login, number=number, extra=[
        ("userPassword", pw_hash),
        ("kenpoMail1", login.lower() + "@example.jp"),
        ("kenpoMail2", login.lower() + "@home.example.jp")])


def login(sb, m):
    with kp.Client(sb.kenpod_socket, timeout=30) as c:
        assert c.auth_password(m["login"], PASSWORD)["name"] == "OK"
        assert c.session_open(m["login"])["name"] == "OK"


# ---- kenpo-admin's audit lines ------------------------------------------------------

def test_profile_change_by_the_administrator(sb, admin, audit_log, pw_hash):
    m = registered(sb, pw_hash, "Audit.Set", "AU1")
    before = log_size(audit_log)
    r = ok_json(admin("--json", "set", "AU1", "nickname=たろう", "notify_magazine=no",
                      "notify_medical=yes"))
    assert r["changed"] is True
    got = sb.entry(m["dn"], "kenpoNickname", "kenpoNotifyMagazine")
    assert got == {"kenpoNickname": ["たろう"], "kenpoNotifyMagazine": ["FALSE"]}
    lines = audit_lines(audit_log, before)
    assert [(l["event"], l["field"], l["old"], l["new"]) for l in lines] == [
        ("admin.set", "nickname", "ご本人", "たろう"),
        ("admin.set", "notify_magazine", "yes", "no")]
    for l in lines:
        assert l["by"] == "dn:" + ks.ADMIN_DN and l["member"] == m["dn"] and l["number"] == "AU1"
        assert l["login"] == "Audit.Set" and l["society"] == ks.SOCIETY_ID and l["user"]
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0900$", l["time"])
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", l["at"])
    # The same again changes nothing and says nothing.
    before = log_size(audit_log)
    assert ok_json(admin("--json", "set", "AU1", "nickname=たろう"))["changed"] is False
    assert audit_lines(audit_log, before) == []
    r = admin("set", "AU1", "nickname=\x07")
    assert r.returncode == 2 and "control character" in r.stderr
    assert admin("set", "AU1", "colour=blue").returncode == 2


def test_key_mail_set_by_the_administrator(sb, admin, audit_log, pw_hash):
    """key_mail names an address the member has, as kenpod requires; whether
    a key is needed at all is the society's, and key_required says so."""
    m = registered(sb, pw_hash, "Audit.Key", "AUK")
    shown = ok_json(admin("--json", "show", "AUK"))
    assert shown["key_mail"] == 1 and shown["key_policy"] == "optional"
    assert "key_required" not in shown
    before = log_size(audit_log)
    assert ok_json(admin("--json", "set", "AUK", "key_mail=2"))["changed"] is True
    assert sb.entry(m["dn"], "kenpoKeyMail") == {"kenpoKeyMail": ["2"]}
    assert [(l["event"], l["field"], l["old"], l["new"]) for l in audit_lines(audit_log, before)] \
        == [("admin.set", "key_mail", "1", "2")]
    assert ok_json(admin("--json", "show", "AUK"))["key_mail"] == 2
    assert "key_mail       2" in admin("show", "AUK").stdout
    # No address 3: refused, nothing written.
    before = log_size(audit_log)
    r = ok_json(admin("--json", "set", "AUK", "nickname=かぎ", "key_mail=3"), 2)
    assert "no mail address 3" in r["message"]["en"]
    r = admin("set", "AUK", "key_mail=4")
    assert r.returncode == 2 and "not 1, 2 or 3" in r.stderr
    r = admin("set", "AUK", "key_required=no")
    assert r.returncode == 2 and "key = required | optional in kenpod.conf" in r.stderr
    assert sb.entry(m["dn"], "kenpoKeyMail", "kenpoNickname", "kenpoKeyRequired") == {
        "kenpoKeyMail": ["2"], "kenpoNickname": ["ご本人"]}
    assert audit_lines(audit_log, before) == []


def test_import_update_and_lock_are_audited(sb, admin, audit_log, tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("member_number,name,mail\r\nAU2,監査 一郎,ichiro@corp.example.jp\r\n",
                    encoding="utf-8")
    assert admin("import", str(path), "--no-letters").returncode == 0
    path.write_text("member_number,name,mail\r\nAU2,監査 一朗,ichiro@corp.example.jp\r\n",
                    encoding="utf-8")
    before = log_size(audit_log)
    assert admin("import", str(path), "--no-letters").returncode == 0
    assert admin("lock", "--by", "number", "AU2").returncode == 0
    lines = audit_lines(audit_log, before)
    assert [(l["event"], l.get("field"), l.get("old"), l.get("new")) for l in lines] == [
        ("admin.update", "name", "監査 一郎", "監査 一朗"), ("admin.lock", "locked", "no", "yes")]
    assert all(l["number"] == "AU2" and l["by"] == "dn:" + ks.ADMIN_DN for l in lines)


def test_secrets_never_reach_the_audit_log(sb, admin, audit_log):
    assert admin("issue", "--number", "AU3", "--name", "秘密 保持").returncode == 0
    r = ok_json(admin("--json", "reissue", "--by", "number", "AU3"))
    with open(audit_log, encoding="utf-8") as f:
        text = f.read()
    assert r["temp_password"] not in text
    assert "event=admin.reissue" in text and 'number="AU3"' in text
    assert 'temp_password="(set)"' in text


# ---- slapd's access log ---------------------------------------------------------------

def test_access_log_records_a_lock_and_who_made_it(sb, admin, pw_hash):
    m = registered(sb, pw_hash, "Audit.Lock", "AU4")
    assert admin("lock", "Audit.Lock").returncode == 0
    (e,) = accesslog(sb, m["dn"], "(reqMod=pwdAccountLockedTime:*)")
    assert e["reqAuthzID"] == [ks.ADMIN_DN] and e["reqType"] == ["modify"]
    assert any(v.startswith("pwdAccountLockedTime:") and v.endswith("000001010000Z")
               for v in e["reqMod"])
    assert admin("unlock", "Audit.Lock").returncode == 0
    # kenpod's own writes are there too, under its service account.
    login(sb, m)
    (e,) = accesslog(sb, m["dn"], "(reqMod=kenpoLastLogin:*)")
    assert e["reqAuthzID"] == [ks.KENPOD_DN]


def test_history_shows_changes_and_logins(sb, admin, pw_hash):
    m = registered(sb, pw_hash, "Audit.Hist", "AU5")
    login(sb, m)
    assert admin("lock", "AU5").returncode == 0
    assert admin("unlock", "AU5").returncode == 0
    assert admin("set", "AU5", "nickname=はなこ").returncode == 0
    with kp.Client(sb.kenpod_socket) as c:
        assert c.auth_password(m["login"], "Wrong1Password")["name"] == "AUTH_ERR"
    r = ok_json(admin("--json", "history", "AU5"))
    assert r["member_number"] == "AU5" and r["login_id"] == "Audit.Hist"
    what = [(e["what"], e["by"]) for e in r["events"]]
    want = [("added", ks.ADMIN_DN), ("login", "kenpod"), ("locked", ks.ADMIN_DN),
            ("unlocked", ks.ADMIN_DN), ("changed", ks.ADMIN_DN), ("login failed", "kenpod")]
    assert in_order(what, want), what
    # kenpod's own changes (the login's source, its counts) are there too.
    (nick,) = [e["changes"] for e in r["events"]
               if e["what"] == "changed" and e["by"] == ks.ADMIN_DN]
    assert {"attribute": "kenpoNickname", "old": "ご本人", "new": "はなこ"} in nick
    assert all(e["local_time"].endswith("JST") for e in r["events"])
    # Secrets only say that they changed.
    added = {c["attribute"]: c["new"] for c in r["events"][0]["changes"]}
    assert added["userPassword"] == "(secret)" and pw_hash not in json.dumps(r)
    text = admin("history", "Audit.Hist")
    assert text.returncode == 0 and "login" in text.stdout and "kenpod" in text.stdout
    assert "kenpoNickname: ご本人 -> はなこ" in text.stdout
    assert admin("history", "NOSUCH-9").returncode == 3


def test_history_without_an_access_log(sb, admin, pw_hash):
    registered(sb, pw_hash, "Audit.None", "AU6")
    r = admin("history", "AU6", "--accesslog", "cn=nolog")
    assert r.returncode == 1 and "kenpo-admin init" in r.stderr


# ---- who wants which notice ------------------------------------------------------------

def test_list_notify_exports_who_wants_which_notice(sb, admin, pw_hash):
    a = registered(sb, pw_hash, "Notify.A", "NO1")
    registered(sb, pw_hash, "Notify.B", "NO2")
    sb.ldapmodify("dn: kenpoMemberNumber=NO2,ou=members,%s\nchangetype: modify\n"
                  "replace: kenpoNotifyGeneric\nkenpoNotifyGeneric: FALSE\n" % ks.SOCIETY_BASE)
    sb.add_member("Notify.C", number="NO3", disabled=True,
                  extra=[("kenpoMail1", "c@example.jp")])
    sb.add_preissued_member(number="NO4")
    r = admin("list", "--notify", "generic")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    got = {row["member_number"]: row for row in rows}
    assert "NO1" in got and "NO2" not in got and "NO3" not in got and "NO4" not in got
    assert (got["NO1"]["login_id"], got["NO1"]["mail1"], got["NO1"]["mail2"],
            got["NO1"]["mail3"]) == ("Notify.A", "notify.a@example.jp",
                                     "notify.a@home.example.jp", "")
    r = ok_json(admin("--json", "list", "--notify", "ジェネリック通知"))
    assert r["category"] == "generic" and r["count"] == len(r["members"])
    (mine,) = [x for x in r["members"] if x["member_number"] == "NO1"]
    assert mine == {"member_number": "NO1", "login_id": a["login"],
                    "addresses": ["notify.a@example.jp", "notify.a@home.example.jp"]}
    assert "NO2" in [x["member_number"] for x in ok_json(
        admin("--json", "list", "--notify", "medical"))["members"]]
    assert admin("list", "--notify", "weather").returncode == 2


def test_notify_export_is_safe_for_spreadsheets(sb, admin, pw_hash):
    """A login ID cannot start a formula, but a mail address's local part
    can: "=cmd|..."@ is a valid address."""
    registered(sb, pw_hash, "Notify.F", "NO5")
    sb.ldapmodify("dn: kenpoMemberNumber=NO5,ou=members,%s\nchangetype: modify\n"
                  "replace: kenpoMail1\nkenpoMail1: =1+2@example.jp\n-\n"
                  "replace: kenpoMail2\nkenpoMail2: @x@example.jp\n" % ks.SOCIETY_BASE)
    r = admin("list", "--notify", "magazine")
    line = [l for l in r.stdout.splitlines() if l.startswith("NO5,")][0]
    assert line == "NO5,Notify.F,\"'=1+2@example.jp\",\"'@x@example.jp\","
