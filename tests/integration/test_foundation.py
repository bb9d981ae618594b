"""The foundation everything else stands on: the schema in a real slapd, the
sandbox, {ARGON2} passwords made by kenpo and verified by slapd, the unique
overlay, the ACLs, and mail composed by kenpo arriving in the sink."""

import os
import re
import socket
import stat
import subprocess

import pytest

import kenposandbox as ks

OID_BASE = "2.25.69485512776610944071383714711151521621"
PASSWORD = "Kenpo2024Pass"
SOCIETY = ks.SOCIETY_NAME


def member_dn(number):
    return "kenpoMemberNumber=%s,ou=members,%s" % (number, ks.SOCIETY_BASE)


def member_ldif(number, login, uid_number, pw_hash=None, extra=()):
    attrs = [
        ("objectClass", "inetOrgPerson"), ("objectClass", "posixAccount"),
        ("objectClass", "kenpoMember"),
        ("kenpoMemberNumber", number), ("kenpoState", "registered"),
        ("uid", login), ("cn", "山田 太郎"), ("sn", "山田"),
        ("uidNumber", str(uid_number)), ("gidNumber", "100"),
        ("homeDirectory", "/home/" + login), ("loginShell", "/bin/bash"),
        ("kenpoNickname", "ご本人"), ("kenpoMail1", "%s@example.jp" % login.lower()),
        ("kenpoDateOfBirth", "1980-04-01"),
    ]
    if pw_hash:
        attrs.append(("userPassword", pw_hash))
    attrs.extend(extra)
    return ks.ldif_entry(member_dn(number), attrs)


def ldap_as(sandbox, tool, dn, pwfile, *args, input_text=None, uri=None):
    """An ldap-utils command bound as dn with the password in pwfile."""
    argv = [tool, "-x", "-H", uri or sandbox.ldapi_uri, "-D", dn, "-y", pwfile] + list(args)
    return subprocess.run(argv, input=input_text, capture_output=True, text=True,
                          env=sandbox.client_env())


def kenpod(sandbox, tool, *args, input_text=None):
    return ldap_as(sandbox, tool, ks.KENPOD_DN, sandbox.kenpod_pw_file, *args,
                   input_text=input_text)


# The members here use numbers F..., login IDs and uidNumbers (2900000+) that
# no other test and no uid counter of the shared session sandbox hands out.

