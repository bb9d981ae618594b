"""kenpo-admin against the sandbox: init, issue, import (bad rows, re-import,
updates, concurrency, --strict, letters), show/list/--json, the account
commands as kenpod and slapd see them, purge.

The module runs its own sandbox with kenpod.  Imports use a low argon2 cost
(t=1, m=8K) from their configuration file, except where the letters'
passwords are checked against the default cost.
"""

import csv
import io
import json
import os
import stat
import subprocess
import time

import pytest

import kenpoproto
import kenposandbox as ks
from conftest import start_sandbox
from test_nss import getent, nss_env, passwd_fields

NOT_FOUND = 2          # getent
LOW_COST = {"argon2_t": "1", "argon2_m": "8K"}
OTHER = {               # a second society, for init
    "name": "他社健康保険組合", "base": "ou=other," + ks.SUFFIX,
    "mail_from": "noreply@other.kenpo.test", "login_url": "https://p.kenpo.test/o/login",
    "guide_url": "https://p.kenpo.test/o/g?t=%%TOKEN%%",
    "reset_url": "https://p.kenpo.test/o/r?t=%%TOKEN%%", "uid_min": "500000",
}

# The readings of the letters, written out independently of the C table.
KANA = dict(zip("0123456789", "ゼロ イチ ニ サン ヨン ゴ ロク ナナ ハチ キュウ".split()))
KANA.update(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                ("エー ビー シー ディー イー エフ ジー エイチ アイ ジェー ケー エル エム "
                 "エヌ オー ピー キュー アール エス ティー ユー ブイ ダブリュー エックス "
                 "ワイ ゼット").split()))


def spell(s, case):
    out = []
    for c in s:
        k = KANA[c.upper()]
        if case and c.isalpha():
            k += "(大)" if c.isupper() else "(小)"
        out.append(k)
    return "、".join(out)


# ---- fixtures and helpers ------------------------------------------------------

@pytest.fixture(scope="module")
def sb(tmp_path_factory, builddir):
    s = start_sandbox(tmp_path_factory, builddir, "adm", ("kenpod", "kenpo-admin"),
                      society={"home": "/srv/kenpo/%u", "shell": "/bin/sh"})
    yield s
    s.down()


def write_conf(sb, path, kenpod=None, extra=None):
    """A kenpod.conf for kenpo-admin: the sandbox's, with settings changed."""
    saved = dict(sb.kenpod_settings), dict(sb.extra_societies)
    sb.kenpod_settings.update(kenpod or {})
    sb.extra_societies.update(extra or {})
    try:
        text = sb.kenpod_config_text()
    finally:
        sb.kenpod_settings, sb.extra_societies = saved
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


@pytest.fixture(scope="module")
def low_conf(sb):
    return write_conf(sb, os.path.join(sb.dir, "admin-low.conf"), kenpod=LOW_COST)


@pytest.fixture(scope="module")
def admin(sb, builddir, low_conf):
    """admin(*args, conf=, bind="admin"|"external", input=) -> CompletedProcess."""
    binary = os.path.join(builddir, "kenpo-admin")

    def run(*args, conf=None, bind="admin", input=None, timeout=300):
        argv = [binary, "-c", conf or low_conf]
        if bind == "admin":
            argv += ["-D", ks.ADMIN_DN, "-y", sb.admin_pw_file]
        env = dict(os.environ, LDAPNOINIT="1")
        env.pop("LOCPATH", None)
        env["LSAN_OPTIONS"] = "suppressions=%s" % os.path.join(ks.srcdir(), "tests", "lsan.supp")
        r = subprocess.run(argv + list(args), input=input, capture_output=True, text=True,
                           env=env, timeout=timeout, stdin=None if input else subprocess.DEVNULL)
        assert not any(m in r.stderr for m in ks.SANITIZER_MARKERS), r.stderr
        return r
    return run


def ok_json(r, code=0):
    """The answer of a --json run that exited with code: one object on one
    line, "ok", and on failure "error", "message" and "exit" (kenpo(1),
    JSON OUTPUT)."""
    assert r.returncode == code, r.stderr + r.stdout
    assert r.stdout.endswith("\n") and r.stdout.count("\n") == 1, r.stdout
    out = json.loads(r.stdout)
    assert out["ok"] is (code == 0), out
    if code != 0:
        assert out["exit"] == code and out["error"] and out["message"]["en"], out
    return out


