"""Rosters as societies send them, month after month: households keyed by
who the dependents are (never by their place in the list), CP932 and UTF-8
files, the three date forms, --dry-run's diff, members missing from a full
roster or marked as left (資格喪失), errors in Japanese and English.

The module runs its own sandbox with kenpod; kenpo-admin imports at a low
argon2 cost.
"""

import json
import os
import subprocess

import pytest

import kenposandbox as ks
from conftest import start_sandbox

LOW_COST = {"argon2_t": "1", "argon2_m": "8K"}
HEADER = "member_number,name,birth_date,mail,household"


@pytest.fixture(scope="module")
def sb(tmp_path_factory, builddir):
    s = start_sandbox(tmp_path_factory, builddir, "roster", ("kenpod", "kenpo-admin"))
    yield s
    s.down()


def write_conf(sb, path, extra=None):
    """kenpod.conf for kenpo-admin: the sandbox's at a low argon2 cost."""
    saved = dict(sb.kenpod_settings), dict(sb.extra_societies)
    sb.kenpod_settings.update(LOW_COST)
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
def conf(sb):
    return write_conf(sb, os.path.join(sb.dir, "roster.conf"))


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
def admin(sb, builddir, conf):
    """admin(*args, lang=None) -> CompletedProcess, bound as the rootdn."""
    binary = os.path.join(builddir, "kenpo-admin")

    def run(*args, env_extra=None, conf=conf):
        argv = [binary, "-c", conf, "-D", ks.ADMIN_DN, "-y", sb.admin_pw_file]
        env = dict(os.environ, LDAPNOINIT="1",
                   LSAN_OPTIONS="suppressions=" + os.path.join(ks.srcdir(), "tests", "lsan.supp"))
        env.pop("LOCPATH", None)
        env.pop("LANGUAGE", None)
        env.update(env_extra or {})
        r = subprocess.run(argv + list(args), capture_output=True, text=True, env=env,
                           timeout=300, stdin=subprocess.DEVNULL)
        assert not any(m in r.stderr for m in ks.SANITIZER_MARKERS), r.stderr
        return r
    return run


def write_roster(path, rows, header=HEADER, encoding="utf-8", bom=False):
    text = header + "\r\n" + "".join(r + "\r\n" for r in rows)
    with open(path, "wb") as f:
        if bom:
            f.write(b"\xef\xbb\xbf")
        f.write(text.encode(encoding))
    return str(path)


def dn_of(number):
    return "kenpoMemberNumber=%s,ou=members,%s" % (number, ks.SOCIETY_BASE)


def household(sb, number):
    """{index: {attr: value}} of a member's household entries."""
    conn = sb.connect("admin")
    try:
        res = conn.search_s(dn_of(number), 1, "(objectClass=kenpoHouseholdMember)")
    finally:
        conn.unbind_s()
    return {e["kenpoHouseholdIndex"][0].decode(): {k: v[0].decode() for k, v in e.items()}
            for _, e in res}


def set_dependent(sb, number, index, **attrs):
    """What the member's profile does through kenpod: a dependent's own
    nickname and disclosure settings."""
    mods = "".join("replace: %s\n%s: %s\n-\n" % (k, k, v) for k, v in attrs.items())
    sb.ldapmodify("dn: kenpoHouseholdIndex=%s,%s\nchangetype: modify\n%s" % (
        index, dn_of(number), mods))


def ok_json(r, code=0):
    assert r.returncode == code, r.stderr + r.stdout
    out = json.loads(r.stdout)
    assert out["ok"] is (code == 0), out
    return out


# ---- households ----------------------------------------------------------------

