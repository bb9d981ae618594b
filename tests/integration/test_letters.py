"""The print-ready registration letters of kenpo-admin (--letters-pdf and
`kenpo-admin letters`), checked in the PDF itself: one A4 page per member
with the login ID and temporary password of the letters CSV, their
readings, the society and the heading; the QR code decodes to the
empty-mail address; the file is the owner's only and is never left half
written.

The module runs its own sandbox (kenpod is not needed, but the sandbox
starts it).  Poppler's pdfinfo, pdftotext and pdftoppm read the PDF, and
zbarimg (zbar-tools) reads the QR code.
"""

import csv
import datetime
import os
import shutil
import stat
import subprocess

import pytest

import kenposandbox as ks
from conftest import start_sandbox

ENTRY = "touroku@toyobo.kenpo.test"
LOW_COST = {"argon2_t": "1", "argon2_m": "8K"}
HEADING = "健康マイポータル(健康ポータルサイト)への登録について"
HEADING_EN = "Registering for the Health My Portal"
JST = datetime.timezone(datetime.timedelta(hours=9))

# The readings, written out independently of the C table.
KANA = dict(zip("0123456789", "ゼロ イチ ニ サン ヨン ゴ ロク ナナ ハチ キュウ".split()))
KANA.update(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                ("エー ビー シー ディー イー エフ ジー エイチ アイ ジェー ケー エル エム "
                 "エヌ オー ピー キュー アール エス ティー ユー ブイ ダブリュー エックス "
                 "ワイ ゼット").split()))
EN_DIGITS = "zero one two three four five six seven eight nine".split()


def spell(s, case):
    out = []
    for c in s:
        k = KANA[c.upper()]
        if case and c.isalpha():
            k += "(大)" if c.isupper() else "(小)"
        out.append(k)
    return "、".join(out)


def spell_en(s, case):
    words = []
    for c in s:
        if c.isdigit():
            words.append(EN_DIGITS[int(c)])
        elif case:
            words.append(("capital " if c.isupper() else "small ") + c)
        else:
            words.append(c.upper())
    return ", ".join(words)


def tool(name):
    path = shutil.which(name)
    if path is None:
        pytest.fail("%s not found (apt-get install poppler-utils zbar-tools)" % name)
    return path


# ---- fixtures and helpers ------------------------------------------------------

@pytest.fixture(scope="module")
def sb(tmp_path_factory, builddir):
    s = start_sandbox(tmp_path_factory, builddir, "letters", ("kenpod", "kenpo-admin"),
                      society={"entry_address": ENTRY, "temp_password_validity": "30d"})
    yield s
    s.down()


def write_conf(sb, path, society=None):
    """kenpod.conf for kenpo-admin: the sandbox's at a low argon2 cost, with
    the society's settings changed."""
    saved = dict(sb.kenpod_settings), dict(sb.society_settings)
    sb.kenpod_settings.update(LOW_COST)
    sb.society_settings.update(society or {})
    try:
        text = sb.kenpod_config_text()
    finally:
        sb.kenpod_settings, sb.society_settings = saved
    text = "\n".join(line for line in text.split("\n") if not line.endswith("= None"))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


@pytest.fixture(scope="module")
def conf(sb):
    return write_conf(sb, os.path.join(sb.dir, "letters.conf"))


@pytest.fixture(scope="module")
def admin(sb, builddir, conf):
    """admin(*args, conf=) -> CompletedProcess, bound as the directory's admin."""
    binary = os.path.join(builddir, "kenpo-admin")

    def run(*args, conf=conf):
        argv = [binary, "-c", conf, "-D", ks.ADMIN_DN, "-y", sb.admin_pw_file]
        env = dict(os.environ, LDAPNOINIT="1",
                   LSAN_OPTIONS="suppressions=" + os.path.join(ks.srcdir(), "tests", "lsan.supp"),
                   KENPO_TEMPLATEDIR=os.path.join(ks.srcdir(), "templates"))
        env.pop("LOCPATH", None)
        r = subprocess.run(argv + list(args), capture_output=True, text=True, env=env,
                           timeout=300, stdin=subprocess.DEVNULL)
        assert not any(m in r.stderr for m in ks.SANITIZER_MARKERS), r.stderr
        return r
    return run


def write_roster(path, numbers):
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("member_number,name\n")
        for i, n in enumerate(numbers):
            f.write("%s,書簡 太郎%d\n" % (n, i))
    return str(path)