@pytest.fixture(scope="module")
def member(sandbox, run_tool, tmp_path_factory):
    """A registered member whose {ARGON2} password kenpo-testtool made."""
    r = run_tool(["hash-password"], input=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    pw_hash = r.stdout.strip()
    r = kenpod(sandbox, "ldapadd", input_text=member_ldif("F000001", "Toyobo", 2900001, pw_hash))
    assert r.returncode == 0, r.stderr
    pwfile = tmp_path_factory.mktemp("pw") / "member.pw"
    pwfile.write_text(PASSWORD)  # -y reads the file as is: no newline
    return {"dn": member_dn("F000001"), "hash": pw_hash, "pwfile": str(pwfile)}


# ---- schema ---------------------------------------------------------------

def test_schema_ldif_is_generated_from_schema(srcdir):
    with open(os.path.join(srcdir, "schema", "kenpo.schema")) as f:
        text = f.read()
    with open(os.path.join(srcdir, "schema", "kenpo.ldif")) as f:
        ldif = f.read()
    assert ldif == ks.schema_to_ldif(text), \
        "schema/kenpo.ldif is stale: run tests/sandbox schema-ldif > schema/kenpo.ldif"
    from_schema = ks.parse_schema(text)
    assert ks.parse_ldif_schema(ldif) == from_schema
    oids = [d[1] for d in from_schema]
    names = [n.lower() for d in from_schema for n in d[2]]
    assert len(set(oids)) == len(oids) and len(set(names)) == len(names)
    for kind, oid, nm, _body in from_schema:
        arc = ".1." if kind == "attributetype" else ".2."
        assert re.fullmatch(re.escape(OID_BASE + arc) + r"[1-9][0-9]*", oid), (nm, oid)
        assert nm[0].startswith("kenpo"), nm


def test_schema_definitions_as_slapd_publishes_them(sandbox, srcdir):
    """slapd loaded every definition, with the matching rules we wrote."""
    out = sandbox.ldapsearch("cn=Subschema", "(objectClass=subschema)",
                             "attributeTypes", "objectClasses", scope="base")
    published = {m.group(1): m.group(0) for m in re.finditer(
        r"\( (%s\.\d+\.\d+) [^\n]*" % re.escape(OID_BASE), out)}
    with open(os.path.join(srcdir, "schema", "kenpo.schema")) as f:
        defined = ks.parse_schema(f.read())
    assert len(defined) >= 49 and set(published) == {d[1] for d in defined}
    nick = published[OID_BASE + ".1.4"]
    assert "NAME 'kenpoNickname'" in nick and "1.3.6.1.4.1.1466.115.121.1.15" in nick
    assert "SINGLE-VALUE" in published[OID_BASE + ".1.5"]  # kenpoMail1
    assert "integerMatch" in published[OID_BASE + ".1.41"]  # kenpoNextUid
    assert "AUXILIARY" in published[OID_BASE + ".2.1"]      # kenpoMember


def test_schema_header_names_what_slapd_knows(sandbox, srcdir):
    """src/directory/schema.h, the one place kenpod and kenpo-admin take
    attribute and class names from, names every kenpo definition, and each
    of its names is one that slapd publishes (ppolicy's included)."""
    with open(os.path.join(srcdir, "src", "directory", "schema.h")) as f:
        header = dict(re.findall(r'#define (KENPO_(?:AT|OC)_\w+) "(\w+)"', f.read()))
    out = sandbox.ldapsearch("cn=Subschema", "(objectClass=subschema)",
                             "attributeTypes", "objectClasses", scope="base")
    published = set()
    for names in re.findall(r"NAME (\( [^)]* \)|'[^']+')", out):
        published.update(n.lower() for n in re.findall(r"'([^']+)'", names))
    unknown = sorted(n for n in header.values() if n.lower() not in published)
    assert unknown == []
    with open(os.path.join(srcdir, "schema", "kenpo.schema")) as f:
        defined = {n for d in ks.parse_schema(f.read()) for n in d[2]}
    assert defined - set(header.values()) == set()


# ---- sandbox ----------------------------------------------------------------

def test_sandbox_reports_its_timings(sandbox):
    """How long `up` took is printed, not judged: a test's wall clock says
    more about the machine's load than about the sandbox."""
    t = sandbox.timings
    print("sandbox up: total %.3f s, build %.3f s, slapd ready %.3f s, mail sink %.3f s"
          % (t["total"], t["build"], t["slapd_ready"], t["smtpd_ready"]))
    assert 0 < t["slapd_ready"] <= t["total"]


def test_env_file_describes_the_sandbox(sandbox):
    keys = ("KENPO_SANDBOX LDAP_URI LDAP_URI_TCP LDAP_BASE LDAP_ADMIN_DN LDAP_ADMIN_PW_FILE "
            "KENPOD_DN KENPOD_PW_FILE SOCIETY_BASE SMTP_URL MAIL_DIR SLAPD_PID SMTPD_PID").split()
    script = ". %s && %s" % (sandbox.env_file,
                             " && ".join('printf "%%s=%%s\\n" %s "$%s"' % (k, k) for k in keys))
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True).stdout
    env = dict(line.split("=", 1) for line in out.splitlines())
    assert env["LDAP_URI"].startswith("ldapi://%2F") and env["LDAP_URI"].endswith("%2Fldapi")
    assert re.fullmatch(r"ldap://127\.0\.0\.1:\d+/", env["LDAP_URI_TCP"])
    assert ":389/" not in env["LDAP_URI_TCP"]
    assert re.fullmatch(r"smtp://127\.0\.0\.1:\d+", env["SMTP_URL"])
    assert env["SOCIETY_BASE"] == "ou=toyobo,dc=kenpo,dc=test"
    running = sandbox.running()
    assert env["SLAPD_PID"] == str(running["slapd"]) and env["SMTPD_PID"] == str(running["smtpd"])
    for key in ("LDAP_ADMIN_PW_FILE", "KENPOD_PW_FILE"):
        assert stat.S_IMODE(os.stat(env[key]).st_mode) == 0o600
    r = ldap_as(sandbox, "ldapwhoami", env["KENPOD_DN"], env["KENPOD_PW_FILE"],
                uri=env["LDAP_URI_TCP"])
    assert r.returncode == 0 and r.stdout.strip() == "dn:" + ks.KENPOD_DN


