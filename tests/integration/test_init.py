"""kenpo-admin init on a slapd as Debian installs it (kenpo's schema loaded,
nothing else of kenpo): without --apply it changes nothing and says what
it would do; with --apply it loads the modules, sets up the overlays and
slapo-accesslog with its database, the access rules and limits of kenpod,
the data tree, kenpod's service account with its password file and the
server secret, after which kenpod runs on it; a second run has nothing
left to do.
"""

import json
import os
import stat
import subprocess
import urllib.parse

import pytest

import kenpoproto as kp
import kenposandbox as ks


class DebianSlapd(ks.Sandbox):
    """slapd configured as Debian's package leaves it (back_mdb, the four
    standard schemas, read access for everyone), plus kenpo's schema; the
    database holds only the suffix entry."""

    def _config_ldif(self, admin_pw):
        me = "gidNumber=%d+uidNumber=%d,cn=peercred,cn=external,cn=auth" % (
            os.getgid(), os.getuid())
        out = [ks.ldif_entry("cn=config", [
            ("objectClass", "olcGlobal"), ("cn", "config"),
            ("olcPidFile", self.slapd_pidfile),
            ("olcArgsFile", os.path.join(self.dir, "slapd.args")),
            ("olcLogLevel", "none")])]
        out.append(ks.ldif_entry("cn=module{0},cn=config", [
            ("objectClass", "olcModuleList"), ("cn", "module{0}"),
            ("olcModulePath", ks.MODULE_DIR), ("olcModuleLoad", "{0}back_mdb")]))
        out.append(ks.ldif_entry("cn=schema,cn=config", [
            ("objectClass", "olcSchemaConfig"), ("cn", "schema")]))
        for name in ks.SYSTEM_SCHEMAS:
            out.append("include: file://%s\n\n" % urllib.parse.quote(
                os.path.join(ks.SYSTEM_SCHEMA_DIR, name + ".ldif")))
        out.append("include: file://%s\n\n" % urllib.parse.quote(
            os.path.join(ks.srcdir(), "schema", "kenpo.ldif")))
        out.append(ks.ldif_entry("olcDatabase={-1}frontend,cn=config", [
            ("objectClass", "olcDatabaseConfig"), ("objectClass", "olcFrontendConfig"),
            ("olcDatabase", "{-1}frontend")]))
        out.append(ks.ldif_entry("olcDatabase={0}config,cn=config", [
            ("objectClass", "olcDatabaseConfig"), ("olcDatabase", "{0}config"),
            ("olcAccess", '{0}to * by dn.exact="%s" manage by * break' % me)]))
        out.append(ks.ldif_entry("olcDatabase={1}mdb,cn=config", [
            ("objectClass", "olcDatabaseConfig"), ("objectClass", "olcMdbConfig"),
            ("olcDatabase", "{1}mdb"), ("olcSuffix", ks.SUFFIX),
            ("olcDbDirectory", self.db_dir), ("olcRootDN", ks.ADMIN_DN),
            ("olcRootPW", ks._ssha(admin_pw)), ("olcDbNoSync", "TRUE"),
            ("olcDbIndex", "objectClass eq"),
            ("olcAccess", "{0}to attrs=userPassword by self write by anonymous auth by * none"),
            ("olcAccess", "{1}to attrs=shadowLastChange by self write by * read"),
            ("olcAccess", "{2}to * by * read")]))
        return "".join(out)

    def _base_ldif(self, kenpod_pw):
        return ks.ldif_entry(ks.SUFFIX, [
            ("objectClass", "dcObject"), ("objectClass", "organization"),
            ("dc", "kenpo"), ("o", "kenpo")])


@pytest.fixture(scope="module")
def slapd(tmp_path_factory, builddir):
    nothing = str(tmp_path_factory.mktemp("nokenpod"))   # kenpod is started later
    s = DebianSlapd(str(tmp_path_factory.mktemp("debian")), builddir=nothing)
    s.up()
    os.unlink(s.kenpod_pw_file)           # init makes kenpod's password
    s.real_builddir = builddir
    yield s
    s.down()


@pytest.fixture(scope="module")
def conf(slapd):
    path = os.path.join(slapd.dir, "init.conf")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(slapd.kenpod_config_text())
    return path


@pytest.fixture(scope="module")
def admin(slapd, conf):
    binary = os.path.join(slapd.real_builddir, "kenpo-admin")

    def run(*args, bind="external"):
        argv = [binary, "-c", conf]
        if bind == "admin":
            argv += ["-D", ks.ADMIN_DN, "-y", slapd.admin_pw_file]
        env = dict(os.environ, LDAPNOINIT="1",
                   LSAN_OPTIONS="suppressions=" + os.path.join(ks.srcdir(), "tests", "lsan.supp"))
        env.pop("LOCPATH", None)
        r = subprocess.run(argv + list(args), capture_output=True, text=True, env=env,
                           timeout=300, stdin=subprocess.DEVNULL)
        assert not any(m in r.stderr for m in ks.SANITIZER_MARKERS), r.stderr
        return r
    return run


