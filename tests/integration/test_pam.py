"""pam_kenpo.so against the sandbox's kenpod, as applications use it.

Two harnesses, both without root and without /etc/pam.d:

- pypamtest (the pamtest library of pam_wrapper) for transactions whose
  answers are known before they start: it runs in a child process with
  LD_PRELOAD=libpam_wrapper.so and a private PAM_WRAPPER_SERVICE_DIR, as
  SSSD's src/tests/intg does.
- tests/tools/pam-driver for the interactive key: it prints every message
  and prompt and reads each answer from its stdin while the transaction
  runs, so a test can read the key from the mail that kenpod has just sent
  and type it into the same conversation.  It reads its service file from
  a directory of ours through pam_start_confdir().

Messages are checked in Japanese (the sandbox society's language) from the
build tree's catalogue, and with lang=en for ASCII.  A module built with
sanitizers is loaded into these uninstrumented programs with libasan
preloaded first.  The module runs its own sandbox.
"""

import json
import os
import re
import select
import statistics
import subprocess
import time

import pytest

import kenposandbox as ks
from conftest import check_kenpod, start_sandbox

PYTHON = "/usr/bin/python3"
SERVICE = "kenpo"
RHOST = "192.0.2.1"
PASSWORD = "Kenpo2024Pass"
NEW_PASSWORD = "Shinki2025Pw"
TEMP_PASSWORD = "P0a40aca"
KEY_RE = re.compile(r"(?<!\d)(\d{10})(?!\d)")

# PAM return codes and flags (security/_pam_types.h).
PAM_SUCCESS = 0
PAM_PERM_DENIED = 6
PAM_AUTH_ERR = 7
PAM_AUTHINFO_UNAVAIL = 9
PAM_NEW_AUTHTOK_REQD = 12
PAM_ACCT_EXPIRED = 13
PAM_AUTHTOK_ERR = 20
PAM_CHANGE_EXPIRED_AUTHTOK = 0x20
# pypamtest operations
AUTHENTICATE, ACCOUNT, OPEN_SESSION, CLOSE_SESSION, CHAUTHTOK = 0, 2, 3, 4, 5

# The messages the tests look for, as the member reads them.
JA_WRONG = "ログインIDまたはパスワードが正しくありません。"
JA_UNAVAILABLE = "現在、ログインサービスをご利用いただけません。"


# ---- the environment of the PAM programs ------------------------------------------

@pytest.fixture(scope="module")
def module_path(builddir):
    path = os.path.join(builddir, ".libs", "pam_kenpo.so")
    if not os.path.exists(path):
        pytest.fail("%s not found: run `make` in the build directory" % path)
    return path


@pytest.fixture(scope="module")
def pam_env(builddir, srcdir, module_path, sb):
    """Environment of the driver and of pypamtest's child: the build tree's
    catalogue and ja_JP.UTF-8 locale (`make check` makes them), and members
    resolving through the built NSS module (nss_wrapper), as on a host with
    kenpo in nsswitch.conf: pam_kenpo checks the account getpwnam names."""
    env = dict(os.environ)
    env.pop("LANGUAGE", None)
    env["KENPO_LOCALEDIR"] = os.path.join(builddir, "tests", "locale")
    env["LOCPATH"] = os.path.join(builddir, "tests", "locales")
    for d in (env["KENPO_LOCALEDIR"], env["LOCPATH"]):
        if not os.path.isdir(d):
            pytest.fail("%s not found: run `make check` (or make check_DATA) in the build "
                        "directory" % d)
    env["LSAN_OPTIONS"] = "suppressions=%s" % os.path.join(srcdir, "tests", "lsan.supp")
    asan = ks.asan_runtime(module_path)
    if asan:
        env["ASAN_OPTIONS"] = "abort_on_error=1"
    return sb.nss_wrapper_env(env, preload_first=asan)