def test_base_entries_are_loaded(sandbox):
    out = sandbox.ldapsearch(ks.SUFFIX, "(objectClass=*)", "1.1")
    for dn in ("ou=services,dc=kenpo,dc=test", "cn=default,ou=policies,dc=kenpo,dc=test",
               "ou=members,ou=toyobo,dc=kenpo,dc=test", "ou=tokens,ou=toyobo,dc=kenpo,dc=test",
               "ou=rates,ou=toyobo,dc=kenpo,dc=test", "cn=uidNumber,ou=toyobo,dc=kenpo,dc=test"):
        assert "dn: %s\n" % dn in out
    society = sandbox.ldapsearch(ks.SOCIETY_BASE, "(objectClass=kenpoSociety)",
                                 "kenpoSocietyId", scope="base")
    assert "kenpoSocietyId: toyobo" in society


# ---- passwords and binds --------------------------------------------------------

def test_member_with_argon2_password_binds(sandbox, member, run_tool):
    assert member["hash"].startswith("{ARGON2}$argon2id$")
    r = run_tool(["verify-password", member["hash"]], input=PASSWORD)
    assert r.returncode == 0
    ok = ldap_as(sandbox, "ldapwhoami", member["dn"], member["pwfile"], uri=sandbox.ldap_tcp_uri)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "dn:" + member["dn"]


def test_wrong_password_does_not_bind(sandbox, member, run_tool):
    r = run_tool(["verify-password", member["hash"]], input="Kenpo2024Pasx")
    assert r.returncode == 1
    bad = subprocess.run(["ldapwhoami", "-x", "-H", sandbox.ldapi_uri, "-D", member["dn"],
                          "-w", "Kenpo2024Pasx"], capture_output=True, text=True,
                         env=sandbox.client_env())
    assert bad.returncode == 49 and "Invalid credentials" in bad.stderr
    # ppolicy counted it (and a later good bind clears it).
    ops = sandbox.ldapsearch(member["dn"], "(objectClass=*)", "pwdFailureTime", scope="base")
    assert "pwdFailureTime: " in ops


def test_member_changes_own_password(sandbox, run_tool, tmp_path):
    """Self write on userPassword; slapd hashes with {ARGON2}, which kenpo verifies."""
    r = run_tool(["hash-password", "--t", "1", "--m", "8M"], input="First1Pass")
    assert r.returncode == 0, r.stderr
    r = kenpod(sandbox, "ldapadd", input_text=member_ldif("F000003", "jiro", 2900003,
                                                          r.stdout.strip()))
    assert r.returncode == 0, r.stderr
    dn = member_dn("F000003")
    r = subprocess.run(["ldappasswd", "-x", "-H", sandbox.ldapi_uri, "-D", dn, "-w", "First1Pass",
                        "-s", "Second2Pass"],
                       capture_output=True, text=True, env=sandbox.client_env())
    assert r.returncode == 0, r.stderr
    stored = sandbox.ldapsearch(dn, "(objectClass=*)", "userPassword", scope="base")
    value = re.search(r"userPassword:: (\S+)", stored).group(1)
    import base64
    # Debian's slapd 2.5 argon2 module stores the hashes it makes with
    # trailing NUL bytes; read as a C string, as kenpod does.
    stored_hash = base64.b64decode(value).split(b"\0")[0].decode()
    assert stored_hash.startswith("{ARGON2}$argon2")
    assert run_tool(["verify-password", stored_hash], input="Second2Pass").returncode == 0
    assert run_tool(["verify-password", stored_hash], input="First1Pass").returncode == 1
    pwfile = tmp_path / "pw"
    pwfile.write_text("Second2Pass")
    ok = ldap_as(sandbox, "ldapwhoami", dn, str(pwfile))
    assert ok.returncode == 0, ok.stderr