def read_letters(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def pdfinfo(path):
    out = subprocess.run([tool("pdfinfo"), path], capture_output=True, text=True, check=True)
    return dict(line.split(":", 1) for line in out.stdout.splitlines() if ":" in line)


def page_text(path, page):
    return subprocess.run([tool("pdftotext"), "-layout", "-f", str(page), "-l", str(page),
                           path, "-"], capture_output=True, text=True, check=True).stdout


def qr_codes(path, page, tmp_path):
    """The QR codes zbarimg finds on a page rendered at 150 dpi."""
    prefix = str(tmp_path / ("qr%d" % page))
    subprocess.run([tool("pdftoppm"), "-r", "150", "-f", str(page), "-l", str(page), "-png",
                    "-singlefile", path, prefix], check=True)
    r = subprocess.run([tool("zbarimg"), "-q", "--raw", prefix + ".png"],
                       capture_output=True, text=True)
    assert r.returncode in (0, 4), r.stderr      # 4: no code found
    return r.stdout.split()


def jst(utc_text):
    t = datetime.datetime.strptime(utc_text, "%Y-%m-%d %H:%M UTC")
    return t.replace(tzinfo=datetime.timezone.utc).astimezone(JST)


def assert_owner_only(path):
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


# ---- the letters of an import --------------------------------------------------

@pytest.fixture(scope="module")
def imported(sb, admin, tmp_path_factory):
    """Three members imported with --letters-csv and --letters-pdf."""
    d = tmp_path_factory.mktemp("imp")
    roster = write_roster(d / "roster.csv", ["LP1", "LP2", "LP3"])
    letters, pdf = str(d / "letters.csv"), str(d / "letters.pdf")
    r = admin("import", roster, "--letters-csv", letters, "--letters-pdf", pdf)
    assert r.returncode == 0, r.stderr
    return read_letters(letters), pdf


def test_one_a4_page_per_member(imported):
    rows, pdf = imported
    info = pdfinfo(pdf)
    assert len(rows) == 3 and info["Pages"].strip() == "3"
    assert "(A4)" in info["Page size"] and info["Title"].strip() == HEADING


def test_each_page_has_its_member_and_no_other(imported):
    rows, pdf = imported
    for page, row in enumerate(rows, 1):
        text = page_text(pdf, page)
        assert ks.SOCIETY_NAME in text and HEADING in text
        assert row["name"] + " 様" in text
        assert row["login_id"] in text and row["temp_password"] in text
        assert "(%s)" % spell(row["login_id"], False) in text
        assert "(%s)" % spell(row["temp_password"], True) in text
        assert "【注1】" in text and "【注2】" in text and ENTRY in text
        assert "https://portal.kenpo.test/%s/login" % ks.SOCIETY_ID in text
        # The expiry, in the society's time zone (Asia/Tokyo by default).
        assert jst(row["temp_password_expiry"]).strftime("%Y年%m月%d日 %H:%M (JST) まで") in text
        for other in rows:
            if other is not row:
                assert other["temp_password"] not in text and other["login_id"] not in text


def test_qr_code_is_the_empty_mail_address(imported, tmp_path):
    _, pdf = imported
    assert qr_codes(pdf, 1, tmp_path) == ["mailto:" + ENTRY]


def test_pdf_is_owner_only(imported):
    _, pdf = imported
    assert_owner_only(pdf)


def test_japanese_text_is_real_text(imported):
    """The fonts are embedded with their Unicode maps: no glyph without a
    character (what a missing font would give)."""
    _, pdf = imported
    text = page_text(pdf, 1)
    assert "\ufffd" not in text and "仮パスワード" in text and "ログインID" in text
    fonts = subprocess.run([tool("pdffonts"), pdf], capture_output=True, text=True,
                           check=True).stdout
    assert "IPAexGothic" in fonts


# ---- the other ways in ---------------------------------------------------------

def test_letters_command_and_no_overwrite(admin, imported, tmp_path):
    rows, first = imported
    csv_path = os.path.join(os.path.dirname(first), "letters.csv")
    out = str(tmp_path / "again.pdf")
    r = admin("letters", csv_path, out)
    assert r.returncode == 0, r.stderr
    assert pdfinfo(out)["Pages"].strip() == str(len(rows))
    assert_owner_only(out)
    before = os.stat(out)
    r = admin("letters", csv_path, out)
    assert r.returncode == 1 and "File exists" in r.stderr
    after = os.stat(out)
    assert (before.st_ino, before.st_size, before.st_mtime_ns) == \
        (after.st_ino, after.st_size, after.st_mtime_ns)


def test_letters_of_another_society_leave_no_file(admin, imported, tmp_path):
    rows, _ = imported
    bad = tmp_path / "other.csv"
    fd = os.open(str(bad), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()), lineterminator="\r\n")
        w.writeheader()
        w.writerow(rows[0])
        w.writerow(dict(rows[1], society="他社健康保険組合"))
    out = tmp_path / "other.pdf"
    r = admin("letters", str(bad), str(out))
    assert r.returncode == 1 and "他社健康保険組合" in r.stderr and ":3:" in r.stderr
    assert not out.exists()