@pytest.fixture(scope="module")
def driver(builddir, tmp_path_factory):
    """tests/tools/pam-driver as `make` builds it, else compiled here."""
    path = os.path.join(builddir, "tests", "tools", "pam-driver")
    if os.access(path, os.X_OK):
        return path
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "tools", "pam-driver.c")
    out = str(tmp_path_factory.mktemp("driver") / "pam-driver")
    cc = os.environ.get("CC", "cc")
    r = subprocess.run([cc, "-std=c11", "-Wall", "-Werror", "-I", builddir, "-o", out, src,
                        "-lpam"], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail("cannot build pam-driver: %s" % r.stderr)
    return out


def _check_stderr(text):
    assert not any(m in text for m in ks.SANITIZER_MARKERS), text


# ---- sandbox and members ---------------------------------------------------------

@pytest.fixture(scope="module")
def sb(tmp_path_factory, builddir):
    s = start_sandbox(tmp_path_factory, builddir, "pam")
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


_seq = iter(range(1, 100000))


def new_member(sb, hashes, temp=False, disabled=False, state="registered",
               extra=()):
    login = "Pam.%03d%s" % (next(_seq), os.urandom(2).hex())
    addr = "%s@mail.example.jp" % login.lower().replace(".", "-")
    attrs = list(extra) + [("userPassword", hashes[PASSWORD]), ("kenpoMail1", addr)]
    if temp:
        expiry = time.strftime("%Y%m%d%H%M%SZ", time.gmtime(time.time() + 3600))
        attrs += [("kenpoTempPassword", hashes[TEMP_PASSWORD]),
                  ("kenpoTempPasswordExpiry", expiry)]
    if state == "issued":
        m = sb.add_preissued_member(extra=[("kenpoTempPassword", hashes[TEMP_PASSWORD])])
    else:
        m = sb.add_member(login, extra=attrs, disabled=disabled)
    m["mail"] = addr
    return m


def key_optional(sb):
    """kenpod with key = optional: the password alone logs in (pypamtest
    cannot know a mailed key in advance)."""
    return sb.kenpod_settings_changed(society={"key": "optional"})


def mails_to(sb, addr):
    return [m for m in sb.mails() if addr in m.kenpo_to]


def key_mail(sb, addr, n=1, timeout=10.0):
    """The key of the n-th mail sent to addr, as the member reads it."""
    deadline = time.monotonic() + timeout
    while True:
        ms = mails_to(sb, addr)
        if len(ms) >= n:
            found = set(KEY_RE.findall(ms[n - 1].kenpo_body))
            assert len(found) == 1, ms[n - 1].kenpo_body
            return found.pop()
        if time.monotonic() >= deadline:
            raise TimeoutError("no mail #%d to %s" % (n, addr))
        time.sleep(0.02)


def wrong_key(key):
    return "%010d" % ((int(key) + 1) % 10 ** 10)


def pending_key(sb, m):
    """True while the member's entry holds a pending key."""
    text = sb.ldapsearch(m["dn"], "(objectClass=*)", "kenpoKeyHash", scope="base")
    return "kenpoKeyHash:" in text


def service_dir(tmp_path, module_path, sock, args="", name=SERVICE):
    """A directory with one service file: every facility uses the module."""
    d = tmp_path / ("svc-%s" % os.urandom(3).hex())
    d.mkdir()
    line = "%s socket=%s %s" % (module_path, sock, args)
    (d / name).write_text("".join("%s required %s\n" % (f, line)
                                  for f in ("auth", "account", "password", "session")))
    return str(d)


# ---- pam-driver --------------------------------------------------------------------

def _unescape(text):
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r"}.get(m.group(1), m.group(1)), text)


class Driven:
    """What a pam-driver run showed: results (one code per operation) and
    the transcript [(kind, text)] of messages and prompts."""

    def __init__(self):
        self.results = []
        self.transcript = []

    def texts(self, kind=None):
        return [t for k, t in self.transcript if kind is None or k == kind]

    def has(self, text, kind=None):
        return any(text in t for t in self.texts(kind))


def _lines(fd, deadline, transcript):
    """The lines pam-driver writes to fd, read without Python's buffering
    (select must see every line that has not been handled yet)."""
    buf = b""
    while True:
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield line.decode("utf-8")
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError("pam-driver stalled; so far: %r" % transcript)
        chunk = os.read(fd, 65536)
        if not chunk:
            return
        buf += chunk


def drive(driver, env, confdir, user, ops, answers, timeout=60.0, options=()):
    """Run pam-driver; each prompt takes the next of answers: a string, None
    (the conversation fails the prompt), or a callable given the Driven so
    far and returning one of those.  options go to pam-driver (-u UID)."""
    p = subprocess.Popen([driver, "-c", confdir, "-r", RHOST] + list(options) +
                         [SERVICE, user] + list(ops),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    out = Driven()
    answers = list(answers)
    try:
        for line in _lines(p.stdout.fileno(), time.monotonic() + timeout, out.transcript):
            kind, _, text = line.partition(" ")
            if kind == "RESULT":
                out.results.append(int(text.split()[1]))
                continue
            out.transcript.append((kind, _unescape(text)))
            if kind.startswith("PROMPT"):
                a = answers.pop(0) if answers else None
                if callable(a):
                    a = a(out)
                p.stdin.write((("!CONV_ERR" if a is None else a) + "\n").encode("utf-8"))
                p.stdin.flush()
        p.wait(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    err = p.stderr.read().decode("utf-8", errors="replace")
    _check_stderr(err)
    assert p.returncode == 0, err
    return out


# ---- pypamtest -------------------------------------------------------------------------

_RUNNER = r"""
import json, re, sys, time
import pypamtest as p
out = []
for t in json.load(sys.stdin):
    cases = [p.TestCase(op, rv, flags) for op, rv, flags in t["cases"]]
    t0 = time.monotonic()
    try:
        r = p.run_pamtest(t["user"], t["service"], cases, t["echo_off"], [])
        res = {"ok": True, "info": list(r.info), "errors": list(r.errors)}
    except p.PamTestError as e:
        m = re.search(r"returned \[(\d+)\]", str(e))
        res = {"ok": False, "error": str(e), "returned": int(m.group(1)) if m else None}
    res["secs"] = time.monotonic() - t0
    out.append(res)
json.dump(out, sys.stdout)
"""


def pamtest(env, confdir, transactions):
    """Run pypamtest transactions [(user, [(op, expected, flags)], echo_off)]
    in one child under pam_wrapper; returns their results in order."""
    e = dict(env)
    e["LD_PRELOAD"] = " ".join(filter(None, [env.get("LD_PRELOAD"), "libpam_wrapper.so"]))
    e["PAM_WRAPPER"] = "1"
    e["PAM_WRAPPER_SERVICE_DIR"] = confdir
    if env.get("LD_PRELOAD"):
        # pam_wrapper's RTLD_DEEPBIND and the sanitizer runtime exclude each
        # other; the interpreter's own allocations are not the module's to
        # answer for (pam-driver runs keep leak detection).
        e["PAM_WRAPPER_DISABLE_DEEPBIND"] = "1"
        e["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    job = [{"user": u, "service": SERVICE, "cases": [list(c) for c in cases],
            "echo_off": list(echo_off)} for u, cases, echo_off in transactions]
    r = subprocess.run([PYTHON, "-c", _RUNNER], input=json.dumps(job), capture_output=True,
                       text=True, env=e, timeout=120)
    _check_stderr(r.stderr)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def expect_ok(res):
    assert res["ok"], res
    return res


# ---- the interactive key ----------------------------------------------------------------

def test_full_login_with_key_from_mail(sb, hashes, tmp_path, module_path, pam_env, driver):
    m = new_member(sb, hashes)
    d = service_dir(tmp_path, module_path, sb.kenpod_socket)
    out = drive(driver, pam_env, d, m["login"], ["auth", "acct", "open", "close"],
                [PASSWORD, lambda _: key_mail(sb, m["mail"])])
    assert out.results == [PAM_SUCCESS] * 4, out.transcript
    assert out.transcript[:4] == [
        ("PROMPT_OFF", "パスワード: "),
        ("INFO", "****@****.jp 宛に暗証キーを送信しました。暗証キーの有効期限は10分です。"),
        ("INFO", "メールに記載された暗証キーを入力してください。暗証キーを再請求する場合は、"
                 "何も入力せずにEnterキーを押してください。"),
        ("PROMPT_OFF", "暗証キー: ")]
    # The first login has no previous one to show; the key is used up.
    assert len(out.transcript) == 4
    assert not pending_key(sb, m)
    assert len(mails_to(sb, m["mail"])) == 1


def test_session_shows_previous_login(sb, hashes, tmp_path, module_path, pam_env):
    m = new_member(sb, hashes, extra=[("kenpoLastLogin", "20240401013006Z")])
    d = service_dir(tmp_path, module_path, sb.kenpod_socket)
    res = pamtest(pam_env, d, [(m["login"], [(OPEN_SESSION, 0, 0), (CLOSE_SESSION, 0, 0)], [])])
    assert expect_ok(res[0])["info"] == ["前回ログイン日時 2024/04/01 10:30:06"]
    # This one was recorded: the next session shows it.
    res = pamtest(pam_env, d, [(m["login"], [(OPEN_SESSION, 0, 0)], [])])
    info = expect_ok(res[0])["info"]
    assert len(info) == 1 and re.fullmatch(r"前回ログイン日時 \d{4}/\d\d/\d\d \d\d:\d\d:\d\d",
                                           info[0])
    assert info[0] != "前回ログイン日時 2024/04/01 10:30:06"


def test_five_wrong_keys_void_it(sb, hashes, tmp_path, module_path, pam_env, driver):
    """key_prompts=3 per transaction, 5 per key: split mode keeps the key
    between the two transactions, as a web application would."""
    m = new_member(sb, hashes)
    d = service_dir(tmp_path, module_path, sb.kenpod_socket, "split key_prompts=3")

    def bad(_):
        return wrong_key(key_mail(sb, m["mail"]))

    out = drive(driver, pam_env, d, m["login"], ["auth"], [PASSWORD, bad, bad, bad])
    assert out.results == [PAM_AUTH_ERR]
    assert out.texts("ERROR") == ["暗証キーが正しくありません。あと2回入力できます。",
                                  "暗証キーが正しくありません。あと1回入力できます。",
                                  "暗証キーが正しくありません。再度ログインしてください。"]
    assert pending_key(sb, m)
    # Three wrong keys count as three failures from this source: the next
    # password waits its second.
    time.sleep(1.1)
    out = drive(driver, pam_env, d, m["login"], ["auth"], [PASSWORD, bad, bad])
    assert out.results == [PAM_AUTH_ERR]
    assert out.has("あと", "INFO")                          # KEY_PENDING: valid for N more
    assert out.texts("ERROR") == [
        "暗証キーが正しくありません。あと1回入力できます。",
        "暗証キーの入力を規定回数以上誤ったため、暗証キーは無効になりました。再度ログインして、"
        "新しい暗証キーを受け取ってください。"]
    assert len(mails_to(sb, m["mail"])) == 1
    # The void key is worth nothing now; a new login mails a new one.
    old = key_mail(sb, m["mail"])
    time.sleep(4.1)
    out = drive(driver, pam_env, d, m["login"], ["auth"],
                [PASSWORD, old, lambda _: key_mail(sb, m["mail"], 2)])
    assert len(mails_to(sb, m["mail"])) == 2
    if key_mail(sb, m["mail"], 2) != old:
        assert out.has("暗証キーが正しくありません。", "ERROR")
    assert out.results == [PAM_SUCCESS]


def test_empty_answer_requests_new_key(sb, hashes, tmp_path, module_path, pam_env, driver):
    m = new_member(sb, hashes)
    d = service_dir(tmp_path, module_path, sb.kenpod_socket)
    # Right after the first mail: too soon, and the first key still works.
    out = drive(driver, pam_env, d, m["login"], ["auth"],
                [PASSWORD, "", lambda _: key_mail(sb, m["mail"])])
    assert out.results == [PAM_SUCCESS]
    assert any(re.match(r"暗証キーの再請求は(1分|\d+秒)後に行えます。", t)
               for t in out.texts("ERROR")), out.transcript
    with sb.kenpod_settings_changed(society={"key_resend_cooldown": "0s"}):
        m = new_member(sb, hashes)
        keys = {}

        def old_key(_):
            keys["old"] = key_mail(sb, m["mail"])
            return ""

        out = drive(driver, pam_env, d, m["login"], ["auth"],
                    [PASSWORD, old_key, lambda _: keys["old"],
                     lambda _: key_mail(sb, m["mail"], 2)])
        assert out.has("****@****.jp 宛に暗証キーを再送信しました。以前の暗証キーは無効になりました。"
                       "新しい暗証キーの有効期限は10分です。", "INFO"), out.transcript
        assert len(mails_to(sb, m["mail"])) == 2
        if key_mail(sb, m["mail"], 2) != keys["old"]:
            assert out.texts("ERROR") == ["暗証キーが正しくありません。あと2回入力できます。"]
        assert out.results == [PAM_SUCCESS]


def test_key_expires(sb, hashes, tmp_path, module_path, pam_env, driver):
    m = new_member(sb, hashes)
    d = service_dir(tmp_path, module_path, sb.kenpod_socket)

    def late_key(_):
        key = key_mail(sb, m["mail"])
        time.sleep(2.3)
        return key

    with sb.kenpod_settings_changed(society={"key_validity": "2s"}):
        out = drive(driver, pam_env, d, m["login"], ["auth"], [PASSWORD, late_key])
    assert out.results == [PAM_AUTH_ERR]
    assert out.has("暗証キーの有効期限は2秒です。", "INFO")
    # The login is not over: an empty answer would mail a new key.
    assert out.texts("ERROR") == ["暗証キーの有効期限が切れました。新しい暗証キーを受け取るには、"
                                  "何も入力せずにEnterキーを押してください。"]
    assert len(out.texts("PROMPT_OFF")) == 3


def test_aborted_conversation_voids_key(sb, hashes, tmp_path, module_path, pam_env, driver):
    m = new_member(sb, hashes)
    d = service_dir(tmp_path, module_path, sb.kenpod_socket)
    out = drive(driver, pam_env, d, m["login"], ["auth"], [PASSWORD, None])
    assert out.results == [PAM_AUTH_ERR]
    assert len(mails_to(sb, m["mail"])) == 1
    assert not pending_key(sb, m)
    # In split mode the same end leaves the key for the next request.
    m = new_member(sb, hashes)
    d = service_dir(tmp_path, module_path, sb.kenpod_socket, "split")
    out = drive(driver, pam_env, d, m["login"], ["auth"], [PASSWORD, None])
    assert out.results == [PAM_AUTH_ERR]
    assert pending_key(sb, m)


# ---- web modes ---------------------------------------------------------------------------

def test_split_mode_across_two_kenpods(sb, hashes, tmp_path, module_path, pam_env):
    """Request 1 on host A gives the password and cannot answer the key
    prompt; request 2 on host B gives the password and the mailed key."""
    m = new_member(sb, hashes)
    sock_b = sb.start_extra_kenpod("b")
    try:
        d_a = service_dir(tmp_path, module_path, sb.kenpod_socket, "split")
        d_b = service_dir(tmp_path, module_path, sock_b, "split")
        r1 = pamtest(pam_env, d_a, [(m["login"], [(AUTHENTICATE, PAM_AUTH_ERR, 0)],
                                     [PASSWORD])])[0]
        assert expect_ok(r1)["info"][0] == \
            "****@****.jp 宛に暗証キーを送信しました。暗証キーの有効期限は10分です。"
        key = key_mail(sb, m["mail"])
        r2 = pamtest(pam_env, d_b, [(m["login"], [(AUTHENTICATE, PAM_SUCCESS, 0)],
                                     [PASSWORD, key])])[0]
        assert re.fullmatch(r"\*\*\*\*@\*\*\*\*\.jp 宛に送信済みの暗証キーは、あと(10分|\d秒)有効です。",
                            expect_ok(r2)["info"][0])
        assert len(mails_to(sb, m["mail"])) == 1
        assert not pending_key(sb, m)
    finally:
        sb.stop_extra_kenpod("b")


def test_single_field_mode(sb, hashes, tmp_path, module_path, pam_env):
    m = new_member(sb, hashes)
    d = service_dir(tmp_path, module_path, sb.kenpod_socket, "single")
    r1 = pamtest(pam_env, d, [(m["login"], [(AUTHENTICATE, PAM_AUTH_ERR, 0)], [PASSWORD])])[0]
    assert expect_ok(r1)["info"] == [
        "****@****.jp 宛に暗証キーを送信しました。暗証キーの有効期限は10分です。",
        "パスワードに続けて10桁の暗証キーを入力し、再度ログインしてください。"]
    key = key_mail(sb, m["mail"])
    r = pamtest(pam_env, d, [
        (m["login"], [(AUTHENTICATE, PAM_AUTH_ERR, 0)], [PASSWORD + wrong_key(key)]),
        (m["login"], [(AUTHENTICATE, PAM_SUCCESS, 0)], [PASSWORD + key])])
    assert expect_ok(r[0])["errors"] == ["暗証キーが正しくありません。あと4回入力できます。"]
    expect_ok(r[1])
    assert len(mails_to(sb, m["mail"])) == 1


# ---- temporary password and change -----------------------------------------------------

def test_temporary_password_forced_change(sb, hashes, tmp_path, module_path, pam_env):
    with sb.kenpod_settings_changed(society={"key": "optional"}):
        _temporary_password_forced_change(sb, hashes, tmp_path, module_path, pam_env)


def _temporary_password_forced_change(sb, hashes, tmp_path, module_path, pam_env):
    m = new_member(sb, hashes, temp=True)
    d = service_dir(tmp_path, module_path, sb.kenpod_socket)
    change = [(AUTHENTICATE, 0, 0), (ACCOUNT, PAM_NEW_AUTHTOK_REQD, 0)]
    # Rules broken: all named in one message, and nothing changes.
    r = pamtest(pam_env, d, [(m["login"], change + [(CHAUTHTOK, PAM_AUTHTOK_ERR,
                                                     PAM_CHANGE_EXPIRED_AUTHTOK)],
                              [TEMP_PASSWORD, "abc"])])[0]
    assert expect_ok(r)["errors"] == [
        "パスワードの変更が必要です。新しいパスワードを設定してください。",
        "新しいパスワードは次の理由により使用できません。\n"
        "パスワードは8文字以上で入力してください。\n"
        "パスワードには半角英大文字を1文字以上含めてください。\n"
        "パスワードには数字を1文字以上含めてください。"]
    # The temporary password from auth is the old one: not asked again.
    r = pamtest(pam_env, d, [(m["login"], change + [(CHAUTHTOK, 0, PAM_CHANGE_EXPIRED_AUTHTOK)],
                              [TEMP_PASSWORD, NEW_PASSWORD, NEW_PASSWORD])])[0]
    assert expect_ok(r)["info"] == ["パスワードを変更しました。"]
    r = pamtest(pam_env, d, [
        (m["login"], [(AUTHENTICATE, 0, 0), (ACCOUNT, 0, 0)], [NEW_PASSWORD]),
        (m["login"], [(AUTHENTICATE, PAM_AUTH_ERR, 0)], [TEMP_PASSWORD]),
        (m["login"], [(AUTHENTICATE, PAM_AUTH_ERR, 0)], [PASSWORD])])
    expect_ok(r[0])
    assert expect_ok(r[1])["errors"] == [JA_WRONG]
    assert expect_ok(r[2])["errors"] == [JA_WRONG]


def test_new_passwords_must_match(sb, hashes, tmp_path, module_path, pam_env):
    m = new_member(sb, hashes, temp=True)
    d = service_dir(tmp_path, module_path, sb.kenpod_socket)
    r = pamtest(pam_env, d, [(m["login"], [(AUTHENTICATE, 0, 0),
                                           (CHAUTHTOK, PAM_AUTHTOK_ERR,
                                            PAM_CHANGE_EXPIRED_AUTHTOK)],
                              [TEMP_PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x"])])[0]
    assert expect_ok(r)["errors"] == ["新しいパスワードと確認用のパスワードが一致しません。"]


# ---- lockout, account states, unknown users ------------------------------------------

def _wrong_password_until_counted(driver, pam_env, d, login):
    """One counted failure: a DELAY answer is waited out and tried again."""
    while True:
        out = drive(driver, pam_env, d, login, ["auth"], ["Wrong2024Pass"])
        assert out.results == [PAM_AUTH_ERR]
        m = re.search(r"Please wait (\d+) seconds?", " ".join(out.texts("ERROR")))
        if not m:
            assert out.texts("ERROR") == ["The login ID or password is not correct."]
            return
        time.sleep(int(m.group(1)))


def test_lockout_and_its_end(sb, hashes, tmp_path, module_path, pam_env, driver):
    m = new_member(sb, hashes)
    d = service_dir(tmp_path, module_path, sb.kenpod_socket, "lang=en")
    with sb.kenpod_settings_changed(society={"lockout_failures": "4",
                                             "lockout_duration": "3s", "key": "optional"}):
        for _ in range(4):
            _wrong_password_until_counted(driver, pam_env, d, m["login"])
        out = drive(driver, pam_env, d, m["login"], ["auth"], [PASSWORD])
        assert out.results == [PAM_AUTH_ERR]
        msg = out.texts("ERROR")
        assert len(msg) == 1 and re.fullmatch(
            r"This account is locked after repeated failed logins\. "
            r"Please try again in [1-3] seconds?\.", msg[0]), msg
        out = drive(driver, pam_env, d, m["login"], ["acct"], [])
        assert out.results == [PAM_PERM_DENIED]
        time.sleep(3.2)
        out = drive(driver, pam_env, d, m["login"], ["auth", "acct"], [PASSWORD])
        assert out.results == [PAM_SUCCESS, PAM_SUCCESS], out.transcript


def test_disabled_and_unregistered(sb, hashes, tmp_path, module_path, pam_env):
    disabled = new_member(sb, hashes, disabled=True)
    issued = new_member(sb, hashes, state="issued")
    d = service_dir(tmp_path, module_path, sb.kenpod_socket)
    r = pamtest(pam_env, d, [
        (disabled["login"], [(AUTHENTICATE, PAM_AUTH_ERR, 0)], [PASSWORD]),
        (disabled["login"], [(ACCOUNT, PAM_ACCT_EXPIRED, 0)], []),
        (issued["login"], [(AUTHENTICATE, PAM_AUTH_ERR, 0)], [TEMP_PASSWORD])])
    assert expect_ok(r[0])["errors"] == [
        "このアカウントは利用停止されています。健康保険組合にお問い合わせください。"]
    assert expect_ok(r[1])["errors"] == r[0]["errors"]
    assert "利用登録" in expect_ok(r[2])["errors"][0]


def test_unknown_user_and_wrong_password_look_the_same(sb, hashes, tmp_path, module_path,
                                                       pam_env):
    """Same code, same messages, and the same time: medians of 15 tries
    each, made alternately, within 20 %.  A loaded machine may put them
    further apart, so a round that does gets fresh tries, up to three
    rounds; a real difference fails every round."""
    d = service_dir(tmp_path, module_path, sb.kenpod_socket)
    for _ in range(3):
        members = [new_member(sb, hashes) for _ in range(15)]
        ghosts = ["Ghost.%s" % os.urandom(3).hex() for _ in range(15)]
        jobs, kinds = [], []
        for i, (m, ghost) in enumerate(zip(members, ghosts)):
            # Either goes first by turns.
            pair = (("known", m["login"]), ("unknown", ghost))
            for kind, login in pair if i % 2 == 0 else pair[::-1]:
                jobs.append((login, [(AUTHENTICATE, PAM_AUTH_ERR, 0)], ["Wrong2024Pass"]))
                kinds.append(kind)
        res = pamtest(pam_env, d, jobs)
        for r in res:
            assert expect_ok(r)["errors"] == [JA_WRONG] and r["info"] == []
        k = statistics.median(r["secs"] for r, kind in zip(res, kinds) if kind == "known")
        u = statistics.median(r["secs"] for r, kind in zip(res, kinds) if kind == "unknown")
        print("\nPAM, wrong password: median known %.1f ms, unknown %.1f ms (15 each)"
              % (k * 1e3, u * 1e3))
        if abs(k - u) <= 0.2 * max(k, u):
            return
    pytest.fail("PAM, wrong password: median known %.1f ms, unknown %.1f ms"
                % (k * 1e3, u * 1e3))


# ---- kenpod and the relay away -----------------------------------------------------------

def test_kenpod_down_is_authinfo_unavail(sb, hashes, tmp_path, module_path, pam_env):
    m = new_member(sb, hashes)
    d = service_dir(tmp_path, module_path, sb.kenpod_socket)
    sb.stop_kenpod()
    try:
        r = pamtest(pam_env, d, [(m["login"], [(AUTHENTICATE, PAM_AUTHINFO_UNAVAIL, 0)],
                                  [PASSWORD]),
                                 (m["login"], [(ACCOUNT, PAM_AUTHINFO_UNAVAIL, 0)], []),
                                 (m["login"], [(OPEN_SESSION, 0, 0)], [])])
    finally:
        sb.start_kenpod()
    assert expect_ok(r[0])["errors"] == [
        JA_UNAVAILABLE + "しばらくしてから再度お試しください。"]
    expect_ok(r[1])
    expect_ok(r[2])


def test_mail_relay_down(sb, hashes, tmp_path, module_path, pam_env):
    m = new_member(sb, hashes)
    d = service_dir(tmp_path, module_path, sb.kenpod_socket)
    with sb.kenpod_settings_changed(kenpod={"smtp_url": "smtp://127.0.0.1:1"}):
        r = pamtest(pam_env, d, [(m["login"], [(AUTHENTICATE, PAM_AUTHINFO_UNAVAIL, 0)],
                                  [PASSWORD])])[0]
    assert expect_ok(r)["errors"] == [
        "暗証キーのメールを送信できませんでした。しばらくしてから再度お試しください。"]
    assert not pending_key(sb, m)


# ---- English ------------------------------------------------------------------------------

def test_lang_en_gives_ascii_only(sb, hashes, tmp_path, module_path, pam_env, driver):
    """Cockpit shows non-ASCII as '?': lang=en, for a Japanese society."""
    m = new_member(sb, hashes, extra=[("kenpoLastLogin", "20240401013006Z")])
    d = service_dir(tmp_path, module_path, sb.kenpod_socket, "lang=en")
    out = drive(driver, pam_env, d, m["login"], ["auth", "acct", "open", "close"],
                [PASSWORD, "", "12345", lambda _: wrong_key(key_mail(sb, m["mail"])),
                 lambda _: key_mail(sb, m["mail"])])
    assert out.results == [PAM_SUCCESS] * 4, out.transcript
    assert out.transcript[1] == ("INFO", "A one-time key was sent to ****@****.jp. "
                                         "It is valid for 10 minutes.")
    assert ("INFO", "Last login: 2024/04/01 10:30:06") in out.transcript
    assert any(re.match(r"A new key can be requested in (1 minute|\d+ seconds)\.", t)
               for t in out.texts("ERROR")), out.transcript
    assert out.has("The one-time key is not correct. You can try 1 more time.", "ERROR")
    for _, text in out.transcript:
        assert text.isascii(), text


# ---- a member is never a local account ---------------------------------------------------

def test_member_named_root_never_becomes_root(sb, hashes, tmp_path, module_path, pam_env,
                                              driver):
    """A member entry called root (an administrator's ldapmodify, a host with
    other accounts): kenpod accepts the password, but the host's root is
    uid 0, not the member, so pam_kenpo refuses in auth and in account and
    the key mailed for it is voided at once."""
    root = sb.add_member("root", extra=[("userPassword", hashes[PASSWORD]),
                                        ("kenpoMail1", "root-member@mail.example.jp")])
    try:
        d = service_dir(tmp_path, module_path, sb.kenpod_socket)
        r = pamtest(pam_env, d, [("root", [(AUTHENTICATE, PAM_AUTH_ERR, 0)], [PASSWORD]),
                                 ("root", [(ACCOUNT, PAM_PERM_DENIED, 0)], [])])
        assert expect_ok(r[0])["errors"] == [JA_WRONG]
        expect_ok(r[1])
        # No key prompt, and no key left pending.
        out = drive(driver, pam_env, d, "root", ["auth"], [PASSWORD, "0000000000"])
        assert out.results == [PAM_AUTH_ERR], out.transcript
        assert len(out.texts("PROMPT_OFF")) == 1, out.transcript
        assert not pending_key(sb, root)
    finally:
        sb.ldap_admin_cmd("ldapdelete", root["dn"])


def test_host_account_of_the_members_name_is_refused(sb, hashes, tmp_path, module_path,
                                                     pam_env):
    """One kenpod serves hosts with different local accounts: on a host
    where the member's name is a local user, that user is not the member."""
    m = new_member(sb, hashes)
    env = sb.nss_wrapper_env(pam_env, passwd_extra=[
        "%s:x:4321:4321::/nonexistent:/bin/sh" % m["login"]])
    d = service_dir(tmp_path, module_path, sb.kenpod_socket)
    with key_optional(sb):
        r = pamtest(env, d, [(m["login"], [(AUTHENTICATE, PAM_AUTH_ERR, 0)], [PASSWORD]),
                             (m["login"], [(ACCOUNT, PAM_PERM_DENIED, 0)], [])])
        expect_ok(r[0])
        expect_ok(r[1])
        # The same member where the name is only the member's.
        r = pamtest(sb.nss_wrapper_env(pam_env), d, [
            (m["login"], [(AUTHENTICATE, PAM_SUCCESS, 0), (ACCOUNT, PAM_SUCCESS, 0)],
             [PASSWORD])])
        expect_ok(r[0])


def test_names_are_exact_at_pam(sb, hashes, tmp_path, module_path, pam_env):
    m = new_member(sb, hashes)
    d = service_dir(tmp_path, module_path, sb.kenpod_socket)
    for name in (m["login"].lower(), m["login"].upper()):
        r = pamtest(pam_env, d, [(name, [(AUTHENTICATE, PAM_AUTH_ERR, 0)], [PASSWORD])])
        assert expect_ok(r[0])["errors"] == [JA_WRONG]


def test_no_host_account_option(sb, hashes, tmp_path, module_path, pam_env):
    """Without a passwd entry (no libnss_kenpo on this host) a member gets
    in only where the service says members need no host account."""
    m = new_member(sb, hashes)
    env = dict(pam_env)
    env["NSS_WRAPPER_MODULE_SO_PATH"] = "/nonexistent/libnss_none.so.2"
    strict = service_dir(tmp_path, module_path, sb.kenpod_socket)
    web = service_dir(tmp_path, module_path, sb.kenpod_socket, "no_host_account")
    with key_optional(sb):
        r = pamtest(env, strict, [(m["login"], [(AUTHENTICATE, PAM_AUTH_ERR, 0)],
                                   [PASSWORD])])
        expect_ok(r[0])
        r = pamtest(env, web, [(m["login"], [(AUTHENTICATE, PAM_SUCCESS, 0),
                                             (ACCOUNT, PAM_SUCCESS, 0)], [PASSWORD])])
        expect_ok(r[0])
