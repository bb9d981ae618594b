"""kenpo with the standard OpenLDAP tools an administrator uses: passwords
set with ldappasswd (slapd's argon2 module) log in through kenpod every
time; ppolicy's pwdReset, which slapd reports as "must be changed", forces
a change through kenpod too; a password stored in another scheme ({SSHA},
clear text) is refused with a log line that says why; and the mails kenpod
sends are dated in the society's time zone.

The module runs its own sandbox, kenpod at a low argon2 cost, and the
society asks for no key after the password (key = optional).
"""

import email.utils
import os
import re
import subprocess

import pytest

import kenpoproto as kp
import kenposandbox as ks
from conftest import check_kenpod, start_sandbox

LOW_COST = {"argon2_t": "1", "argon2_m": "8K"}
PASSWORD = "Hyojun2025Pw"
RUNS = 200


@pytest.fixture(scope="module")
def sb(tmp_path_factory, builddir):
    # Password logins alone: the key is the society's policy, not each member's.
    s = start_sandbox(tmp_path_factory, builddir, "tools", programs=("kenpod", "kenpo-admin"),
                      society={"key": "optional"}, kenpod=LOW_COST)
    yield s
    s.down()


@pytest.fixture(autouse=True)
def kenpod_healthy(sb):
    yield
    check_kenpod(sb)


@pytest.fixture(scope="module")
def pw_hash(testtool, tool_env):
    r = subprocess.run([testtool, "hash-password", "--t", "1", "--m", "8K"],
                       input=PASSWORD + "\n", capture_output=True, text=True, env=tool_env,
                       check=True)
    return r.stdout.strip()


def member(sb, login, stored, number=None):
    return sb.add_member(login, number=number, extra=[
        ("userPassword", stored),
        ("kenpoMail1", login.lower() + "@example.jp")])


def auth(sb, login, password):
    with kp.Client(sb.kenpod_socket, timeout=30) as c:
        return c.auth_password(login, password)["name"]


def ldappasswd(sb, m, old, new):
    """The member changes its own password with ldappasswd: slapd's argon2
    module makes the hash (the frontend's olcPasswordHash)."""
    r = subprocess.run(["ldappasswd", "-x", "-H", sb.ldapi_uri, "-D", m["dn"], "-w", old,
                        "-s", new], capture_output=True, text=True, env=sb.client_env())
    assert r.returncode == 0, r.stderr


def kenpod_log_since(sb, offset):
    with open(sb.kenpod_log, encoding="utf-8", errors="replace") as f:
        f.seek(offset)
        return f.read()


def test_every_password_ldappasswd_sets_logs_in(sb, pw_hash):
    """200 passwords, each hashed by slapd's argon2 module as ldappasswd
    sets it, each verified by kenpod (which then upgrades it to argon2id)."""
    m = member(sb, "Tools.Passwd", pw_hash)
    old, refused = PASSWORD, []
    for i in range(RUNS):
        new = "Ldap%04dPass" % i
        ldappasswd(sb, m, old, new)
        stored = sb.entry(m["dn"], "userPassword")["userPassword"][0]
        assert stored.startswith("{ARGON2}$argon2"), stored
        if auth(sb, m["login"], new) != "OK":
            refused.append(i)
        old = new
    assert refused == [], "%d of %d refused" % (len(refused), RUNS)


def test_pwdreset_forces_a_change(sb, pw_hash):
    m = member(sb, "Tools.Reset", pw_hash)
    with kp.Client(sb.kenpod_socket) as c:
        assert c.account(m["login"])["name"] == "OK"
    # What an administrator's reset through ppolicy leaves (pwdMustChange).
    sb.ldapmodify("dn: %s\nchangetype: modify\nreplace: pwdReset\npwdReset: TRUE\n" % m["dn"])
    with kp.Client(sb.kenpod_socket) as c:
        assert c.auth_password(m["login"], PASSWORD)["name"] == "OK"
        assert c.account(m["login"])["name"] == "MUST_CHANGE"
        assert c.password_change(m["login"], PASSWORD, "Atarashii2025")["name"] == "OK"
        assert c.account(m["login"])["name"] == "OK"
    assert "pwdReset" not in sb.entry(m["dn"], "pwdReset")


@pytest.mark.parametrize("scheme", ["{SSHA}", "clear text"])
def test_other_schemes_refused_with_a_reason(sb, scheme):
    stored = ks._ssha(PASSWORD) if scheme == "{SSHA}" else PASSWORD
    login = "Tools.%s" % ("Ssha" if scheme == "{SSHA}" else "Clear")
    m = member(sb, login, stored)
    offset = os.path.getsize(sb.kenpod_log)
    assert auth(sb, m["login"], PASSWORD) == "AUTH_ERR"
    log = kenpod_log_since(sb, offset)
    assert re.search(r"%s: userPassword is %s, not argon2: refused" % (
        re.escape(login), re.escape(scheme)), log), log
    assert PASSWORD not in log
    # slapd itself would accept it: the refusal is kenpod's.
    r = subprocess.run(["ldapwhoami", "-x", "-H", sb.ldapi_uri, "-D", m["dn"], "-w", PASSWORD],
                       capture_output=True, text=True, env=sb.client_env())
    assert r.returncode == 0


def test_mails_are_dated_in_the_society_zone(sb, pw_hash, builddir):
    """A reset mail through kenpo-admin: Date in Asia/Tokyo (+0900), the
    society's default zone."""
    m = member(sb, "Tools.Date", pw_hash, number="TD1")
    before = len(sb.mails())
    env = dict(os.environ, LDAPNOINIT="1")
    env.pop("LOCPATH", None)
    r = subprocess.run([os.path.join(builddir, "kenpo-admin"), "-c", sb.kenpod_conf,
                        "-D", ks.ADMIN_DN, "-y", sb.admin_pw_file, "reset", "--by", "number",
                        "TD1"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    mail = sb.wait_for_mail(before + 1)[-1]
    assert mail["To"] == m["login"].lower() + "@example.jp"
    date = str(mail["Date"])
    assert date.endswith(" +0900"), date
    assert email.utils.parsedate_to_datetime(date).utcoffset().total_seconds() == 9 * 3600
