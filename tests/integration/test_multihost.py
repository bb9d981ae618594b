"""Two kenpod hosts on two replicating providers (tests/kenpomulti.py).

What DESIGN.md promises for several hosts, shown on the two-host sandbox:
one key, one reset link, one registration ticket and one new login ID
submitted on both hosts at the same instant succeed exactly once, also
while the replication between the providers is cut; wrong passwords spread
over both hosts all count and lock at the configured count; uidNumbers
from two imports at once are never shared; the write provider killed in
the middle of a login is replaced within seconds and taken back when it
returns; and the shipped replication configuration converges after an
outage.

Each race is ROUNDS rounds (100; KENPO_MULTIHOST_ROUNDS sets more for a
longer stress run).  Everything a round needs (pending keys, links,
tickets, members) is written to the write provider in bulk first and
replicated to the other before the round, so that each host could decide
on its own copy: the point is that none does.
"""

import collections
import hashlib
import json
import os
import re
import secrets
import subprocess
import threading
import time

import pytest

import kenpomulti
import kenpoproto as kp
import kenposandbox as ks
from conftest import check_kenpod

ROUNDS = int(os.environ.get("KENPO_MULTIHOST_ROUNDS", "100"))
PASSWORD = "Kenpo2024Pass"
WRONG = "Wrong2024Pass"
LOCKOUT = 3                       # lockout_failures of the sandbox's society
CHECK_INTERVAL = 2                # seconds: how often kenpod looks for the preferred writer
LOW_COST = {"argon2_t": "1", "argon2_m": "8K"}
RESET_OPEN = 0x0003000a
REG_COMPLETE = 0x00030006
TOKEN_INVALID, ID_TAKEN = 48, 51
KEY_RE = re.compile(r"(?<!\d)(\d{10})(?!\d)")
_seq = [0]


def unique(prefix):
    _seq[0] += 1
    return "%s%d%s" % (prefix, _seq[0], secrets.token_hex(2))


# ---- fixtures ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def msb(tmp_path_factory, builddir, testtool, tool_env):
    for prog in ("kenpod", "kenpo-admin"):
        if not os.access(os.path.join(builddir, prog), os.X_OK):
            pytest.fail("%s not built: run `make` and set KENPO_BUILDDIR" % prog)
    s = kenpomulti.MultiSandbox(str(tmp_path_factory.mktemp("mh")), builddir=builddir)
    s.kenpod_settings.update(LOW_COST)
    s.society_settings.update(lockout_failures=str(LOCKOUT))
    s.write_check_interval = CHECK_INTERVAL
    s.up()
    if not s.hosts_alive():
        pytest.fail("a kenpod did not start; see %s" % s.dir)
    r = subprocess.run([testtool, "hash-password", "--t", "1", "--m", "8192"],
                       input=PASSWORD + "\n", capture_output=True, text=True, env=tool_env,
                       check=True)
    s.pw_hash = r.stdout.strip()
    with open(s.secret_file, "rb") as f:
        s.secret = f.read()
    yield s
    s.down()


@pytest.fixture(autouse=True)
def healthy(msb):
    """Every test starts and ends with both providers and both hosts up and
    replication flowing."""
    for p in msb.providers:
        if not p.alive():
            p.start()
    msb.restore_replication()
    for p in msb.providers:
        if not msb._host_pid(p.n):
            msb.start_host(p.n)
    yield
    msb.restore_replication()
    for p in msb.providers:
        if not p.alive():
            p.start()
    check_kenpod(msb)
    assert msb.hosts_alive(), "a kenpod died; see %s" % msb.dir


# ---- helpers ------------------------------------------------------------------------

def keyed(secret, domain, value):
    """kenpo_keyed_hash_hex: BLAKE2b-256 keyed with the server secret of
    domain, a 0 byte and the value."""
    h = hashlib.blake2b(key=secret, digest_size=32)
    h.update(domain.encode() + b"\0" + value.encode())
    return h.hexdigest()


def gentime(offset=0.0):
    return time.strftime("%Y%m%d%H%M%SZ", time.gmtime(time.time() + offset))


def member_dicts(msb, logins, **kw):
    first = msb.next_uid_number(len(logins))
    return [msb._member(login, first + i, **kw) for i, login in enumerate(logins)]


def add_bulk(msb, ldif):
    """Add on the write provider and wait until the other has it too."""
    msb.ldapadd(ldif)
    msb.wait_converged()


def race(calls):
    """Send each (socket, action, fields) at the same instant, each on its
    own connection; returns the results in order."""
    clients = [kp.Client(sock, timeout=60.0) for sock, _, _ in calls]
    barrier = threading.Barrier(len(calls))
    out = [None] * len(calls)

    def go(i):
        _, action, fields = calls[i]
        barrier.wait()
        out[i] = clients[i].call(action, *fields)[0]

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(calls))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        for c in clients:
            c.close()
    return out