def test_settings_stay_with_their_dependent(sb, admin, tmp_path):
    """The first dependent leaves and a child is born: the second dependent
    keeps her own nickname and 医療費通知 disclosure, the newborn gets none of
    them, and the one who left is removed and reported."""
    path = write_roster(tmp_path / "h1.csv", [
        'HS1,世帯 主,1970-01-01,,"世帯 一郎:2000-01-01;世帯 花子:2002-02-02"'])
    assert admin("import", path, "--no-letters").returncode == 0
    assert sorted(household(sb, "HS1")) == ["01", "02"]
    set_dependent(sb, "HS1", "02", kenpoNickname="はなちゃん", kenpoDiscloseMedical="TRUE")
    set_dependent(sb, "HS1", "01", kenpoNickname="いっちゃん")

    path = write_roster(tmp_path / "h2.csv", [
        'HS1,世帯 主,1970-01-01,,"世帯 花子:2002-02-02;世帯 新:2024-05-01"'])
    r = ok_json(admin("--json", "import", path, "--no-letters"))
    got = household(sb, "HS1")
    by_name = {e["cn"]: e for e in got.values()}
    hanako, baby = by_name["世帯 花子"], by_name["世帯 新"]
    assert (hanako["kenpoNickname"], hanako.get("kenpoDiscloseMedical")) == \
        ("はなちゃん", "TRUE")
    assert baby["kenpoNickname"] == "ご家族03" and "kenpoDiscloseMedical" not in baby
    assert baby["kenpoDateOfBirth"] == "2024-05-01"
    assert sorted(got) == ["02", "03"] and got["02"] is hanako
    # Reported: who left, who came.
    (m,) = [x for x in r["members"] if x["member_number"] == "HS1"]
    assert m["status"] == "updated" and m["fields"] == ["household"]
    assert [(d["index"], d["name"]) for d in m["household"]["removed"]] == [("01", "世帯 一郎")]
    assert [(d["index"], d["name"]) for d in m["household"]["added"]] == [("03", "世帯 新")]
    # The same roster again: nothing moves.
    r = ok_json(admin("--json", "import", path, "--no-letters"))
    assert (r["updated"], r["unchanged"]) == (0, 1)


def test_a_dependent_is_known_by_name_and_birth_date(sb, admin, tmp_path):
    """A reordered roster moves nobody; a birth date given for the first time
    is added to the same person; white space in a name is no new person."""
    path = write_roster(tmp_path / "o1.csv", [
        'HS2,順番 主,1970-01-01,,"順番 甲;順番 乙:2001-01-01;順番 丙:2003-03-03"'])
    assert admin("import", path, "--no-letters").returncode == 0
    set_dependent(sb, "HS2", "03", kenpoDiscloseGeneric="TRUE")
    path = write_roster(tmp_path / "o2.csv", [
        'HS2,順番 主,1970-01-01,,"順番　丙:2003-03-03;順番 甲:1999-09-09;順番 乙:2001-01-01"'])
    r = ok_json(admin("--json", "import", path, "--no-letters"))
    (m,) = [x for x in r["members"] if x["member_number"] == "HS2"]
    assert m["household"]["removed"] == [] and m["household"]["added"] == []
    got = household(sb, "HS2")
    assert got["01"]["cn"] == "順番 甲" and got["01"]["kenpoDateOfBirth"] == "1999-09-09"
    assert got["03"]["cn"] == "順番　丙" and got["03"]["kenpoDiscloseGeneric"] == "TRUE"
    assert got["02"]["cn"] == "順番 乙"


# ---- files as societies have them ----------------------------------------------

def test_all_three_date_forms(sb, admin, tmp_path):
    path = write_roster(tmp_path / "d.csv", [
        "DT1,日付 一,19900101,,", "DT2,日付 二,1990-02-03,,", "DT3,日付 三,1990/3/4,,",
        'DT4,日付 四,1990/04/05,,"子 一:20200506"'])
    r = ok_json(admin("--json", "import", path, "--no-letters"))
    assert r["new"] == 4 and r["errors"] == []
    got = {n: sb.entry(dn_of(n), "kenpoDateOfBirth")["kenpoDateOfBirth"][0]
           for n in ("DT1", "DT2", "DT3", "DT4")}
    assert got == {"DT1": "1990-01-01", "DT2": "1990-02-03", "DT3": "1990-03-04",
                   "DT4": "1990-04-05"}
    assert household(sb, "DT4")["01"]["kenpoDateOfBirth"] == "2020-05-06"