def test_letters_csv_readable_by_others_is_refused(admin, imported, tmp_path):
    _, first = imported
    src = os.path.join(os.path.dirname(first), "letters.csv")
    copy = tmp_path / "open.csv"
    shutil.copyfile(src, str(copy))
    os.chmod(str(copy), 0o644)
    out = tmp_path / "open.pdf"
    r = admin("letters", str(copy), str(out))
    assert r.returncode == 1 and not out.exists()


def test_issue_and_reissue_with_letters_pdf(admin, tmp_path):
    for i, cmd in enumerate((["issue", "--number", "LP9", "--name", "単独 次郎"],
                             ["reissue", "--by", "number", "LP9"])):
        letters, pdf = str(tmp_path / ("l%d.csv" % i)), str(tmp_path / ("l%d.pdf" % i))
        r = admin(*cmd, "--letters-csv", letters, "--letters-pdf", pdf)
        assert r.returncode == 0, r.stderr
        row = read_letters(letters)[0]
        text = page_text(pdf, 1)
        assert pdfinfo(pdf)["Pages"].strip() == "1"
        assert "単独 次郎 様" in text and row["temp_password"] in text
        assert_owner_only(pdf)


def test_letters_pdf_needs_letters_csv(admin, tmp_path):
    r = admin("issue", "--number", "LP8", "--name", "未発行 三郎",
              "--letters-pdf", str(tmp_path / "x.pdf"))
    assert r.returncode == 2 and "--letters-csv" in r.stderr
    assert not (tmp_path / "x.pdf").exists()


def test_english_letter_without_entry_address(sb, admin, imported, tmp_path):
    """language = en: the English letter, its readings in English words; no
    entry_address: only the homepage way and no QR code."""
    rows, first = imported
    en = write_conf(sb, str(tmp_path / "en.conf"),
                    society={"language": "en", "entry_address": None})
    out = str(tmp_path / "en.pdf")
    r = admin("letters", os.path.join(os.path.dirname(first), "letters.csv"), out, conf=en)
    assert r.returncode == 0, r.stderr
    text = page_text(out, 2)
    assert HEADING_EN in text and rows[1]["temp_password"] in text
    assert "(%s)" % spell_en(rows[1]["temp_password"], True) in text
    assert "(%s)" % spell_en(rows[1]["login_id"], False) in text
    assert jst(rows[1]["temp_password_expiry"]).strftime("%Y-%m-%d %H:%M JST") in text
    assert ENTRY not in text and "Way B" not in text
    assert qr_codes(out, 2, tmp_path) == []


# ---- ready for the post ------------------------------------------------------------

POSTAL_HEADER = "member_number,name,postal_code,address,employer,office_code"
POSTAL_ROWS = [
    "PB3,窓口 花子,530-8230,大阪府大阪市北区梅田二丁目2番2号,東洋紡株式会社 大阪本社,00123",
    "PB1,窓口 次郎,５２０－０２９２,滋賀県大津市堅田二丁目1番1号,東洋紡株式会社 総合研究所,00456",
    "PB2,窓口 一郎,5308230,大阪府大阪市北区梅田二丁目2番2号,東洋紡株式会社 大阪本社,00123",
    "PB4,窓口 三郎,,,,",
]


@pytest.fixture(scope="module")
def posted(sb, admin, tmp_path_factory):
    """Four members of two offices (and one of none), with their letters."""
    d = tmp_path_factory.mktemp("post")
    roster = d / "roster.csv"
    roster.write_text(POSTAL_HEADER + "\n" + "\n".join(POSTAL_ROWS) + "\n", encoding="utf-8")
    letters, pdf = str(d / "letters.csv"), str(d / "letters.pdf")
    r = admin("import", str(roster), "--letters-csv", letters, "--letters-pdf", pdf)
    assert r.returncode == 0, r.stderr
    return read_letters(letters), pdf


def test_postal_block_for_a_window_envelope(posted):
    rows, pdf = posted
    assert [r["postal_code"] for r in rows] == ["530-8230", "520-0292", "530-8230", ""]
    text = page_text(pdf, 2)
    # Page 2 is the first letter of office 00123 (page 1 is its cover).
    block = text[:text.index(HEADING)]
    for want in ("〒530-8230", "大阪府大阪市北区梅田二丁目2番2号", "東洋紡株式会社 大阪本社",
                 "事業所番号 00123", "窓口 一郎 様", "番号 PB2"):
        assert want in block, (want, block)