def write_roster(path, rows, header="member_number,name,birth_date,mail,household"):
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(header + "\n")
        for row in rows:
            f.write(row + "\n")
    return str(path)


def sample_rows(prefix, n, start=0):
    rows = []
    for i in range(start, start + n):
        house = '"家族 花子:1985-05-05;家族 一郎"' if i % 10 == 0 else ""
        rows.append("%s%05d,東洋 太郎%d,1980-04-%02d,t%d@%s.example.jp,%s" % (
            prefix, i, i, 1 + i % 28, i, prefix.lower(), house))
    return rows


def members(sb, filt, *attrs):
    """{member number: {attr: [values]}} of the members matching filt."""
    conn = sb.connect("admin")
    try:
        res = conn.search_s("ou=members," + ks.SOCIETY_BASE, 1, filt, list(attrs) or None)
    finally:
        conn.unbind_s()
    return {e[1]["kenpoMemberNumber"][0].decode(): {k: [v.decode() for v in vs]
                                                    for k, vs in e[1].items()}
            for e in res}


def household(sb, number):
    """[(index, name, nickname, birth date)] of a member's household."""
    conn = sb.connect("admin")
    try:
        res = conn.search_s("kenpoMemberNumber=%s,ou=members,%s" % (number, ks.SOCIETY_BASE),
                            1, "(objectClass=kenpoHouseholdMember)")
    finally:
        conn.unbind_s()
    get = lambda e, a: e.get(a, [b""])[0].decode() or None  # noqa: E731
    return sorted((get(e, "kenpoHouseholdIndex"), get(e, "cn"), get(e, "kenpoNickname"),
                   get(e, "kenpoDateOfBirth")) for _, e in res)


def registered_member(sb, admin, number, login):
    """Issue a member and register it by hand, as kenpod's registration would."""
    r = admin("issue", "--number", number, "--name", "登録 済", "--household", "子 一")
    assert r.returncode == 0, r.stderr
    dn = "kenpoMemberNumber=%s,ou=members,%s" % (number, ks.SOCIETY_BASE)
    sb.ldapmodify("dn: %s\nchangetype: modify\nreplace: kenpoState\nkenpoState: registered\n"
                  "-\nreplace: uid\nuid: %s\n-\nreplace: userPassword\nuserPassword: %s\n-\n"
                  "delete: kenpoTempPassword\n-\n" % (dn, login, ks._ssha("Passw0rdAb")))
    return dn


def can_bind(sb, dn, pw):
    import ldap
    try:
        sb.connect((dn, pw)).unbind_s()
        return True
    except ldap.INVALID_CREDENTIALS:
        return False


# ---- init -----------------------------------------------------------------------

def test_init_twice_is_harmless(sb, admin, tmp_path):
    conf = write_conf(sb, str(tmp_path / "other.conf"), extra={"other": OTHER})
    looked = ok_json(admin("--society", "other", "--json", "init", conf=conf))
    got = {e["dn"]: e["status"] for e in looked["entries"]}
    assert got["ou=other," + ks.SUFFIX] == "missing" and looked["applied"] is False
    assert sb.ldapsearch(ks.SUFFIX, "(ou=other)", "1.1") == ""
    first = ok_json(admin("--society", "other", "--json", "init", "--apply", conf=conf))
    got = {e["dn"]: e["status"] for e in first["entries"]}
    assert got["ou=other," + ks.SUFFIX] == "created"
    assert got["cn=uidNumber,ou=other," + ks.SUFFIX] == "created"
    for ou in ("members", "tokens", "rates"):
        assert got["ou=%s,ou=other,%s" % (ou, ks.SUFFIX)] == "created"
    assert got[ks.POLICY_DN] == "exists" and got[ks.KENPOD_DN] == "exists"
    second = ok_json(admin("--society", "other", "--json", "init", "--apply", conf=conf))
    assert {e["status"] for e in second["entries"]} == {"exists"}
    out = sb.ldapsearch("ou=other," + ks.SUFFIX, "(objectClass=*)", "kenpoSocietyId",
                        "kenpoNextUid", "displayName")
    assert "kenpoSocietyId: other" in out and "kenpoNextUid: 500000" in out
    # The admin (rootdn) cannot read cn=config: everything is printed.
    assert first["config_readable"] is False
    ldif = "".join(c["ldif"] for c in first["config_changes"])
    assert "olcDbIndex: kenpoMemberNumber eq" in ldif and "olcOverlay: unique" in ldif