def test_login_id_is_unique_regardless_of_case(sandbox, member):
    r = kenpod(sandbox, "ldapadd", input_text=member_ldif("F000002", "toyobo", 2900002))
    assert r.returncode == 19, r.stdout + r.stderr
    assert "Constraint violation" in r.stderr and "uid" in r.stderr
    # Neither kenpod nor the administrator gets around it.
    r = sandbox.ldapadd(member_ldif("F000002", "TOYOBO", 2900002), check=False)
    assert r.returncode == 19
    # The same uidNumber is refused too; a distinct login ID and number pass.
    r = kenpod(sandbox, "ldapadd", input_text=member_ldif("F000002", "hanako", 2900001))
    assert r.returncode == 19 and "uidNumber" in r.stderr
    r = kenpod(sandbox, "ldapadd", input_text=member_ldif("F000002", "hanako", 2900002))
    assert r.returncode == 0, r.stderr


def test_schema_refuses_malformed_values(sandbox):
    cases = [
        ([("kenpoDisabled", "maybe")], 21),                      # not a BOOLEAN
        ([("kenpoKeyTries", "three")], 21),                      # not an INTEGER
        ([("kenpoKeyExpiry", "2024-01-01")], 21),                # not GeneralizedTime
        ([("kenpoMail2", "太郎@example.jp")], 21),                # IA5 only
        ([("kenpoMail2", "a@example.jp"), ("kenpoMail2", "b@example.jp")], 19),  # single
    ]
    for i, (extra, code) in enumerate(cases):
        number = "F1000%02d" % i
        r = kenpod(sandbox, "ldapadd", input_text=member_ldif(
            number, "bad%d" % i, 2900100 + i, extra=extra))
        assert r.returncode == code, (extra, r.stderr)


# ---- household, tokens, counters ------------------------------------------------------

def test_household_member_entry(sandbox, member):
    dn = "kenpoHouseholdIndex=01," + member["dn"]
    r = kenpod(sandbox, "ldapadd", input_text=ks.ldif_entry(dn, [
        ("objectClass", "kenpoHouseholdMember"), ("kenpoHouseholdIndex", "01"),
        ("kenpoNickname", "ご家族01"), ("cn", "山田 花子"),
        ("kenpoDateOfBirth", "2010-07-07"),
        ("kenpoDiscloseMedical", "FALSE"), ("kenpoDiscloseGeneric", "TRUE")]))
    assert r.returncode == 0, r.stderr
    out = kenpod(sandbox, "ldapsearch", "-LLL", "-b", member["dn"], "-s", "one",
                 "(&(objectClass=kenpoHouseholdMember)(kenpoDiscloseGeneric=TRUE))",
                 "kenpoHouseholdIndex").stdout
    assert "kenpoHouseholdIndex: 01" in out


def test_token_entry_is_dynamic(sandbox, member):
    digest = "ab" * 32
    dn = "kenpoTokenHash=%s,ou=tokens,%s" % (digest, ks.SOCIETY_BASE)
    r = kenpod(sandbox, "ldapadd", input_text=ks.ldif_entry(dn, [
        ("objectClass", "kenpoToken"), ("objectClass", "dynamicObject"),
        ("kenpoTokenHash", digest), ("kenpoTokenKind", "identity"),
        ("kenpoTokenExpiry", "20300101000000Z"), ("kenpoTokenMail", "taro@example.jp"),
        ("kenpoTokenMember", member["dn"]), ("kenpoTokenTries", "0"),
        ("kenpoAuthKeyHash", "cd" * 32)]))
    assert r.returncode == 0, r.stderr
    r = kenpod(sandbox, "ldapexop", "refresh", dn, "1800")
    assert r.returncode == 0 and "newttl=1800" in r.stdout, r.stderr
    out = kenpod(sandbox, "ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-b", ks.SOCIETY_BASE,
                 "(&(kenpoTokenKind=identity)(kenpoTokenMember=%s))" % member["dn"],
                 "entryTtl", "kenpoAuthKeyHash").stdout
    # slapd counts the time to live down from the refresh: a second may
    # have gone by on a busy machine.
    ttl = re.search(r"^entryTtl: (\d+)$", out, re.M)
    assert ttl and 1790 <= int(ttl.group(1)) <= 1800, out
    assert "kenpoAuthKeyHash: " + "cd" * 32 in out
    # Nobody but kenpod sees tokens.
    anon = subprocess.run(["ldapsearch", "-x", "-LLL", "-H", sandbox.ldapi_uri, "-b", dn,
                           "-s", "base"], capture_output=True, text=True,
                          env=sandbox.client_env())
    assert anon.returncode == 32 and "kenpoToken" not in anon.stdout