def both_hosts(msb, action, fields_per_host):
    """One call per host, at once: [result on host 1, result on host 2]."""
    return race([(msb.host_socket(h), action, f)
                 for h, f in zip((1, 2), fields_per_host)])


def tally(results, success):
    return sum(1 for r in results if r == success)


@pytest.fixture
def cut(msb):
    """cut(): cut replication for the rest of the test (restored after)."""
    def go():
        msb.cut_replication()
        # A change written now must stay where it was written.
        time.sleep(0.2)
    yield go
    msb.restore_replication()


# ---- what each race needs, made in bulk ------------------------------------------------

def pending_keys(msb, n):
    """n members, each with a pending key (as a password step leaves it);
    returns [(login, txn, key)]."""
    out, ldif = [], []
    logins = [unique("Key.") for _ in range(n)]
    for m in member_dicts(msb, logins):
        key = "%010d" % secrets.randbelow(10 ** 10)
        txn = secrets.token_urlsafe(24)
        extra = [("kenpoMail1", "%s@mail.example.jp" % m["login"].lower().replace(".", "-")),
                 ("kenpoKeyHash", keyed(msb.secret, "key", key)),
                 ("kenpoKeyTxn", keyed(msb.secret, "txn", txn)),
                 ("kenpoKeyExpiry", gentime(600)), ("kenpoKeySentAt", gentime())]
        ldif.append(msb.member_ldif(m, extra))
        out.append((m["login"], txn, key))
    add_bulk(msb, "".join(ldif))
    return out


def token_ldif(msb, text, kind, member_dn, mail):
    h = keyed(msb.secret, "token", text)
    return ks.ldif_entry("kenpoTokenHash=%s,ou=tokens,%s" % (h, ks.SOCIETY_BASE), [
        ("objectClass", "kenpoToken"), ("kenpoTokenHash", h), ("kenpoTokenKind", kind),
        ("kenpoTokenExpiry", gentime(3600)), ("kenpoTokenMail", mail),
        ("kenpoTokenMember", member_dn)])


def reset_links(msb, n):
    """n registered members, each with a reset link mailed; returns the links."""
    out, ldif = [], []
    for m in member_dicts(msb, [unique("Reset.") for _ in range(n)]):
        text = secrets.token_urlsafe(24)
        mail = "%s@mail.example.jp" % m["login"].lower().replace(".", "-")
        ldif.append(msb.member_ldif(m, [("kenpoMail1", mail)]))
        ldif.append(token_ldif(msb, text, "reset", m["dn"], mail))
        out.append(text)
    add_bulk(msb, "".join(ldif))
    return out


def preissued_id():
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    return "".join(secrets.choice(alphabet) for _ in range(6)) + "%02d" % secrets.randbelow(100)


def registration_tickets(msb, n):
    """n members issued by letter, each with a registration ticket (the
    利用者情報入力 form open); returns [(ticket, member dn)]."""
    out, ldif = [], []
    for m in member_dicts(msb, [preissued_id() for _ in range(n)], state="issued"):
        text = secrets.token_urlsafe(24)
        ldif.append(msb.member_ldif(m))
        ldif.append(token_ldif(msb, text, "registration", m["dn"], "%s@new.example.jp" %
                               m["login"].lower()))
        out.append((text, m["dn"]))
    add_bulk(msb, "".join(ldif))
    return out


def reg_fields(ticket, login):
    return (ticket, login, PASSWORD, "%s@new.example.jp" % login.lower().replace(".", "-"), "")


# ---- the races ------------------------------------------------------------------------

class Rounds:
    """What the rounds of one race gave: the rounds without exactly one
    success, how often each host won, and what the loser was answered."""

    def __init__(self, what):
        self.what = what
        self.n = 0
        self.fails = []
        self.wins = [0, 0]
        self.losers = collections.Counter()

    def add(self, got):
        names = [kp.RESULT_NAMES.get(r, str(r)) for r in got]
        if tally(got, kp.OK) != 1:
            self.fails.append((self.n, names))
        else:
            self.wins[got.index(kp.OK)] += 1
            self.losers.update(n for r, n in zip(got, names) if r != kp.OK)
        self.n += 1

    def check(self, figure, rounds):
        refused = ", ".join("%s %d" % kv for kv in sorted(self.losers.items()))
        figure("%s: %d of %d rounds exactly one success (host 1 won %d, host 2 won %d); "
               "the other refused: %s" % (self.what, self.n - len(self.fails), self.n,
                                          self.wins[0], self.wins[1], refused or "-"))
        assert self.n == rounds
        assert not self.fails, "%s: %d of %d rounds without exactly one success, e.g. %s" % (
            self.what, len(self.fails), self.n, self.fails[:5])


def key_rounds(msb, items, what):
    out = Rounds(what)
    for login, txn, key in items:
        out.add(both_hosts(msb, kp.AUTH_KEY, [(login, txn, key, 0)] * 2))
    return out