def test_init_apply_through_cn_config(sb, admin):
    """As the peercred identity (manage on cn=config): a missing index is put
    back, and a second run has nothing left to do."""
    env = dict(os.environ, LDAPNOINIT="1")
    subprocess.run(["ldapmodify", "-Y", "EXTERNAL", "-Q", "-H", sb.ldapi_uri], check=True,
                   env=env, capture_output=True, text=True,
                   input="dn: olcDatabase={1}mdb,cn=config\nchangetype: modify\n"
                         "delete: olcDbIndex\nolcDbIndex: kenpoRateKey eq\n-\n")
    r = ok_json(admin("--json", "init", "--apply", bind="external"))
    assert r["config_readable"] is True
    applied = [c for c in r["config_changes"] if c["applied"]]
    assert any("olcDbIndex: kenpoRateKey eq" in c["ldif"] for c in applied)
    r = admin("init", "--apply", bind="external")
    assert r.returncode == 0 and "cn=config: nothing to change" in r.stdout, r.stdout


# ---- import ---------------------------------------------------------------------

BAD = {100: ("birth_date", "1990-13-01"), 250: ("name", ""), 500: ("mail", "nope"),
       750: ("member_number", "X Y"), 999: ("household", "子:2200-01-01")}


@pytest.fixture(scope="module")
def sample(sb, admin, tmp_path_factory):
    """1,000 rows, 5 of them bad, imported once."""
    rows = sample_rows("S", 1000)
    for i, (field, value) in BAD.items():
        f = next(csv.reader([rows[i]]))
        f[["member_number", "name", "birth_date", "mail", "household"].index(field)] = value
        buf = io.StringIO()
        csv.writer(buf, lineterminator="").writerow(f)
        rows[i] = buf.getvalue()
    path = write_roster(tmp_path_factory.mktemp("roster") / "sample.csv", rows)
    r = admin("--json", "import", path, "--no-letters")
    return path, rows, ok_json(r, 4)


def test_import_reports_exactly_the_bad_rows(sb, sample):
    _, _, r = sample
    assert sorted((e["line"], e["field"]) for e in r["errors"]) == \
        sorted((i + 2, field) for i, (field, _) in BAD.items())
    assert r["rows"] == 1000 and r["refused"] == 5 and r["new"] == 995 and r["failed"] == 0
    found = members(sb, "(kenpoMemberNumber=S*)", "kenpoMemberNumber", "uidNumber")
    assert len(found) == 995
    assert "S00100" not in found and "S00101" in found
    assert len({m["uidNumber"][0] for m in found.values()}) == 995


def test_import_text_errors_name_file_line_and_field(admin, sample):
    path = sample[0]
    r = admin("import", path, "--no-letters")
    assert r.returncode == 4
    assert "%s:102: birth_date: no such date: 1990-13-01" % path in r.stderr
    assert "%s:752: member_number:" % path in r.stderr


def test_reimport_is_idempotent(sb, admin, sample):
    path = sample[0]
    before = members(sb, "(kenpoMemberNumber=S*)", "kenpoMemberNumber", "uid")
    r = ok_json(admin("--json", "import", path, "--no-letters"), 4)
    assert (r["new"], r["updated"], r["unchanged"]) == (0, 0, 995)
    assert members(sb, "(kenpoMemberNumber=S*)", "kenpoMemberNumber", "uid") == before