@pytest.mark.parametrize("encoding,bom", [("cp932", False), ("utf-8", True), ("utf-8", False)])
def test_cp932_and_utf8_rosters(sb, admin, tmp_path, encoding, bom):
    """What Excel writes in Japan (CP932, with ①, ～ and 髙 that Shift_JIS
    lacks) and UTF-8 with or without a byte order mark read the same."""
    tag = "E%s%d" % (encoding[:2].upper(), bom)
    header = "被保険者番号,氏名,生年月日,郵便番号,住所,事業所名,事業所番号"
    path = write_roster(tmp_path / "e.csv", [
        "%s,髙橋 一郎,1980/01/02,５３０－０００１,大阪市北区梅田１－１　①ビル～,東洋紡株式会社,00123"
        % tag], header=header, encoding=encoding, bom=bom)
    r = admin("--json", "import", path, "--no-letters")
    out = ok_json(r)
    assert out["new"] == 1 and out["encoding"] == ("CP932" if encoding == "cp932" else "UTF-8")
    e = sb.entry(dn_of(tag), "cn", "postalCode", "postalAddress", "o", "departmentNumber")
    assert e["cn"] == ["髙橋 一郎"] and e["postalCode"] == ["530-0001"]
    assert e["postalAddress"] == ["大阪市北区梅田１－１　①ビル～"]
    assert e["o"] == ["東洋紡株式会社"] and e["departmentNumber"] == ["00123"]
    if encoding == "cp932":
        assert "read as CP932" in admin("import", path, "--no-letters").stderr


def test_a_file_in_no_known_encoding_is_refused(admin, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"member_number,name\r\nBE1,\x82\xa0\r\nBE2,\x85\x40\x85\r\n")
    r = admin("import", str(path), "--no-letters")
    assert r.returncode == 1
    assert "%s:3: not UTF-8 or CP932 (Shift_JIS) text: byte 0x85" % path in r.stderr


def test_errors_in_japanese_and_english(admin, tmp_path, catalogue):
    loc, locs = catalogue
    path = write_roster(tmp_path / "j.csv", ["JE1,誤り 一,1990-13-01,,"])
    en = admin("import", path, "--no-letters", env_extra={"LANG": "C"})
    assert "%s:2: birth_date: no such date: 1990-13-01" % path in en.stderr
    ja = admin("import", path, "--no-letters", env_extra={
        "LANG": "ja_JP.UTF-8", "KENPO_LOCALEDIR": loc, "LOCPATH": locs})
    assert "%s:2: birth_date: 存在しない日付です: 1990-13-01" % path in ja.stderr
    r = ok_json(admin("--json", "import", path, "--no-letters", env_extra={
        "KENPO_LOCALEDIR": loc, "LOCPATH": locs}), 4)
    assert r["errors"] == [{"line": 2, "field": "birth_date", "message": {
        "en": "no such date: 1990-13-01", "ja": "存在しない日付です: 1990-13-01"}}]


# ---- the diff, members who leave ---------------------------------------------------

def test_dry_run_shows_the_diff_and_writes_nothing(sb, admin, tmp_path):
    path = write_roster(tmp_path / "r1.csv", [
        "DR1,差分 一,1980-01-01,dr1@example.jp,", "DR2,差分 二,1980-01-02,,",
        'DR3,差分 三,1980-01-03,,"差分 子:2010-01-01"'])
    assert admin("import", path, "--no-letters").returncode == 0
    before = sb.ldapsearch(ks.SOCIETY_BASE, "(kenpoMemberNumber=DR*)", "*")
    path = write_roster(tmp_path / "r2.csv", [
        "DR1,差分 一,1980-01-01,dr1@example.jp,", "DR2,差分 次郎,1980-01-02,,",
        'DR3,差分 三,1980-01-03,,"差分 孫:2020-02-02"', "DR4,差分 四,1980-01-04,,"])
    r = ok_json(admin("--json", "-v", "import", path, "--dry-run", "--full"))
    assert r["dry_run"] is True and (r["new"], r["updated"], r["unchanged"]) == (1, 2, 1)
    st = {m["member_number"]: m for m in r["members"]}
    assert st["DR1"]["status"] == "unchanged" and st["DR4"]["status"] == "new"
    assert st["DR2"]["status"] == "changed"
    assert st["DR2"]["changes"] == [{"field": "name", "old": "差分 二", "new": "差分 次郎"}]
    assert st["DR3"]["household"]["removed"][0]["name"] == "差分 子"
    assert st["DR3"]["household"]["added"][0]["name"] == "差分 孫"
    # Every other member of the society is missing from this "full" roster.
    assert r["missing"] > 0 and all(m["status"] == "missing" for n, m in st.items()
                                    if not n.startswith("DR"))
    text = admin("import", path, "--dry-run")
    assert text.returncode == 0 and "name: 差分 二 -> 差分 次郎" in text.stdout
    assert "household: - 01 差分 子 (2010-01-01)" in text.stdout
    assert "household: + 02 差分 孫 (2020-02-02)" in text.stdout
    assert "dry run: nothing was written" in text.stdout
    assert sb.ldapsearch(ks.SOCIETY_BASE, "(kenpoMemberNumber=DR*)", "*") == before