def dump(slapd, base):
    """Everything under base, as the peercred administrator sees it."""
    env = dict(os.environ, LDAPNOINIT="1")
    r = subprocess.run(["ldapsearch", "-Y", "EXTERNAL", "-Q", "-LLL", "-o", "ldif-wrap=no",
                        "-H", slapd.ldapi_uri, "-b", base, "(objectClass=*)", "*", "+"],
                       capture_output=True, text=True, env=env)
    assert r.returncode in (0, 32), r.stderr
    # The time of the last search is no change.
    return "\n".join(line for line in r.stdout.splitlines()
                     if not line.startswith(("olcLastBind", "contextCSN")))


def test_without_apply_nothing_changes(slapd, admin):
    config, data = dump(slapd, "cn=config"), dump(slapd, ks.SUFFIX)
    for bind in ("external", "admin"):
        r = admin("init", bind=bind)
        assert r.returncode == 0, r.stderr
        assert "missing  ou=toyobo," + ks.SUFFIX in r.stdout
        assert "missing  " + ks.KENPOD_DN in r.stdout
        assert "missing  " + slapd.secret_file in r.stdout
        assert "olcOverlay: accesslog" in r.stdout and "olcSuffix: cn=accesslog" in r.stdout
        assert "nothing was changed" in r.stdout
    r = json.loads(admin("--json", "init").stdout)
    assert r["ok"] and r["applied"] is False
    assert {e["status"] for e in r["entries"]} == {"missing"}
    assert r["config_changes"] and not any(c["applied"] for c in r["config_changes"])
    assert dump(slapd, "cn=config") == config and dump(slapd, ks.SUFFIX) == data
    assert not os.path.exists(slapd.secret_file) and not os.path.exists(slapd.kenpod_pw_file)
    assert not os.path.exists(os.path.join(slapd.db_dir, "accesslog"))


def test_apply_sets_up_everything_kenpod_needs(slapd, admin):
    r = admin("--json", "init", "--apply", "--name", ks.SOCIETY_NAME)
    assert r.returncode == 0, r.stderr + r.stdout
    out = json.loads(r.stdout)
    assert {e["status"] for e in out["entries"]} == {"created"}
    assert all(c["applied"] for c in out["config_changes"])
    for path in (slapd.secret_file, slapd.kenpod_pw_file):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    config = dump(slapd, "cn=config")
    for want in ("olcModuleLoad: {1}ppolicy", "olcModuleLoad: {5}accesslog",
                 "olcPasswordHash: {ARGON2}", "olcAccessLogDB: cn=accesslog",
                 "olcDbIndex: kenpoMemberNumber eq",
                 'olcLimits: {1}dn.exact="%s" size=unlimited' % ks.KENPOD_DN,
                 'to dn.subtree="%s" by dn.exact="%s" write by self read by * none'
                 % (ks.SUFFIX, ks.KENPOD_DN)):
        assert want in config, want
    # kenpod's account binds with the password init wrote for it.
    r = subprocess.run(["ldapwhoami", "-x", "-H", slapd.ldapi_uri, "-D", ks.KENPOD_DN,
                        "-y", slapd.kenpod_pw_file], capture_output=True, text=True,
                       env=dict(os.environ, LDAPNOINIT="1"))
    assert r.returncode == 0 and ks.KENPOD_DN in r.stdout, r.stderr
    # Debian's "to * by * read" no longer shows the society to anonymous users.
    r = subprocess.run(["ldapsearch", "-x", "-LLL", "-H", slapd.ldapi_uri, "-b", ks.SUFFIX,
                        "(objectClass=*)", "1.1"], capture_output=True, text=True,
                       env=dict(os.environ, LDAPNOINIT="1"))
    assert "ou=toyobo" not in r.stdout
    r = admin("init", "--apply")
    assert r.returncode == 0 and "cn=config: nothing to change" in r.stdout, r.stdout
    assert "missing" not in r.stdout and "created" not in r.stdout


def test_kenpod_runs_on_what_init_made(slapd, admin):
    slapd.builddir = slapd.real_builddir
    slapd.start_kenpod()
    try:
        r = admin("--json", "issue", "--number", "IN1", "--name", "初期 化子")
        assert r.returncode == 0, r.stderr
        login = json.loads(r.stdout)["login_id"]
        env = dict(os.environ, LDAPNOINIT="1")
        subprocess.run(["ldapmodify", "-Y", "EXTERNAL", "-Q", "-H", slapd.ldapi_uri],
                       input="dn: kenpoMemberNumber=IN1,ou=members,%s\nchangetype: modify\n"
                       "replace: kenpoState\nkenpoState: registered\n" % ks.SOCIETY_BASE,
                       check=True, env=env, capture_output=True, text=True)
        # kenpod reads the member with the account and the rules init made.
        with kp.Client(slapd.kenpod_socket) as c:
            assert c.byname(login)[0] == kp.OK
        # slapo-accesslog records the write, with who made it.
        r = subprocess.run(["ldapsearch", "-Y", "EXTERNAL", "-Q", "-LLL", "-H", slapd.ldapi_uri,
                            "-b", "cn=accesslog", "(reqDN=kenpoMemberNumber=IN1,ou=members,%s)"
                            % ks.SOCIETY_BASE, "reqAuthzID", "reqType"],
                           capture_output=True, text=True, env=env)
        assert "reqType: add" in r.stdout and "cn=peercred" in r.stdout, r.stdout + r.stderr
        assert admin("history", "IN1").returncode == 0
    finally:
        slapd.stop_kenpod()