def test_changed_rows_are_reported_as_updated(sb, admin, tmp_path):
    rows = sample_rows("U", 20)
    path = write_roster(tmp_path / "u.csv", rows)
    assert ok_json(admin("--json", "import", path, "--no-letters"))["new"] == 20
    rows[3] = rows[3].replace("東洋 太郎3", "東洋 三郎")
    rows[4] = rows[4].replace("t4@u.example.jp", "t4@new.example.jp")
    rows[0] = rows[0].replace(";家族 一郎", "")          # a dependent goes
    rows[5] = rows[5] + '"妻 花子:1981-01-01"'           # one comes
    write_roster(path, rows)
    r = ok_json(admin("--json", "import", path, "--no-letters"))
    upd = {m["member_number"]: m["fields"] for m in r["members"] if m["status"] == "updated"}
    assert upd == {"U00003": ["name"], "U00004": ["mail"], "U00000": ["household"],
                   "U00005": ["household"]}
    assert (r["new"], r["updated"], r["unchanged"]) == (0, 4, 16)
    got = members(sb, "(kenpoMemberNumber=U0000*)", "kenpoMemberNumber", "cn", "sn",
                  "kenpoRosterMail")
    assert got["U00003"]["cn"] == ["東洋 三郎"] and got["U00003"]["sn"] == ["東洋"]
    assert got["U00004"]["kenpoRosterMail"] == ["t4@new.example.jp"]
    assert household(sb, "U00005") == [("01", "妻 花子", "ご家族01", "1981-01-01")]
    assert household(sb, "U00000") == [("01", "家族 花子", "ご家族01", "1985-05-05")]
    text = admin("import", path, "--no-letters")
    assert text.returncode == 0 and "0 new, 0 updated, 20 unchanged" in text.stdout