def test_uid_counter_increments(sandbox):
    ldif = ("dn: cn=uidNumber,%s\nchangetype: modify\nincrement: kenpoNextUid\n"
            "kenpoNextUid: 1\n-\n" % ks.SOCIETY_BASE)
    got = []
    for _ in range(2):
        r = kenpod(sandbox, "ldapmodify", "-e", "postread=kenpoNextUid", input_text=ldif)
        assert r.returncode == 0, r.stderr
        got.append(int(re.search(r"kenpoNextUid: (\d+)", r.stdout).group(1)))
    assert got[1] == got[0] + 1 and got[0] > ks.UID_MIN


def test_acl_members_see_themselves_without_secrets(sandbox, member):
    r = kenpod(sandbox, "ldapmodify", input_text=(
        "dn: %s\nchangetype: modify\nreplace: kenpoTempPassword\n"
        "kenpoTempPassword: {ARGON2}$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA\n"
        % member["dn"]))
    assert r.returncode == 0, r.stderr
    own = ldap_as(sandbox, "ldapsearch", member["dn"], member["pwfile"], "-LLL",
                  "-b", member["dn"], "-s", "base", "*")
    assert own.returncode == 0 and "kenpoNickname" in own.stdout
    assert "kenpoTempPassword" not in own.stdout and "userPassword" not in own.stdout
    others = ldap_as(sandbox, "ldapsearch", member["dn"], member["pwfile"], "-LLL",
                     "-b", "ou=members," + ks.SOCIETY_BASE, "(uid=hanako)", "uid")
    assert "hanako" not in others.stdout
    seen = kenpod(sandbox, "ldapsearch", "-LLL", "-b", member["dn"], "-s", "base",
                  "kenpoTempPassword").stdout
    assert "kenpoTempPassword: {ARGON2}" in seen
    anon = subprocess.run(["ldapsearch", "-x", "-LLL", "-H", sandbox.ldapi_uri,
                           "-b", ks.SUFFIX, "(uid=*)"], capture_output=True, text=True,
                          env=sandbox.client_env())
    assert "dn:" not in anon.stdout


def test_acl_kenpod_cannot_touch_society_policies_or_services(sandbox):
    for dn in (ks.SOCIETY_BASE, ks.POLICY_DN, ks.KENPOD_DN):
        r = kenpod(sandbox, "ldapmodify", input_text=(
            "dn: %s\nchangetype: modify\nreplace: description\ndescription: x\n" % dn))
        assert r.returncode == 50, (dn, r.stderr)  # insufficientAccess
    r = kenpod(sandbox, "ldapadd", input_text=ks.ldif_entry(
        "ou=extra," + ks.SOCIETY_BASE, [("objectClass", "organizationalUnit"), ("ou", "extra")]))
    assert r.returncode == 50, r.stderr
    r = kenpod(sandbox, "ldapdelete", "ou=rates," + ks.SOCIETY_BASE)
    assert r.returncode == 50, r.stderr


# ---- mail --------------------------------------------------------------------------

def rendered_template(srcdir, lang, kind, variables):
    """The template with its placeholders filled in, done independently of C."""
    with open(os.path.join(srcdir, "templates", lang, kind + ".txt"), encoding="utf-8") as f:
        text = f.read()
    first, _, body = text.partition("\n")
    assert first.startswith("Subject: ")
    body = body[1:] if body.startswith("\n") else body

    def fill(s):
        return re.sub(r"%%([A-Z0-9_]+)%%", lambda m: variables[m.group(1)], s)
    return fill(first[len("Subject: "):]), fill(body)