def reset_rounds(msb, links, what):
    out = Rounds(what)
    for text in links:
        out.add(both_hosts(msb, RESET_OPEN, [(text,)] * 2))
    return out


def ticket_rounds(msb, tickets, prefix, what):
    """The same ticket on both hosts, each with its own new login ID."""
    out = Rounds(what)
    for ticket, _ in tickets:
        out.add(both_hosts(msb, REG_COMPLETE, [reg_fields(ticket, unique(prefix + "A")),
                                               reg_fields(ticket, unique(prefix + "B"))]))
    return out


def login_id_rounds(msb, tickets, prefix, what):
    """Two members at once, one on each host, choosing the same login ID."""
    out = Rounds(what)
    for i in range(0, len(tickets) - 1, 2):
        login = unique(prefix)
        out.add(both_hosts(msb, REG_COMPLETE, [reg_fields(tickets[i][0], login),
                                               reg_fields(tickets[i + 1][0], login)]))
    return out


def assert_no_duplicate_login(msb, prefix):
    """No login ID starting with prefix is held twice, on either provider."""
    import ldap
    msb.wait_converged()
    for n in (1, 2):
        conn = msb.connect_provider(n)
        try:
            res = conn.search_s(ks.SUFFIX, ldap.SCOPE_SUBTREE, "(uid=%s*)" % prefix, ["uid"])
        finally:
            conn.unbind_s()
        ids = [a["uid"][0].decode().lower() for _, a in res]
        dups = sorted({i for i in ids if ids.count(i) > 1})
        assert not dups, "provider %d holds login IDs twice: %s" % (n, dups[:10])


def test_same_key_on_both_hosts(msb, figure):
    key_rounds(msb, pending_keys(msb, ROUNDS), "same key").check(figure, ROUNDS)


def test_same_key_on_both_hosts_replication_cut(msb, cut, figure):
    items = pending_keys(msb, ROUNDS)
    cut()
    key_rounds(msb, items, "same key, replication cut").check(figure, ROUNDS)


def test_same_reset_link_on_both_hosts(msb, figure):
    reset_rounds(msb, reset_links(msb, ROUNDS), "same reset link").check(figure, ROUNDS)


def test_same_reset_link_on_both_hosts_replication_cut(msb, cut, figure):
    links = reset_links(msb, ROUNDS)
    cut()
    reset_rounds(msb, links, "same reset link, replication cut").check(figure, ROUNDS)


def test_same_ticket_on_both_hosts(msb, figure):
    prefix = unique("Tk") + "."
    got = ticket_rounds(msb, registration_tickets(msb, ROUNDS), prefix, "same ticket")
    got.check(figure, ROUNDS)
    assert_no_duplicate_login(msb, prefix)


def test_same_ticket_on_both_hosts_replication_cut(msb, cut, figure):
    prefix = unique("Tc") + "."
    tickets = registration_tickets(msb, ROUNDS)
    cut()
    got = ticket_rounds(msb, tickets, prefix, "same ticket, replication cut")
    msb.restore_replication()
    got.check(figure, ROUNDS)
    assert_no_duplicate_login(msb, prefix)


def test_same_login_id_on_both_hosts(msb, figure):
    prefix = unique("Id") + "."
    tickets = registration_tickets(msb, 2 * ROUNDS)
    login_id_rounds(msb, tickets, prefix, "same new login ID").check(figure, ROUNDS)
    assert_no_duplicate_login(msb, prefix)


def test_same_login_id_on_both_hosts_replication_cut(msb, cut, figure):
    prefix = unique("Ic") + "."
    tickets = registration_tickets(msb, 2 * ROUNDS)
    cut()
    got = login_id_rounds(msb, tickets, prefix, "same new login ID, replication cut")
    msb.restore_replication()
    got.check(figure, ROUNDS)
    assert_no_duplicate_login(msb, prefix)


# ---- wrong passwords --------------------------------------------------------------------

def lockout_members(msb, n):
    """n members with a password, on both providers (a locked login ends
    before any key)."""
    ms = member_dicts(msb, [unique("Lock.") for _ in range(n)])
    add_bulk(msb, "".join(msb.member_ldif(m, [("userPassword", msb.pw_hash)]) for m in ms))
    return ms


def lockout_rounds(msb, ms):
    """For each member, LOCKOUT wrong passwords at once, spread over both
    hosts, then the right one.  Returns the rounds where a failure was not
    counted or no lock came."""
    fails = []
    for i, m in enumerate(ms):
        calls = [(msb.host_socket(1 + (i + j) % 2), kp.AUTH_PASSWORD,
                  (m["login"], WRONG, 0, "kenpo-test", "")) for j in range(LOCKOUT)]
        got = race(calls)
        with kp.Client(msb.host_socket(1 + i % 2)) as c:
            after = c.auth_password(m["login"], PASSWORD)["name"]
        if tally(got, kp.AUTH_ERR) != LOCKOUT or after != "LOCKED":
            fails.append((i, [kp.RESULT_NAMES.get(r, r) for r in got], after))
    return fails