def test_two_imports_at_once_never_share_a_uid(sb, admin, tmp_path, builddir, low_conf):
    a = write_roster(tmp_path / "a.csv", sample_rows("CA", 400))
    b = write_roster(tmp_path / "b.csv", sample_rows("CB", 400))
    argv = [os.path.join(builddir, "kenpo-admin"), "-c", low_conf, "-D", ks.ADMIN_DN,
            "-y", sb.admin_pw_file, "--json", "--window", "8", "import"]
    env = dict(os.environ, LDAPNOINIT="1")
    procs = [subprocess.Popen(argv + [p, "--no-letters"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env, text=True)
             for p in (a, b, a)]
    outs = [p.communicate(timeout=300) for p in procs]
    res = [json.loads(o[0]) for o in outs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    # The same roster twice at once: each member added once, by one of them.
    assert res[0]["new"] + res[2]["new"] == 400
    assert res[1]["new"] == 400
    got = members(sb, "(|(kenpoMemberNumber=CA*)(kenpoMemberNumber=CB*))",
                  "kenpoMemberNumber", "uidNumber")
    assert len(got) == 800
    uids = [int(m["uidNumber"][0]) for m in got.values()]
    assert len(set(uids)) == 800
    everyone = sb.ldapsearch(ks.SOCIETY_BASE, "(uidNumber=*)", "uidNumber")
    values = [line for line in everyone.splitlines() if line.startswith("uidNumber:")]
    assert len(values) == len(set(values))


def test_strict_writes_nothing(sb, admin, tmp_path):
    rows = sample_rows("ST", 10)
    rows[7] = rows[7].replace("1980-04-08", "1980-02-30")
    path = write_roster(tmp_path / "strict.csv", rows)
    r = admin("import", path, "--no-letters", "--strict")
    assert r.returncode == 5, r.stderr
    assert ":9: birth_date:" in r.stderr and "nothing written" in r.stderr
    assert members(sb, "(kenpoMemberNumber=ST*)", "kenpoMemberNumber") == {}


def test_import_needs_letters_or_no_letters(admin, tmp_path):
    path = write_roster(tmp_path / "n.csv", sample_rows("NL", 1))
    r = admin("import", path)
    assert r.returncode == 2 and "--letters-csv" in r.stderr


def test_bad_header_is_refused(admin, tmp_path):
    path = write_roster(tmp_path / "h.csv", ["1,x"], header="member_number,nmae")
    r = admin("import", path, "--no-letters")
    assert r.returncode == 1 and ':1: unknown or repeated column "nmae"' in r.stderr


@pytest.mark.parametrize("column", ["key_required", "認証キー"])
def test_key_required_column_is_refused(sb, admin, tmp_path, column):
    """Whether a login needs the key is the society's policy: a roster that
    still sets it per member is refused whole, and says where it went."""
    path = write_roster(tmp_path / "k.csv", ["KR1,鍵 不要,no"],
                        header="member_number,name," + column)
    r = admin("import", path, "--no-letters")
    assert r.returncode == 1 and ':1: column "%s"' % column in r.stderr
    assert "key = required | optional in kenpod.conf; remove the column" in r.stderr
    assert members(sb, "(kenpoMemberNumber=KR1)") == {}
    r = admin("issue", "--number", "KR2", "--name", "鍵 不要", "--key-required", "no")
    assert r.returncode == 2 and "--key-required" in r.stderr and "kenpod.conf" in r.stderr
    assert members(sb, "(kenpoMemberNumber=KR2)") == {}


def test_identity_check_society(sb, admin, tmp_path):
    """Registration by identity check: the entries wait without a login ID,
    birth date and mail are required, no password and no letter is made."""
    ident = dict(OTHER, base="ou=ident," + ks.SUFFIX, uid_min="600000",
                 registration="identity", identity_url="https://p.kenpo.test/i?t=%%TOKEN%%")
    conf = write_conf(sb, str(tmp_path / "ident.conf"), kenpod=LOW_COST,
                      extra={"ident": ident})
    assert admin("--society", "ident", "init", "--apply", conf=conf).returncode == 0
    path = write_roster(tmp_path / "i.csv", ["I1,本人 確認,1970-01-02,i1@example.jp,",
                                             "I2,本人 確認,1970-01-02,,"])
    r = ok_json(admin("--society", "ident", "--json", "import", path, conf=conf), 4)
    assert r["new"] == 1 and [(e["line"], e["field"]) for e in r["errors"]] == [(3, "mail")]
    out = sb.ldapsearch("ou=ident," + ks.SUFFIX, "(kenpoMemberNumber=I1)", "objectClass",
                        "uid", "uidNumber", "kenpoTempPassword", "kenpoRosterMail",
                        "kenpoDateOfBirth")
    assert "kenpoRosterMail: i1@example.jp" in out and "kenpoDateOfBirth: 1970-01-02" in out
    assert "posixAccount" not in out
    assert not [line for line in out.splitlines() if line.startswith(("uid:", "uidNumber:"))]
    assert "kenpoTempPassword" not in out
    r = admin("--society", "ident", "reissue", "I1", conf=conf)
    assert r.returncode == 1 and "no login ID yet" in r.stderr


# ---- letters --------------------------------------------------------------------

def test_letters_spell_and_verify(sb, admin, tmp_path, testtool):
    """At the default cost: the passwords in the letters verify against the
    hashes in the directory, and every character is spelled."""
    conf = write_conf(sb, str(tmp_path / "default.conf"))
    path = write_roster(tmp_path / "l.csv", sample_rows("LT", 12))
    letters = str(tmp_path / "letters.csv")
    r = admin("import", path, "--letters-csv", letters, "--validity", "30d", conf=conf)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(os.stat(letters).st_mode) == 0o600
    with open(letters, encoding="utf-8", newline="") as f:
        got = list(csv.DictReader(f))
    assert [g["member_number"] for g in got] == ["LT%05d" % i for i in range(12)]
    stored = members(sb, "(kenpoMemberNumber=LT*)", "kenpoMemberNumber", "uid",
                     "kenpoTempPassword", "kenpoTempPasswordExpiry")
    for g in got:
        m = stored[g["member_number"]]
        assert g["society"] == ks.SOCIETY_NAME and g["line"] == str(int(g["member_number"][2:]) + 2)
        assert g["login_id"] == m["uid"][0] and g["temp_password_expiry"]
        assert g["login_id_reading"] == spell(g["login_id"], False)
        assert g["temp_password_reading"] == spell(g["temp_password"], True)
        assert m["kenpoTempPassword"][0].startswith("{ARGON2}$argon2id$v=19$m=65536,t=2")
        v = subprocess.run([testtool, "verify-password", m["kenpoTempPassword"][0]],
                           input=g["temp_password"], text=True, capture_output=True)
        assert v.returncode == 0, (g, v.stderr)
        assert m["kenpoTempPasswordExpiry"][0].endswith("Z")
    # Never over an existing file, and nothing is written then.
    more = write_roster(tmp_path / "l2.csv", sample_rows("LU", 2))
    r = admin("import", more, "--letters-csv", letters)
    assert r.returncode == 1 and "File exists" in r.stderr
    assert members(sb, "(kenpoMemberNumber=LU*)", "kenpoMemberNumber") == {}


def test_spelling_of_look_alikes(admin, tmp_path, sb):
    """The readings that matter most, spelled by the C table, through a
    reissue of a member whose login ID is set by hand."""
    r = admin("issue", "--number", "SP1", "--name", "綴 太郎")
    assert r.returncode == 0
    dn = "kenpoMemberNumber=SP1,ou=members," + ks.SOCIETY_BASE
    sb.ldapmodify("dn: %s\nchangetype: modify\nreplace: uid\nuid: O0l1I.W_Z-9\n-\n" % dn)
    letters = str(tmp_path / "sp.csv")
    assert admin("reissue", "SP1", "--letters-csv", letters).returncode == 0
    with open(letters, encoding="utf-8") as f:
        row = list(csv.DictReader(f))[0]
    assert row["login_id_reading"] == \
        "オー、ゼロ、エル、イチ、アイ、ドット、ダブリュー、アンダーバー、ゼット、ハイフン、キュウ"


# ---- issue, show, list --------------------------------------------------------------

def test_issue_show_list_json(sb, admin):
    r = ok_json(admin("--json", "issue", "--number", "SH1", "--name", "表示 花子",
                      "--birth-date", "1975/3/9", "--mail", "hanako@example.jp",
                      "--household", "表示 一郎:2001-02-03;表示 二郎"))
    login, pw = r["login_id"], r["temp_password"]
    assert len(login) == 8 and login[6:].isdigit() and len(pw) == 8
    assert r["uid_number"] >= ks.UID_MIN
    show = ok_json(admin("--json", "show", login))
    assert show["member_number"] == "SH1" and show["state"] == "issued"
    assert show["birth_date"] == "1975-03-09" and show["nickname"] == "ご本人"
    # The key: where it goes is the member's (address 1 until chosen), whether
    # a login asks for it the society's (kenpod.conf's key, required here).
    assert show["key_mail"] == 1 and show["key_policy"] == "required"
    assert show["temp_password"].startswith("set, valid until ") and "kenpoTempPassword" not in r
    assert [(h["index"], h["name"], h["nickname"]) for h in show["household"]] == \
        [("01", "表示 一郎", "ご家族01"), ("02", "表示 二郎", "ご家族02")]
    assert ok_json(admin("--json", "show", "SH1"))["login_id"] == login
    text = admin("show", "--by", "number", "SH1")
    assert text.returncode == 0 and "birth_date     1975-03-09" in text.stdout
    listed = ok_json(admin("--json", "list", "--state", "issued"))["members"]
    assert "SH1" in [m["member_number"] for m in listed]
    assert {(m["key_mail"], m["key_policy"]) for m in listed} == {(1, "required")}
    assert all(m["state"] == "issued" for m in listed)
    lines = admin("list").stdout.splitlines()
    assert "SH1\t%s\tissued\t" % login in lines
    assert all(m["state"] == "registered"
               for m in ok_json(admin("--json", "list", "--state", "registered"))["members"])
    again = admin("issue", "--number", "SH1", "--name", "x")
    assert again.returncode == 1 and "exists already" in again.stderr
    # Errors with --json: on stdout, as JSON, and still on stderr as text.
    again = admin("--json", "issue", "--number", "SH1", "--name", "x")
    r = ok_json(again, 1)
    assert r["error"] == "error" and "exists already" in r["message"]["en"]
    assert "exists already" in again.stderr
    r = ok_json(admin("--json", "show", "No.Such.One"), 3)
    assert r["error"] == "not-found"
    r = ok_json(admin("--frobnicate", "--json", "show", login), 2)
    assert r["error"] == "usage" and "--frobnicate" in r["message"]["en"]
    r = ok_json(admin("--json", "list", "--state", "sleeping"), 2)
    assert r["error"] == "usage" and "members" not in r


def test_not_found_and_usage(admin):
    assert admin("show", "NOSUCH-1").returncode == 3
    assert admin("lock", "NOSUCH-1").returncode == 3
    assert admin("show").returncode == 2
    assert admin("show", "--strict", "x").returncode == 2
    assert admin("list", "--state", "sleepy").returncode == 2
    assert admin("frobnicate").returncode == 2
    h = admin("--help", "import")
    assert h.returncode == 0 and "member_number" in h.stdout and "Exit status" in h.stdout
    assert admin("delete", "SH1").returncode == 2          # no terminal, no --yes
    r = admin("issue", "--number", "bad number", "--name", "x")
    assert r.returncode == 2 and "--number" in r.stderr


def test_external_bind_is_the_default(admin):
    assert admin("issue", "--number", "EX1", "--name", "外部 認証").returncode == 0
    r = admin("--json", "show", "EX1", bind="external")
    assert ok_json(r)["member_number"] == "EX1"


# ---- what kenpod and slapd see ----------------------------------------------------

def byname(sb, name):
    with kenpoproto.Client(sb.kenpod_socket) as c:
        return c.byname(name)[0]


def soon(pred, timeout=2.0):
    """pred() holds within timeout seconds."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def test_lifecycle_as_kenpod_sees_it(sb, admin):
    login = "Life.Taro"
    dn = registered_member(sb, admin, "LC1", login)
    env = nss_env(sb)
    rc, out, _ = getent(env, login)
    assert rc == 0 and passwd_fields(out)[5] == "/srv/kenpo/" + login
    assert byname(sb, login) == kenpoproto.OK           # now in kenpod's cache
    assert can_bind(sb, dn, "Passw0rdAb")

    assert admin("disable", login).returncode == 0
    # kenpod's passwd map follows the directory within a second.
    assert soon(lambda: getent(env, login)[0] == NOT_FOUND)
    assert byname(sb, login) == kenpoproto.NOTFOUND
    assert admin("enable", login).returncode == 0
    assert getent(env, login)[0] == 0 and byname(sb, login) == kenpoproto.OK

    assert admin("lock", login).returncode == 0
    assert not can_bind(sb, dn, "Passw0rdAb")           # ppolicy's lock
    assert ok_json(admin("--json", "show", login))["lock"] == "locked by an administrator"
    assert "LC1" in [m["member_number"] for m in ok_json(admin("--json", "list", "--state",
                                                               "locked"))["members"]]
    sb.ldapmodify("dn: %s\nchangetype: modify\nreplace: kenpoAuthFailures\n"
                  "kenpoAuthFailures: 7\n-\n" % dn)
    assert admin("unlock", login).returncode == 0
    assert can_bind(sb, dn, "Passw0rdAb")
    assert "kenpoAuthFailures" not in sb.ldapsearch(dn, "(objectClass=*)", "kenpoAuthFailures",
                                                   scope="base")

    r = ok_json(admin("--json", "reissue", login))
    assert len(r["temp_password"]) == 8
    out = sb.ldapsearch(dn, "(objectClass=*)", "kenpoMustChange", "kenpoTempPassword",
                        scope="base")
    assert "kenpoMustChange: TRUE" in out and "kenpoTempPassword: {ARGON2}" in out

    r = admin("--json", "delete", "--yes", login)
    assert ok_json(r)["action"] == "delete"
    assert soon(lambda: getent(env, login)[0] == NOT_FOUND)
    assert byname(sb, login) == kenpoproto.NOTFOUND
    assert sb.ldapsearch(ks.SOCIETY_BASE, "(kenpoMemberNumber=LC1)", "1.1") == ""
    assert "LC1" not in sb.ldapsearch(ks.SOCIETY_BASE, "(objectClass=kenpoHouseholdMember)",
                                      "1.1")


def test_kenpod_unreachable_is_a_note(sb, admin, tmp_path):
    assert admin("issue", "--number", "NT1", "--name", "連絡 無").returncode == 0
    r = admin("--socket", str(tmp_path / "none.sock"), "disable", "NT1")
    assert r.returncode == 0 and "note: kenpod at" in r.stderr and "not reached" in r.stderr


# ---- purge ---------------------------------------------------------------------------

def test_purge_removes_what_expired(sb, admin):
    past, future = "20200101000000Z", "20991231000000Z"
    tokens = "ou=tokens," + ks.SOCIETY_BASE
    ldif = ""
    for name, when in (("a" * 64, past), ("b" * 64, future)):
        ldif += ks.ldif_entry("kenpoTokenHash=%s,%s" % (name, tokens), [
            ("objectClass", "kenpoToken"), ("kenpoTokenHash", name),
            ("kenpoTokenKind", "guide"), ("kenpoTokenExpiry", when)])
    sb.ldapadd(ldif)
    for number, when in (("PK1", past), ("PK2", future)):
        assert admin("issue", "--number", number, "--name", "鍵 期限").returncode == 0
        sb.ldapmodify("dn: kenpoMemberNumber=%s,ou=members,%s\nchangetype: modify\n"
                      "replace: kenpoKeyHash\nkenpoKeyHash: %s\n-\nreplace: kenpoKeyExpiry\n"
                      "kenpoKeyExpiry: %s\n-\nreplace: kenpoKeyTries\nkenpoKeyTries: 1\n-\n"
                      % (number, ks.SOCIETY_BASE, "c" * 64, when))
    r = ok_json(admin("--json", "purge"))
    assert r["tokens_deleted"] >= 1 and r["keys_removed"] >= 1 and r["failed"] == 0
    left = sb.ldapsearch(tokens, "(objectClass=kenpoToken)", "kenpoTokenHash")
    assert "a" * 64 not in left and "b" * 64 in left
    keys = members(sb, "(kenpoMemberNumber=PK*)", "kenpoMemberNumber", "kenpoKeyHash",
                   "kenpoKeyTries")
    assert "kenpoKeyHash" not in keys["PK1"] and "kenpoKeyTries" not in keys["PK1"]
    assert keys["PK2"]["kenpoKeyHash"] == ["c" * 64]
    assert ok_json(admin("--json", "purge"))["tokens_deleted"] == 0


# ---- reset ---------------------------------------------------------------------------

def test_reset_mails_the_member_through_kenpod(sb, admin):
    dn = registered_member(sb, admin, "RS1", "Reset.Me")
    sb.ldapmodify("dn: %s\nchangetype: modify\nreplace: kenpoMail1\nkenpoMail1: reset.me@example.jp\n"
                  % dn)
    before = len(sb.mails())
    r = ok_json(admin("--json", "reset", "--by", "number", "RS1"))
    assert r == {"ok": True, "login_id": "Reset.Me", "mailed_to": "****@****.jp"}
    sb.wait_for_mail(before + 1)
    mail = sb.mails()[-1]
    assert mail["To"] == "reset.me@example.jp"
    assert "パスワード再発行のご案内" in mail.kenpo_subject
    assert "Reset.Me" in mail.kenpo_body
    # The temporary password is stored hashed only, and the old one still works.
    got = members(sb, "(kenpoMemberNumber=RS1)", "kenpoMemberNumber", "kenpoTempPassword")["RS1"]
    assert got["kenpoTempPassword"][0].startswith("{ARGON2}$argon2id$")
    assert can_bind(sb, dn, "Passw0rdAb")


def test_reset_refuses_answers_outside_the_table(sb, admin, tmp_path):
    """kenpo-admin takes kenpod's answer only as the protocol table lays it
    out: short, long or unknown answers are errors, and nothing is said to
    be mailed."""
    dn = registered_member(sb, admin, "RS3", "Reset.Strict")
    sb.ldapmodify("dn: %s\nchangetype: modify\nreplace: kenpoMail1\n"
                  "kenpoMail1: strict@example.jp\n" % dn)
    sock = str(tmp_path / "fake.sock")
    good = kenpoproto.answer(kenpoproto.RESET_REQUEST, kenpoproto.OK)
    with kenpoproto.FakeKenpod(sock, [good]) as fake:
        r = ok_json(admin("--socket", sock, "--json", "reset", "--by", "number", "RS3"))
        assert r["mailed_to"] == "****@****.jp" and len(fake.requests) == 1
    for what, frame in kenpoproto.malformed_answers(kenpoproto.RESET_REQUEST, kenpoproto.OK):
        with kenpoproto.FakeKenpod(sock, [frame]):
            r = ok_json(admin("--socket", sock, "--json", "reset", "--by", "number", "RS3"), 1)
            assert "Protocol error" in r["message"]["en"] and "mailed_to" not in r, (what, r)


def test_reset_refuses_a_member_who_never_registered(sb, admin):
    assert admin("issue", "--number", "RS2", "--name", "未 登録").returncode == 0
    before = len(sb.mails())
    r = admin("reset", "--by", "number", "RS2")
    assert r.returncode == 1 and "not registered" in r.stderr
    time.sleep(0.3)
    assert len(sb.mails()) == before
