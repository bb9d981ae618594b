"""argon2 in kenpod's kept regions (src/common/pwhash.c): the hashes stay
those slapd's argon2 module verifies on bind and makes itself, and logins
beyond hash_workers wait for a region instead of taking more memory.

The module runs its own sandbox with one region (hash_workers = 1) of
32 MiB and t=1, so that a second region would show in kenpod's memory.
"""

import base64
import concurrent.futures
import itertools
import os
import re
import subprocess

import pytest

import kenpoproto as kp
import kenposandbox as ks
from conftest import check_kenpod, start_sandbox

COST = {"argon2_t": "1", "argon2_m": "32M", "hash_workers": "1"}
PREFIX = "{ARGON2}$argon2id$v=19$m=32768,t=1,p=1$"
PASSWORD = "Kenpo2024Pass"
NEW_PASSWORD = "Shinki2025Pw"
SLAPD_PASSWORD = "Slapd2025Pass"
_seq = itertools.count(1)


@pytest.fixture(scope="module")
def sb(tmp_path_factory, builddir):
    # Password logins alone: the key is the society's policy, not each member's.
    s = start_sandbox(tmp_path_factory, builddir, "pwh", programs=("kenpod",),
                      society={"key": "optional"}, kenpod=COST)
    yield s
    s.down()


@pytest.fixture(autouse=True)
def kenpod_healthy(sb):
    yield
    check_kenpod(sb)


@pytest.fixture(scope="module")
def pw_hash(testtool, tool_env):
    """PASSWORD hashed at the sandbox's cost (no rehash at login)."""
    r = subprocess.run([testtool, "hash-password", "--t", "1", "--m", "32M"],
                       input=PASSWORD + "\n", capture_output=True, text=True, env=tool_env,
                       check=True)
    return r.stdout.strip()


def new_member(sb, stored):
    login = "Pwh.%03d%s" % (next(_seq), os.urandom(2).hex())
    return sb.add_member(login, extra=[("userPassword", stored)])


def stored_password(sb, m):
    """userPassword as a C string (slapd's argon2 module pads with NULs)."""
    out = sb.ldapsearch(m["dn"], "(objectClass=*)", "userPassword", scope="base")
    value = re.search(r"userPassword:: (\S+)", out)
    if value:
        return base64.b64decode(value.group(1)).split(b"\0")[0].decode()
    return re.search(r"userPassword: (\S+)", out).group(1)


def binds(sb, m, password):
    r = subprocess.run(["ldapwhoami", "-x", "-H", sb.ldapi_uri, "-D", m["dn"], "-w", password],
                       capture_output=True, text=True, env=sb.client_env())
    return r.returncode == 0


def kenpod_log(sb):
    with open(sb.kenpod_log, encoding="utf-8", errors="replace") as f:
        return f.read()


def status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"^%s:\s+(\d+)" % field, f.read(), re.MULTILINE).group(1))


def test_kenpod_runs_argon2_in_its_regions(sb):
    log = kenpod_log(sb)
    assert "argon2: 1 at once, each in 32768 KiB kept mapped" in log
    assert "did not use the kept regions" not in log


def test_hash_made_by_kenpod_binds_in_slapd(sb, pw_hash):
    m = new_member(sb, pw_hash)
    with kp.Client(sb.kenpod_socket) as c:
        assert c.password_change(m["login"], PASSWORD, NEW_PASSWORD)["name"] == "OK"
    stored = stored_password(sb, m)
    assert stored.startswith(PREFIX)
    assert binds(sb, m, NEW_PASSWORD)
    assert not binds(sb, m, PASSWORD)
    with kp.Client(sb.kenpod_socket) as c:
        assert c.auth_password(m["login"], NEW_PASSWORD)["name"] == "OK"


def test_hash_made_by_slapd_verifies_in_kenpod(sb, pw_hash):
    """ldappasswd: slapd's argon2 module hashes the member's new password."""
    m = new_member(sb, pw_hash)
    r = subprocess.run(["ldappasswd", "-x", "-H", sb.ldapi_uri, "-D", m["dn"], "-w", PASSWORD,
                        "-s", SLAPD_PASSWORD], capture_output=True, text=True,
                       env=sb.client_env())
    assert r.returncode == 0, r.stderr
    made = stored_password(sb, m)
    assert made.startswith("{ARGON2}$argon2") and not made.startswith(PREFIX)
    with kp.Client(sb.kenpod_socket) as c:
        assert c.auth_password(m["login"], PASSWORD)["name"] == "AUTH_ERR"
        assert c.auth_password(m["login"], SLAPD_PASSWORD)["name"] == "OK"
    # The login upgraded the hash to kenpo's cost, in a region; slapd
    # still verifies it.
    upgraded = stored_password(sb, m)
    assert upgraded.startswith(PREFIX)
    assert binds(sb, m, SLAPD_PASSWORD)


def test_hash_made_by_slappasswd_verifies_in_kenpod(sb):
    r = subprocess.run(["slappasswd", "-o", "module-path=%s" % ks.MODULE_DIR,
                        "-o", "module-load=argon2", "-h", "{ARGON2}", "-s", SLAPD_PASSWORD],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    made = r.stdout.strip()
    assert made.startswith("{ARGON2}$argon2")
    m = new_member(sb, made)
    assert binds(sb, m, SLAPD_PASSWORD)
    with kp.Client(sb.kenpod_socket) as c:
        assert c.auth_password(m["login"], SLAPD_PASSWORD)["name"] == "OK"


def login(sb, m, password):
    with kp.Client(sb.kenpod_socket, timeout=60) as c:
        return c.auth_password(m["login"], password)["name"]


def test_logins_beyond_the_regions_queue_and_succeed(sb, pw_hash):
    """Twelve logins at once, four workers, one region: every login succeeds,
    some waited for the region, and kenpod never held a second one."""
    members = [new_member(sb, pw_hash) for _ in range(12)]
    pid = sb.kenpod_pid()
    before = max(status_kib(pid, "VmRSS"), status_kib(pid, "VmHWM"))
    log_size = os.path.getsize(sb.kenpod_log)
    with concurrent.futures.ThreadPoolExecutor(len(members)) as ex:
        results = list(ex.map(lambda mem: login(sb, mem, PASSWORD), members + members))
    assert results == ["OK"] * 2 * len(members)
    with open(sb.kenpod_log, encoding="utf-8", errors="replace") as f:
        f.seek(log_size)
        queued = re.findall(r"argon2 queue (\d+) ms", f.read())
    assert queued, "no login waited for the region"
    # One region is 32 MiB and was mapped at start-up (the fake hash); a
    # second one, or libsodium's own memory for a run, would add 32 MiB.
    assert status_kib(pid, "VmHWM") < before + 16 * 1024
