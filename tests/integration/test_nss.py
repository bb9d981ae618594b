"""libnss_kenpo.so.2 as glibc loads it: `getent -s kenpo passwd KEY` against
the sandbox's kenpod, the module found through LD_LIBRARY_PATH, kenpod
through KENPO_SOCKET and its passwd map through KENPO_PASSWD_MAP (all from
the sandbox's env), so nothing in /etc is touched.

getent exits 0 when it found the entry and 2 when it did not.  The module
runs its own sandbox, because some tests stop kenpod or change its settings.
"""

import os
import re
import shutil
import socket
import subprocess
import time

import pytest

import kenposandbox as ks
from conftest import check_kenpod, start_sandbox

GETENT = shutil.which("getent") or "/usr/bin/getent"
NOT_FOUND = 2
HOME = "/srv/kenpo-nss/%u"
SHELL = "/bin/sh"
NICKNAME = "ご本人"


# ---- helpers -------------------------------------------------------------------

def _asan_runtime(module):
    """The ASan runtime the module needs, if it was built with sanitizers:
    a program that is not itself instrumented (getent) must preload it."""
    r = subprocess.run(["ldd", module], capture_output=True, text=True)
    m = re.search(r"^\s*libasan\.so\S*\s+=>\s+(\S+)", r.stdout, re.MULTILINE)
    return m.group(1) if m else None


def nss_env(sb, sock=None, timeout_ms=None, passwd_map=None):
    """Environment in which `getent -s kenpo` uses the built module, reads the
    sandbox's passwd map (or the file given) and asks the sandbox's kenpod
    (or the socket given)."""
    senv = sb.env()
    module = os.path.join(senv["LD_LIBRARY_PATH"], "libnss_kenpo.so.2")
    if not os.path.exists(module):
        pytest.fail("%s not found: run `make` in the build directory" % module)
    env = dict(os.environ)
    env.pop("_KENPO_NSS_LOOPS", None)
    env.pop("KENPO_NSS_TIMEOUT_MS", None)
    env["LD_LIBRARY_PATH"] = senv["LD_LIBRARY_PATH"]
    env["KENPO_SOCKET"] = sock or senv["KENPO_SOCKET"]
    env["KENPO_PASSWD_MAP"] = passwd_map or senv["KENPO_PASSWD_MAP"]
    if timeout_ms is not None:
        env["KENPO_NSS_TIMEOUT_MS"] = str(timeout_ms)
    asan = _asan_runtime(module)
    if asan:
        env["LD_PRELOAD"] = asan
        # getent's own allocations are not ours to judge.
        env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=1"
    return env


def getent(env, *keys, timeout=10):
    """(exit code, stdout, seconds) of `getent -s kenpo passwd KEY...`; a key
    may be bytes."""
    t0 = time.monotonic()
    r = subprocess.run([GETENT, "-s", "kenpo", "passwd"] + list(keys), env=env,
                       capture_output=True, timeout=timeout)
    took = time.monotonic() - t0
    assert not any(m.encode() in r.stderr for m in ks.SANITIZER_MARKERS), \
        r.stderr.decode(errors="replace")
    return r.returncode, r.stdout.decode("utf-8", errors="replace"), took


def passwd_fields(line):
    f = line.rstrip("\n").split(":")
    assert len(f) == 7, line
    return f


# ---- fixtures --------------------------------------------------------------------

@pytest.fixture(scope="module")
def sb(tmp_path_factory, builddir):
    s = start_sandbox(tmp_path_factory, builddir, "nss", society={"home": HOME, "shell": SHELL})
    yield s
    s.down()


@pytest.fixture(autouse=True)
def kenpod_healthy(sb):
    """After each test: kenpod reported nothing, and runs unless stopped."""
    yield
    check_kenpod(sb, alive=False)


@pytest.fixture(scope="module")
def members(sb):
    return {
        "registered": sb.add_member("Nss.Taro", nickname=NICKNAME),
        "preissued": sb.add_preissued_member(),
        "disabled": sb.add_disabled_member("Nss.Disabled"),
    }


@pytest.fixture(scope="module")
def env(sb, members):
    return nss_env(sb)


# ---- lookups -------------------------------------------------------------------