def failures_recorded(msb, ms):
    """{login: kenpoAuthFailures} as both providers agree on it."""
    msb.wait_converged()
    conn = msb.connect_provider(1)
    try:
        import ldap
        out = {}
        for m in ms:
            res = conn.search_s(m["dn"], ldap.SCOPE_BASE, "(objectClass=*)",
                                ["kenpoAuthFailures"])
            out[m["login"]] = int(res[0][1].get("kenpoAuthFailures", [b"0"])[0])
    finally:
        conn.unbind_s()
    return out


def lockout_figure(figure, what, ms, fails, counts):
    counted = sum(counts.values())
    figure("%s: %d members, %d wrong passwords each at once over both hosts: %d of %d "
           "counted, %d of %d locked at %d" % (
               what, len(ms), LOCKOUT, counted, LOCKOUT * len(ms), len(ms) - len(fails),
               len(ms), LOCKOUT))


def test_wrong_passwords_on_both_hosts_all_count(msb, figure):
    ms = lockout_members(msb, max(10, ROUNDS // 5))
    fails = lockout_rounds(msb, ms)
    counts = failures_recorded(msb, ms)
    lockout_figure(figure, "wrong passwords", ms, fails, counts)
    assert not fails, "%d of %d members: a failure not counted or no lock: %s" % (
        len(fails), len(ms), fails[:5])
    assert set(counts.values()) == {LOCKOUT}, counts


def test_wrong_passwords_on_both_hosts_replication_cut(msb, cut, figure):
    ms = lockout_members(msb, max(10, ROUNDS // 5))
    cut()
    fails = lockout_rounds(msb, ms)
    msb.restore_replication()
    counts = failures_recorded(msb, ms)
    lockout_figure(figure, "wrong passwords, replication cut", ms, fails, counts)
    assert not fails, "%d of %d members: a failure not counted or no lock: %s" % (
        len(fails), len(ms), fails[:5])
    assert set(counts.values()) == {LOCKOUT}, counts


# ---- imports ------------------------------------------------------------------------

def admin_on_host(msb, builddir, host, *args):
    """kenpo-admin as run on host `host`: with that host's kenpod.conf."""
    conf = msb.kenpod_conf if host == 1 else os.path.join(msb.dir, "kenpod-h%d.conf" % host)
    argv = [os.path.join(builddir, "kenpo-admin"), "-c", conf, "-D", ks.ADMIN_DN,
            "-y", msb.admin_pw_file] + list(args)
    env = dict(os.environ, LDAPNOINIT="1")
    env.pop("LOCPATH", None)
    env["LSAN_OPTIONS"] = "suppressions=%s" % os.path.join(ks.srcdir(), "tests", "lsan.supp")
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            text=True)


def roster(path, prefix, n):
    with open(path, "w", encoding="utf-8") as f:
        f.write("member_number,name,birth_date,mail,household\n")
        for i in range(n):
            f.write("%s%04d,東洋 太郎,1980-04-%02d,%s%d@imp.example.jp,\n" % (
                prefix, i, 1 + i % 28, prefix.lower(), i))
    return str(path)


def imports_on_both_hosts(msb, builddir, tmp_path, n=40):
    tag = unique("I").upper().replace(".", "")
    paths = [roster(tmp_path / ("%s-%d.csv" % (tag, h)), "%sH%d" % (tag, h), n) for h in (1, 2)]
    procs = [admin_on_host(msb, builddir, h, "--json", "--window", "4", "import", p,
                           "--no-letters") for h, p in zip((1, 2), paths)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert not any(m in err for m in ks.SANITIZER_MARKERS), err
        assert p.returncode == 0 and json.loads(out)["new"] == n, err + out[:2000]
    return tag


def uid_numbers(msb, n, filt):
    """[(member number, uidNumber)] of the entries matching filt on provider n."""
    import ldap
    conn = msb.connect_provider(n)
    try:
        res = conn.search_s(ks.SUFFIX, ldap.SCOPE_SUBTREE, filt,
                            ["uidNumber", "kenpoMemberNumber"])
    finally:
        conn.unbind_s()
    return [(a.get("kenpoMemberNumber", [b""])[0].decode(), int(a["uidNumber"][0]))
            for _, a in res if "uidNumber" in a]


def assert_no_uid_twice(msb, tag, n, figure, what):
    """Every member imported under tag holds a uidNumber that no other
    entry holds, on both providers."""
    msb.wait_converged()
    for p in (1, 2):
        mine = uid_numbers(msb, p, "(kenpoMemberNumber=%s*)" % tag)
        everyone = [u for _, u in uid_numbers(msb, p, "(uidNumber=*)")]
        twice = sorted({u for _, u in mine if everyone.count(u) > 1})
        if p == 1:
            figure("%s: %d members from two imports at once, one on each host: %d "
                   "uidNumbers held twice" % (what, len(mine), len(twice)))
        assert len(mine) == 2 * n, "provider %d: %d of %d imported members" % (
            p, len(mine), 2 * n)
        assert not twice, "provider %d: uidNumbers given twice: %s" % (p, twice[:10])


def test_imports_on_both_hosts_never_share_a_uid(msb, builddir, tmp_path, figure):
    tag = imports_on_both_hosts(msb, builddir, tmp_path)
    assert_no_uid_twice(msb, tag, 40, figure, "imports")


def test_imports_on_both_hosts_replication_cut(msb, builddir, tmp_path, cut, figure):
    cut()
    tag = imports_on_both_hosts(msb, builddir, tmp_path)
    msb.restore_replication()
    assert_no_uid_twice(msb, tag, 40, figure, "imports, replication cut")


# ---- the write provider goes away and comes back ----------------------------------------

def switch_lines(msb, host, uri):
    """Lines of host's log that say it now writes to uri."""
    with open(msb.host_log(host), errors="replace") as f:
        return [line for line in f if "write provider is now %s " % uri in line]


def wait_for(pred, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(step)


def key_mailed(msb, address, timeout=10.0):
    """The key in the newest mail to address, once it has come."""
    assert wait_for(lambda: any(address in x.kenpo_to for x in msb.mails()), timeout), \
        "no key mailed to %s" % address
    sent = [x for x in msb.mails() if address in x.kenpo_to]
    return KEY_RE.findall(sent[-1].kenpo_body)[0]


def key_member(msb, prefix):
    """A member with a password and an address for the key."""
    m = member_dicts(msb, [unique(prefix)])[0]
    m["mail"] = "%s@mail.example.jp" % m["login"].lower().replace(".", "-")
    return m, msb.member_ldif(m, [("userPassword", msb.pw_hash), ("kenpoMail1", m["mail"])])


def test_write_provider_killed_mid_login(msb, figure):
    m, ldif = key_member(msb, "Fail.Over")
    other, other_ldif = key_member(msb, "Fail.Two")
    login, mail = m["login"], m["mail"]
    add_bulk(msb, ldif + other_ldif)
    p1_from = {h: msb.uri_from_host(h, 1) for h in (1, 2)}
    p2_from = {h: msb.uri_from_host(h, 2) for h in (1, 2)}
    before = {h: len(switch_lines(msb, h, p2_from[h])) for h in (1, 2)}
    with kp.Client(msb.host_socket(2)) as c:
        a = c.auth_password(login, PASSWORD)
    assert a["name"] == "KEY_SENT", a
    sent = [x for x in msb.wait_for_mail(1) if mail in x.kenpo_to]
    key = KEY_RE.findall(sent[-1].kenpo_body)[0]
    msb.wait_converged()
    # The key is stored; now the write provider dies before it is answered.
    msb.provider(1).stop(kill=True)
    t0 = time.monotonic()
    got = "UNAVAIL"
    while got == "UNAVAIL" and time.monotonic() - t0 < 5.0:
        with kp.Client(msb.host_socket(2), timeout=10) as c:
            got = c.auth_key(login, a["txn"], key)["name"]
    took = time.monotonic() - t0
    assert got == "OK" and took <= 5.0, (got, took)
    with kp.Client(msb.host_socket(2)) as c:
        assert c.auth_key(login, a["txn"], key)["name"] == "AUTH_ERR"    # used once
    # Host 1 writes to provider 2 now too: a whole login there succeeds,
    # its key stored and used there.
    with kp.Client(msb.host_socket(1)) as c:
        a = c.auth_password(other["login"], PASSWORD)
        assert a["name"] == "KEY_SENT", a
        key = key_mailed(msb, other["mail"])
        assert c.auth_key(other["login"], a["txn"], key)["name"] == "OK"
        assert c.session_open(other["login"])["name"] == "OK"
    for h in (1, 2):
        assert len(switch_lines(msb, h, p2_from[h])) > before[h], \
            "host %d did not log its switch to provider 2" % h
    msb.failover_seconds = took
    # Provider 1 returns: both hosts go back to it within the interval
    # (and the time provider 1 needs to catch up).
    back = {h: len(switch_lines(msb, h, p1_from[h])) for h in (1, 2)}
    msb.provider(1).start()
    t1 = time.monotonic()
    for h in (1, 2):
        assert wait_for(lambda: len(switch_lines(msb, h, p1_from[h])) > back[h],
                        CHECK_INTERVAL + 10.0), "host %d did not fail back" % h
    msb.failback_seconds = time.monotonic() - t1
    figure("write provider killed mid-login: the login completed on the other after %.2f s; "
           "both hosts logged their switch back %.2f s after it returned "
           "(write_failback_interval %d s)" % (took, msb.failback_seconds, CHECK_INTERVAL))
    msb.wait_converged()
    # What was written on provider 2 meanwhile is on provider 1 too.
    assert "kenpoLastLogin" in msb.entry(other["dn"], "kenpoLastLogin")


# ---- the shipped replication configuration ------------------------------------------------

def test_replication_converges_after_outage(msb, cut, figure):
    """Writes on both providers while they cannot see each other, of every
    kind (adds, modifies of one entry on both sides, deletes, a delete on
    one side of what the other modifies): once the link is back, both hold
    the same entries in the same versions."""
    import ldap
    import ldap.modlist
    pre = member_dicts(msb, [unique("Conv.") for _ in range(5)])
    add_bulk(msb, "".join(msb.member_ldif(m) for m in pre))
    cut()
    c1, c2 = msb.connect_provider(1), msb.connect_provider(2)
    try:
        for conn, tag in ((c1, "one"), (c2, "two")):
            for m in member_dicts(msb, [unique("Conv.%s." % tag) for _ in range(3)]):
                conn.add_s(m["dn"], ldap.modlist.addModlist({
                    "objectClass": [b"inetOrgPerson", b"kenpoMember"],
                    "kenpoMemberNumber": [m["number"].encode()],
                    "kenpoState": [b"issued"], "cn": [b"x"], "sn": [b"x"]}))
        c1.modify_s(pre[0]["dn"], [(ldap.MOD_REPLACE, "kenpoNickname", [b"one"])])
        c2.modify_s(pre[0]["dn"], [(ldap.MOD_REPLACE, "kenpoNickname", [b"two"])])
        c1.delete_s(pre[1]["dn"])
        c2.delete_s(pre[2]["dn"])
        c1.delete_s(pre[3]["dn"])
        c2.modify_s(pre[3]["dn"], [(ldap.MOD_REPLACE, "kenpoNickname", [b"late"])])
    finally:
        c1.unbind_s()
        c2.unbind_s()
    assert not msb.converged()
    msb.restore_replication()
    took = msb.wait_converged(30)
    assert msb.entry(pre[1]["dn"]) == {} and msb.entry(pre[2]["dn"]) == {}
    assert msb.entry(pre[0]["dn"], "kenpoNickname")["kenpoNickname"] == ["two"]
    msb.converge_seconds = took
    figure("replication restored after writes on both sides: providers equal after %.2f s"
           % took)


def test_shipped_ldif_matches_the_sandbox(msb, builddir):
    """The shipped topology configures what the one-provider sandbox does:
    the same indexes and ACLs (plus the replication account), the same
    overlays except dds, the access log, and no session log (test above)."""
    import ldap
    conn = ldap.initialize(msb.provider(2).ldapi_uri)
    conn.sasl_external_bind_s()
    try:
        db = conn.search_s("olcDatabase={1}mdb,cn=config", ldap.SCOPE_BASE,
                           "(objectClass=*)", ["olcDbIndex", "olcAccess"])[0][1]
        ovs = conn.search_s("olcDatabase={1}mdb,cn=config", ldap.SCOPE_ONELEVEL,
                            "(objectClass=olcOverlayConfig)")
    finally:
        conn.unbind_s()
    indexes = {v.decode() for v in db["olcDbIndex"]}
    assert indexes == set(ks.INDEXES)
    acl = [re.sub(r"^\{\d+\}", "", v.decode()) for v in db["olcAccess"]]
    one = ks.Sandbox(msb.dir)._mdb_attrs("x", msb.manager_dn)
    want = [v for k, v in one if k == "olcAccess"]
    want = [re.sub(r"^\{\d+\}", "", v) for v in want]
    want[0] = want[0].replace(" by * break", ' by dn.exact="%s" read by * break'
                              % kenpomulti.REPLICATOR_DN)
    assert acl == want
    names = sorted(re.sub(r"^\{\d+\}", "", a["olcOverlay"][0].decode()) for _, a in ovs)
    assert names == ["accesslog", "ppolicy", "syncprov", "unique"]
    assert all(b"olcSpSessionLog" not in str(a).encode() for _, a in ovs)
    # kenpo-admin init, which knows what kenpo needs, finds nothing missing.
    r = subprocess.run([os.path.join(builddir, "kenpo-admin"), "-c", msb.kenpod_conf, "-H",
                        msb.provider(2).ldapi_uri, "init"], capture_output=True, text=True,
                       env=dict(os.environ, LDAPNOINIT="1"))
    assert r.returncode == 0 and "changetype" not in r.stdout, r.stdout + r.stderr


def test_sandbox_command_line(builddir, srcdir, new_sandbox_dir):
    """tests/sandbox up --providers 2 DIR, status and down."""
    d = os.path.join(new_sandbox_dir, "two")
    env = dict(os.environ, KENPO_BUILDDIR=builddir, KENPO_SRCDIR=srcdir)
    cmd = [ks.PYTHON, os.path.join(srcdir, "tests", "sandbox")]
    r = subprocess.run(cmd + ["up", "--providers", "2", d], capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.returncode == 0, r.stderr + r.stdout
    try:
        with open(os.path.join(d, "env")) as f:
            e = dict(line.strip().split("=", 1) for line in f if "=" in line and
                     not line.startswith("#"))
        for sock in (e["KENPOD1_SOCKET"], e["KENPOD2_SOCKET"]):
            with kp.Client(sock.strip("'")) as c:
                assert c.ping()[0] == kp.OK
        st = subprocess.run(cmd + ["status", d], capture_output=True, text=True, env=env)
        assert st.returncode == 0 and st.stdout.count("running") == 3, st.stdout
        with open(os.path.join(d, "kenpod-h2.pid")) as f:
            host2 = int(f.read())
    finally:
        r = subprocess.run(cmd + ["down", d], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    # Host 2's kenpod, started by another process, is gone too.
    assert wait_for(lambda: d.encode() not in b" ".join(ks._cmdline(host2)), 5.0), \
        "host 2's kenpod still runs"
    st = subprocess.run(cmd + ["status", d], capture_output=True, text=True, env=env)
    assert st.returncode == 3, st.stdout


# ---- kenpo-admin check ----------------------------------------------------------------

def check(msb, builddir, n, *args):
    """kenpo-admin check against provider n: (exit status, output)."""
    argv = [os.path.join(builddir, "kenpo-admin"), "-H", msb.provider(n).ldapi_uri,
            "-D", ks.ADMIN_DN, "-y", msb.admin_pw_file, "-b", ks.SOCIETY_BASE] + list(args) + \
        ["check"]
    env = dict(os.environ, LDAPNOINIT="1")
    env["LSAN_OPTIONS"] = "suppressions=%s" % os.path.join(ks.srcdir(), "tests", "lsan.supp")
    r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert not any(m in r.stderr for m in ks.SANITIZER_MARKERS), r.stderr
    return r.returncode, r.stdout, r.stderr


def findings(out, kind):
    return [p for p in json.loads(out)["problems"] if p["kind"] == kind]


def test_check_finds_and_repairs_what_a_split_leaves(msb, builddir, cut):
    """While replication is cut, both providers take what only one may:
    the same login ID (in another case) and the same uidNumber for two
    members, and a household added under a member deleted on the other
    side.  Once replicated, `kenpo-admin check` finds all of it on both
    providers and its repairs clear it."""
    keep, gone = member_dicts(msb, [unique("Chk.Keep"), unique("Chk.Gone")])
    add_bulk(msb, msb.member_ldif(keep) + msb.member_ldif(gone))
    uid = msb.next_uid_number()
    login = unique("Chk.Same")
    one = msb._member(login, uid, number=unique("CHKONE").replace(".", ""))
    two = msb._member(login.upper(), uid, number=unique("CHKTWO").replace(".", ""))
    house = "kenpoHouseholdIndex=01," + gone["dn"]
    cut()
    msb.provider_ldap(1, "ldapadd", msb.member_ldif(one))
    msb.provider_ldap(2, "ldapadd", msb.member_ldif(two))
    msb.provider_ldap(1, "ldapdelete", gone["dn"] + "\n")
    msb.provider_ldap(2, "ldapadd", ks.ldif_entry(house, [
        ("objectClass", "kenpoHouseholdMember"), ("kenpoHouseholdIndex", "01"),
        ("cn", "山田 次郎")]))
    msb.restore_replication()
    msb.wait_converged()
    for n in (1, 2):
        rc, out, err = check(msb, builddir, n, "--json")
        assert rc == 6, err + out
        logins = [p for p in findings(out, "duplicate-login-id")
                  if p["what"].lower().startswith("login id %s " % login.lower())]
        assert len(logins) == 1 and {e["dn"] for e in logins[0]["entries"]} == \
            {one["dn"], two["dn"]}, out
        uids = [p for p in findings(out, "duplicate-uid-number")
                if p["what"].startswith("uidNumber %d " % uid)]
        assert len(uids) == 1 and len(uids[0]["entries"]) == 2, out
        houses = [p for p in findings(out, "household-without-member") if house in p["what"]]
        assert len(houses) == 1 and "ldapdelete" in houses[0]["repair"], out
        assert "kenpo-admin reissue --by number" in logins[0]["repair"]
    rc, text, _ = check(msb, builddir, 1)
    assert rc == 6 and "duplicate-login-id: login ID" in text and "repair:" in text
    # The repairs, as check says them, on the write provider.
    ldif = re.search(r"ldapmodify <<EOF\n(.*?)EOF", logins[0]["repair"], re.S).group(1)
    msb.provider_ldap(1, "ldapmodify", ldif)
    later = sorted(uids[0]["entries"], key=lambda e: e["created"])[1]["dn"]
    fresh = msb.next_uid_number()
    msb.provider_ldap(1, "ldapmodify", "dn: %s\nchangetype: modify\nreplace: uidNumber\n"
                      "uidNumber: %d\n" % (later, fresh))
    msb.provider_ldap(1, "ldapdelete", house + "\n")
    assert "ldapdelete -M '%s'" % gone["dn"] in houses[0]["repair"]
    msb.provider_ldap(1, "ldapdelete", "-M", gone["dn"] + "\n")
    msb.wait_converged()
    for n in (1, 2):
        _, out, _ = check(msb, builddir, n, "--json")
        about = [p for p in json.loads(out)["problems"]
                 if login.lower() in p["what"].lower() or "uidNumber %d " % uid in p["what"]
                 or house in p["what"]]
        assert about == [], about


def test_check_counter_behind(msb, builddir):
    """A uidNumber counter that two providers moved on independently can
    end behind the numbers in use; check says so and how far to move it."""
    counter = "cn=uidNumber," + ks.SOCIETY_BASE
    in_use = max(u for _, u in uid_numbers(msb, 1, "(uidNumber=*)"))
    old = int(msb.entry(counter, "kenpoNextUid")["kenpoNextUid"][0])
    msb.provider_ldap(1, "ldapmodify", "dn: %s\nchangetype: modify\nreplace: kenpoNextUid\n"
                      "kenpoNextUid: %d\n" % (counter, in_use))
    try:
        msb.wait_converged()
        rc, out, _ = check(msb, builddir, 2, "--json")
        behind = findings(out, "counter-behind")
        assert rc == 6 and len(behind) == 1, out
        assert "kenpoNextUid: %d" % (in_use + 1) in behind[0]["repair"]
    finally:
        msb.provider_ldap(1, "ldapmodify", "dn: %s\nchangetype: modify\nreplace: "
                          "kenpoNextUid\nkenpoNextUid: %d\n" % (counter, max(old, in_use + 1)))


def test_check_clean_directory(builddir, new_sandbox_dir):
    """A directory with nothing to repair: exit 0 and "0 problems"."""
    sb = ks.Sandbox(new_sandbox_dir, builddir=builddir)
    sb.up()
    try:
        m = sb.add_member("Clean.One")
        sb.add_household_member(m["dn"], "01", nickname="家族")
        argv = [os.path.join(builddir, "kenpo-admin"), "-H", sb.ldapi_uri, "-D", ks.ADMIN_DN,
                "-y", sb.admin_pw_file, "-b", ks.SOCIETY_BASE]
        env = dict(os.environ, LDAPNOINIT="1")
        r = subprocess.run(argv + ["check"], capture_output=True, text=True, env=env)
        assert r.returncode == 0 and r.stdout.startswith("0 problems in dc=kenpo,dc=test"), \
            r.stdout + r.stderr
        r = subprocess.run(argv + ["--json", "check"], capture_output=True, text=True, env=env)
        j = json.loads(r.stdout)
        assert r.returncode == 0 and j["problems"] == [] and j["checked"]["households"] == 1
    finally:
        sb.down()


def test_no_failover_refuses_rather_than_write_elsewhere(msb):
    """write_failover = no: with the first provider gone, logins and
    self-service are refused ("unavailable") while passwd lookups, which
    any replica answers, go on; when it is back, logins work again."""
    m, ldif = key_member(msb, "No.Fail")
    add_bulk(msb, ldif)
    msb.restart_hosts(write_failover="no")
    switches = len(switch_lines(msb, 2, msb.uri_from_host(2, 2)))
    try:
        msb.provider(1).stop(kill=True)
        for h in (1, 2):
            with kp.Client(msb.host_socket(h)) as c:
                assert c.auth_password(m["login"], PASSWORD)["name"] == "UNAVAIL"
                assert c.byname(m["login"])[0] == kp.OK
        assert len(switch_lines(msb, 2, msb.uri_from_host(2, 2))) == switches
        msb.provider(1).start()
        with kp.Client(msb.host_socket(2)) as c:
            a = {}

            def answered():
                a.update(c.auth_password(m["login"], PASSWORD))
                return a["name"] != "UNAVAIL"
            assert wait_for(answered, 10.0), "no login after the first provider came back"
            assert a["name"] == "KEY_SENT", a
            key = key_mailed(msb, m["mail"])
            assert c.auth_key(m["login"], a["txn"], key)["name"] == "OK"
    finally:
        for p in msb.providers:
            if not p.alive():
                p.start()
        for h in (1, 2):
            msb.host_settings[h].pop("write_failover", None)
        msb.restart_hosts()