def test_missing_members_reported_and_disabled_with_the_flag(sb, admin, tmp_path):
    """A society of its own: its full roster no longer lists MS2."""
    extra = dict(sb.society_section("miss", "欠員健康保険組合"), uid_min="700000")
    conf = write_conf(sb, str(tmp_path / "miss.conf"), extra={"miss": extra})
    run = lambda *a: admin("--society", "miss", *a, conf=conf)  # noqa: E731
    assert run("init", "--apply").returncode == 0
    path = write_roster(tmp_path / "m1.csv", ["MS1,在籍 一,1980-01-01,,",
                                              "MS2,退職 二,1980-01-02,,",
                                              "MS3,在籍 三,1980-01-03,,"])
    assert run("import", path, "--no-letters").returncode == 0
    path = write_roster(tmp_path / "m2.csv", ["MS1,在籍 一,1980-01-01,,",
                                              "MS3,在籍 三,1980-01-03,,"])
    r = run("import", path, "--full")
    assert r.returncode == 0 and "missing MS2" in r.stdout and "not on the roster" in r.stdout
    base = "ou=miss," + ks.SUFFIX
    assert "kenpoDisabled" not in sb.ldapsearch(base, "(kenpoMemberNumber=MS2)", "kenpoDisabled")
    r = ok_json(run("--json", "import", path, "--full", "--disable-missing"))
    (m,) = [x for x in r["members"] if x["status"] == "missing"]
    assert m["member_number"] == "MS2" and m["disabled"] is True
    assert "kenpoDisabled: TRUE" in sb.ldapsearch(base, "(kenpoMemberNumber=MS2)",
                                                  "kenpoDisabled")
    # Never deleted, and not disabled twice.
    r = ok_json(run("--json", "import", path, "--full", "--disable-missing"))
    assert r["missing"] == 1 and r["updated"] == 0
    assert sb.count_entries("ou=members," + base) == 3
    assert run("import", path, "--disable-missing").returncode == 2


def test_members_who_left_are_disabled(sb, admin, tmp_path):
    header = HEADER + ",資格喪失日"
    path = write_roster(tmp_path / "l1.csv", ["LF1,喪失 一,1980-01-01,,,",
                                              "LF2,喪失 二,1980-01-02,,,2099-12-31"],
                        header=header)
    assert ok_json(admin("--json", "import", path, "--no-letters"))["new"] == 2
    path = write_roster(tmp_path / "l2.csv", ["LF1,喪失 一,1980-01-01,,,2024-03-31",
                                              "LF2,喪失 二,1980-01-02,,,2099-12-31",
                                              "LF3,喪失 三,1980-01-03,,,20240331"],
                        header=header)
    r = ok_json(admin("--json", "import", path, "--no-letters"))
    st = {m["member_number"]: m for m in r["members"]}
    assert st["LF1"]["status"] == "updated" and st["LF1"]["fields"] == ["left"]
    assert st["LF3"]["status"] == "left" and "LF2" not in st
    assert "kenpoDisabled: TRUE" in sb.ldapsearch(ks.SOCIETY_BASE, "(kenpoMemberNumber=LF1)",
                                                  "kenpoDisabled")
    assert sb.ldapsearch(ks.SOCIETY_BASE, "(kenpoMemberNumber=LF3)", "1.1") == ""
    assert ok_json(admin("--json", "import", path, "--no-letters"))["updated"] == 0


def test_letters_needed_only_for_new_members(sb, admin, tmp_path):
    path = write_roster(tmp_path / "n1.csv", ["NL1,手紙 一,1980-01-01,,"])
    r = admin("import", path)
    assert r.returncode == 2 and "--letters-csv" in r.stderr and "nothing was written" in r.stderr
    assert sb.ldapsearch(ks.SOCIETY_BASE, "(kenpoMemberNumber=NL1)", "1.1") == ""
    assert admin("import", path, "--no-letters").returncode == 0
    # The same roster again: nobody new, no letters needed.
    assert admin("import", path).returncode == 0