def test_registered_member_by_name(env, members):
    m = members["registered"]
    rc, out, _ = getent(env, "Nss.Taro")
    assert rc == 0, out
    assert passwd_fields(out) == ["Nss.Taro", "x", str(m["uid_number"]),
                                  str(m["gid_number"]), NICKNAME,
                                  HOME.replace("%u", "Nss.Taro"), SHELL]


def test_registered_member_by_uid(env, members):
    m = members["registered"]
    rc, out, _ = getent(env, str(m["uid_number"]))
    assert rc == 0, out
    f = passwd_fields(out)
    assert f[0] == "Nss.Taro"
    assert f[2] == str(m["uid_number"])


@pytest.mark.parametrize("key", ["nss.taro", "NSS.TARO", "nSs.tArO"])
def test_other_case_is_not_found(env, members, key):
    """Names are exact, as glibc's files module has them."""
    assert getent(env, key)[0] == NOT_FOUND
    rc, out, _ = getent(env, "Nss.Taro")
    assert rc == 0, out
    assert passwd_fields(out)[0] == "Nss.Taro"


@pytest.mark.parametrize("which", ["preissued", "disabled"])
def test_not_a_user_yet_or_any_more(env, members, which):
    m = members[which]
    assert getent(env, m["login"])[0] == NOT_FOUND
    assert getent(env, m["login"].lower())[0] == NOT_FOUND
    assert getent(env, str(m["uid_number"]))[0] == NOT_FOUND


def test_unknown_name_and_uid(env):
    assert getent(env, "nobody.here")[0] == NOT_FOUND
    assert getent(env, "3999999999")[0] == NOT_FOUND
    assert getent(env, "0")[0] == NOT_FOUND


@pytest.mark.parametrize("key", [
    "*", "(x)", "a\\b", "Nss.*", "uid=x)(uid=*", "a" * 300, "a" * 40,
    b"Nss.Taro\xff", b"\xe5\x81\xa5\xe4\xbf\x9d", "Nss.Taro ", "nss\ttaro",
], ids=["star", "parens", "backslash", "wildcard", "filter", "300-chars", "40-chars",
        "bad-utf8", "kanji", "trailing-space", "tab"])
def test_bad_names_not_found(env, members, key):
    rc, out, _ = getent(env, key)
    assert rc == NOT_FOUND, out
    # kenpod is still there and still right.
    assert getent(env, "Nss.Taro")[0] == 0


# ---- enumeration -------------------------------------------------------------------

def test_enumeration_lists_only_users(sb, members):
    with sb.kenpod_settings_changed(kenpod={"enumerate": "yes"}):
        rc, out, _ = getent(nss_env(sb))
    assert rc == 0
    names = [passwd_fields(line)[0] for line in out.splitlines()]
    assert "Nss.Taro" in names
    assert members["preissued"]["login"] not in names
    assert "Nss.Disabled" not in names
    assert len(names) == len(set(names))


def test_enumeration_off_lists_nothing(sb, env, members):
    # The default: kenpod refuses, and the module ends the list quietly.
    rc, out, _ = getent(env)
    assert rc == 0
    assert out == ""


# ---- kenpod away -------------------------------------------------------------------

def test_kenpod_stopped_is_fast(sb, env, members):
    """kenpod answers, is stopped, and every lookup fails at once."""
    assert getent(env, "Nss.Taro")[0] == 0
    sb.stop_kenpod()
    try:
        for key in ("Nss.Taro", "x", str(members["registered"]["uid_number"])):
            rc, _, took = getent(env, key)
            assert rc == NOT_FOUND
            assert took < 1.0
    finally:
        sb.start_kenpod()
    assert getent(env, "Nss.Taro")[0] == 0


def test_kenpod_crashed_is_fast(sb, tmp_path):
    """A socket file left behind by a kenpod that died: nobody listens."""
    path = str(tmp_path / "kenpod.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()
    rc, _, took = getent(nss_env(sb, sock=path), "x")
    assert rc == NOT_FOUND
    assert took < 1.0


def test_kenpod_hung_is_bounded(sb, tmp_path):
    """A kenpod that accepts nothing and answers nothing: the deadline holds."""
    path = str(tmp_path / "kenpod.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(16)
    try:
        rc, _, took = getent(nss_env(sb, sock=path, timeout_ms=300), "x")
    finally:
        s.close()
    assert rc == NOT_FOUND
    assert 0.25 < took < 1.0