def test_letters_sorted_by_office_with_a_cover_page_each(posted, tmp_path):
    rows, pdf = posted
    assert pdfinfo(pdf)["Pages"].strip() == "6"      # 4 letters, 2 covers
    pages = [page_text(pdf, i) for i in range(1, 7)]
    assert "事業所別送付分" in pages[0] and "2通" in pages[0]
    assert "PB2" in pages[0] and "PB3" in pages[0] and "PB1" not in pages[0]
    by_login = {r["login_id"]: r for r in rows}
    order = [[n for n in ("PB1", "PB2", "PB3", "PB4") if "番号 " + n in p] for p in pages]
    assert order == [[], ["PB2"], ["PB3"], [], ["PB1"], ["PB4"]]
    assert "事業所別送付分" in pages[3] and "1通" in pages[3] and "00456" in pages[3]
    # No password on a cover page.
    for cover in (pages[0], pages[3]):
        assert not any(r["temp_password"] in cover for r in by_login.values())
    # The envelope's address shows in the window: the upper third of the page.
    prefix = str(tmp_path / "p2")
    subprocess.run([tool("pdftoppm"), "-r", "72", "-f", "2", "-l", "2", "-png", "-singlefile",
                    "-x", "0", "-y", "0", "-W", "312", "-H", "170", pdf, prefix], check=True)
    window = subprocess.run([tool("pdftotext"), "-f", "2", "-l", "2", "-x", "56", "-y", "39",
                             "-W", "256", "-H", "128", pdf, "-"], capture_output=True,
                            text=True, check=True).stdout
    assert "〒530-8230" in window and "窓口 一郎 様" in window, window


def test_expiry_printed_with_its_note(posted):
    rows, pdf = posted
    text = page_text(pdf, 2)
    assert jst(rows[1]["temp_password_expiry"]).strftime("%Y年%m月%d日 %H:%M (JST) まで") in text
    assert "有効期限までに利用登録を済ませてください" in text


def test_society_letter_template(sb, admin, posted, tmp_path):
    """The wording is the society's own when its template_dir has a
    letter.txt; one that lacks a section is refused and leaves no PDF."""
    _, first = posted
    tdir = tmp_path / "templates"
    (tdir / "ja").mkdir(parents=True)
    with open(os.path.join(ks.srcdir(), "templates", "ja", "letter.txt"), encoding="utf-8") as f:
        shipped = f.read()
    own = shipped.replace("健康マイポータル(健康ポータルサイト)への登録について",
                          "%%SOCIETY%% ポータル登録のお知らせ")
    (tdir / "ja" / "letter.txt").write_text(own, encoding="utf-8")
    conf = write_conf(sb, str(tmp_path / "own.conf"), society={"template_dir": str(tdir)})
    out = str(tmp_path / "own.pdf")
    csv_path = os.path.join(os.path.dirname(first), "letters.csv")
    r = admin("letters", csv_path, out, conf=conf)
    assert r.returncode == 0, r.stderr
    assert ks.SOCIETY_NAME + " ポータル登録のお知らせ" in page_text(out, 2)
    assert HEADING not in page_text(out, 2)
    (tdir / "ja" / "letter.txt").write_text(own.replace("[keep]\n", "[kept]\n"),
                                            encoding="utf-8")
    bad = str(tmp_path / "bad.pdf")
    r = admin("letters", csv_path, bad, conf=conf)
    assert r.returncode == 1 and "letter.txt" in r.stderr and "kept" in r.stderr, r.stderr
    assert not os.path.exists(bad)


def test_letters_csv_safe_for_spreadsheets(sb, admin, tmp_path):
    """A name a spreadsheet would run as a formula is written as text, and
    the letter still shows it as it is."""
    roster = tmp_path / "f.csv"
    roster.write_text('member_number,name\nFX1,"=HYPERLINK(""http://x"",""y"")"\n'
                      "FX2,@SUM(1+1)\n", encoding="utf-8")
    letters, pdf = str(tmp_path / "f-letters.csv"), str(tmp_path / "f.pdf")
    r = admin("import", str(roster), "--letters-csv", letters, "--letters-pdf", pdf)
    assert r.returncode == 0, r.stderr
    with open(letters, encoding="utf-8") as f:
        raw = f.read()
    assert '"\'=HYPERLINK(""http://x"",""y"")"' in raw and '"\'@SUM(1+1)"' in raw
    assert ",=" not in raw and ",@" not in raw
    assert '=HYPERLINK("http://x","y") 様' in page_text(pdf, 1)
    assert "@SUM(1+1) 様" in page_text(pdf, 2)