def test_guide_mail_arrives_decoded(sandbox, run_tool, srcdir):
    url = "https://portal.kenpo.test/register?t=Zx9-_Q"
    variables = {"URL": url, "VALIDITY": "3時間", "SOCIETY": SOCIETY}
    before = len(sandbox.mail_files())
    r = run_tool(["send-mail", "--smtp", sandbox.smtp_url, "--from", "noreply@kenpo.test",
                  "--to", "guide-test@example.jp", "--template", "guide", "--lang", "ja",
                  "--society", SOCIETY, "--var", "URL=" + url, "--var", "VALIDITY=3時間"])
    assert r.returncode == 0, r.stderr
    msg = sandbox.wait_for_mail(before + 1)[-1]
    subject, body = rendered_template(srcdir, "ja", "guide", variables)
    assert "利用登録手続きのご案内" in msg.kenpo_subject
    assert msg.kenpo_subject == subject
    assert url in msg.kenpo_body and SOCIETY in msg.kenpo_body
    assert msg.kenpo_body.rstrip("\n") == body.rstrip("\n")
    assert msg.kenpo_from == "noreply@kenpo.test" and msg.kenpo_to == ["guide-test@example.jp"]
    assert str(msg["To"]) == "guide-test@example.jp"
    assert SOCIETY in str(msg["From"])


def test_send_to_closed_port_fails_clearly(sandbox, run_tool):
    with socket.socket() as s:  # a port that was free a moment ago; nobody listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    before = len(sandbox.mail_files())
    url = "smtp://127.0.0.1:%d" % port
    r = run_tool(["send-mail", "--smtp", url, "--from", "noreply@kenpo.test",
                  "--to", "x@example.jp", "--template", "guide", "--lang", "ja",
                  "--society", SOCIETY, "--var", "URL=https://x.test/", "--var", "VALIDITY=3時間"])
    assert r.returncode == 1
    assert url in r.stderr and "connection refused" in r.stderr.lower(), r.stderr
    assert len(sandbox.mail_files()) == before


# ---- restart and stop -----------------------------------------------------------------

def test_restart_keeps_the_data(sandbox, member):
    took = sandbox.restart_slapd()
    assert took < 2.0
    ok = ldap_as(sandbox, "ldapwhoami", member["dn"], member["pwfile"])
    assert ok.returncode == 0, ok.stderr


def test_sandbox_command_up_status_down(srcdir, new_sandbox_dir):
    cmd = os.path.join(srcdir, "tests", "sandbox")
    d = os.path.join(new_sandbox_dir, "s")
    up = subprocess.run([cmd, "up", d], capture_output=True, text=True)
    assert up.returncode == 0, up.stderr
    assert re.search(r"up in \d+\.\d+ s", up.stdout)
    st = subprocess.run([cmd, "status", d], capture_output=True, text=True)
    assert st.returncode == 0 and "slapd:" in st.stdout and "running" in st.stdout
    # slapd, the mail sink, and kenpod when it is built
    assert len(ks.processes_of(d)) == 3 if _kenpod_built() else 2
    again = subprocess.run([cmd, "up", d], capture_output=True, text=True)
    assert again.returncode == 1 and "already running" in again.stderr

    down = subprocess.run([cmd, "down", d], capture_output=True, text=True)
    assert down.returncode == 0, down.stderr
    assert ks.processes_of(d) == []
    assert not os.path.exists(os.path.join(d, "ldapi")) or not _socket_answers(d)
    st = subprocess.run([cmd, "status", d], capture_output=True, text=True)
    assert st.returncode == 3 and "stopped" in st.stdout
    assert os.path.isdir(os.path.join(d, "db"))  # kept without --purge
    assert subprocess.run([cmd, "down", d]).returncode == 0  # nothing runs: harmless

    # Up again on the same directory keeps the data; --purge removes it all.
    up = subprocess.run([cmd, "up", d], capture_output=True, text=True)
    assert up.returncode == 0, up.stderr
    assert subprocess.run([cmd, "down", d, "--purge"]).returncode == 0
    assert not os.path.exists(d) and ks.processes_of(d) == []


def _kenpod_built():
    builddir = os.environ.get("KENPO_BUILDDIR", os.getcwd())
    return os.access(os.path.join(builddir, "kenpod"), os.X_OK)


def _socket_answers(d):
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(os.path.join(d, "ldapi"))
            return True
        except OSError:
            return False
