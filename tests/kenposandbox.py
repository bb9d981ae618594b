"""A throwaway OpenLDAP directory and mail sink for kenpo, in one directory.

`Sandbox(dir).up()` builds a private cn=config (slapadd -n0) with kenpo's
schema, the ppolicy, unique, dds and argon2 modules and the ACLs kenpod
expects, loads a base with one society (ou=toyobo), starts slapd on an
ldapi socket inside the directory and on a free 127.0.0.1 port, and starts
an aiosmtpd mail sink that stores every message as DIR/mail/<seq>-<time>.eml.
When kenpod is built ($KENPO_BUILDDIR/kenpod, the build directory defaulting
to the current one), it is started too, in the foreground, with
DIR/kenpod.conf and the socket DIR/kenpod.sock; its stderr (its log, and any
sanitizer report) goes to DIR/kenpod.log.  DIR/env then holds
shell-sourceable KEY=value lines describing it all, including what
libnss_kenpo needs (LD_LIBRARY_PATH, KENPO_SOCKET).

Nothing here touches /etc or the system's slapd: every file lives in DIR,
the standard schemas are only read from /etc/ldap/schema, and no fixed port
is used.  It works as root and as an ordinary user.

The command-line front end is tests/sandbox; the integration tests import
this module.  Debian's python3-ldap and python3-aiosmtpd only import under
/usr/bin/python3, which is what both are run with.
"""

import base64
import contextlib
import email
import email.policy
import glob
import hashlib
import json
import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import sys
import time
import urllib.parse

PYTHON = "/usr/bin/python3"
SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
MODULE_DIR = "/usr/lib/ldap"
SYSTEM_SCHEMA_DIR = "/etc/ldap/schema"
SYSTEM_SCHEMAS = ("core", "cosine", "nis", "inetorgperson")
MODULES = ("back_mdb", "ppolicy", "unique", "argon2", "dds", "syncprov", "accesslog")

SUFFIX = "dc=kenpo,dc=test"
ADMIN_DN = "cn=admin," + SUFFIX
ACCESSLOG_SUFFIX = "cn=accesslog"
KENPOD_DN = "cn=kenpod,ou=services," + SUFFIX
POLICY_DN = "cn=default,ou=policies," + SUFFIX
SERVICE_POLICY_DN = "cn=services,ou=policies," + SUFFIX
SOCIETY_ID = "toyobo"
SOCIETY_NAME = "東洋紡健康保険組合"
SOCIETY_BASE = "ou=%s,%s" % (SOCIETY_ID, SUFFIX)
UID_MIN = 100000

# The attributes kenpod looks entries up by; each is an equality index so
# that no login, token check or identity check scans the whole directory.
INDEXES = (
    "objectClass eq",
    "uid eq",
    "uidNumber eq",
    "gidNumber eq",
    "kenpoMemberNumber eq",
    "kenpoState eq",
    "kenpoMail1 eq",
    "kenpoMail2 eq",
    "kenpoMail3 eq",
    "kenpoRosterMail eq",
    "kenpoDateOfBirth eq",
    "kenpoTokenHash eq",
    "kenpoTokenKind eq",
    "kenpoTokenMail eq",
    "kenpoTokenMember eq",
    "kenpoRateKey eq",
    "entryCSN eq",
    "entryUUID eq",
    "entryExpireTimestamp eq",
)

STOP_GRACE = 5.0
READY_TIMEOUT = 15.0
# What a sanitizer build of kenpod writes to stderr when it finds a bug.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
# What kenpod logs when an answer of its own does not match the protocol
# table (src/kenpod/answer.c; sanitizer builds abort instead): a bug too.
KENPOD_BUG_MARKERS = SANITIZER_MARKERS + ("does not match the protocol table",)
MEMBER_GID = 100
UP_BUDGET = 2.0  # seconds; `up` warns when slower


class SandboxError(Exception):
    """Something in the sandbox could not be done; the message says what."""


def default_builddir():
    """The build tree: $KENPO_BUILDDIR, else the current directory."""
    env = os.environ.get("KENPO_BUILDDIR")
    return os.path.abspath(env) if env else os.getcwd()


def srcdir():
    """The source tree: $KENPO_SRCDIR, else the parent of tests/."""
    env = os.environ.get("KENPO_SRCDIR")
    if env:
        return os.path.abspath(env)
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---- schema: kenpo.schema (slapd.conf form) -> kenpo.ldif (cn=config) ----

_DEF_RE = re.compile(r"^(attributetype|objectclass)\s+\(", re.IGNORECASE)


def parse_schema(text):
    """Split a slapd.conf-style schema into its definitions.

    Returns a list of (keyword, oid, names, body) where keyword is
    "attributetype" or "objectclass" and body is the definition with its
    whitespace collapsed, starting at "(".  Comments and blank lines are
    dropped; continuation lines start with white space (slapd.conf rules).
    """
    stmts = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0] in " \t":
            if not stmts:
                raise SandboxError("schema: continuation line before any definition")
            stmts[-1] += " " + line.strip()
        else:
            stmts.append(line.strip())
    defs = []
    for st in stmts:
        m = _DEF_RE.match(st)
        if not m:
            raise SandboxError("schema: unexpected statement: %.60s" % st)
        body = " ".join(st[m.end() - 1:].split())
        oid = body[1:].split()[0]
        names = re.findall(r"NAME\s+(?:'([^']+)'|\(\s*((?:'[^']+'\s*)+)\))", body)
        flat = []
        for single, multi in names:
            flat.extend([single] if single else re.findall(r"'([^']+)'", multi))
        defs.append((m.group(1).lower(), oid, flat, body))
    return defs


_CLAUSES = ("NAME", "DESC", "OBSOLETE", "SUP", "EQUALITY", "ORDERING", "SUBSTR",
            "SYNTAX", "SINGLE-VALUE", "COLLECTIVE", "NO-USER-MODIFICATION",
            "USAGE", "ABSTRACT", "STRUCTURAL", "AUXILIARY", "MUST", "MAY")


_TOKEN_RE = re.compile(r"'[^']*'|[()]|[^\s()]+")


def _fold_definition(body):
    """One clause a line, as OpenLDAP's own schema LDIFs are laid out."""
    lines = []
    for tok in _TOKEN_RE.findall(body):
        kind_after_sup = tok in ("STRUCTURAL", "AUXILIARY", "ABSTRACT") and \
            lines and lines[-1][0] == "SUP"
        if tok in _CLAUSES and len(lines) > 0 and not kind_after_sup:
            lines.append([tok])
        elif lines:
            lines[-1].append(tok)
        else:
            lines.append([tok])
    out = []
    for words in lines:
        # Long MUST/MAY lists wrap after a "$", indented under the clause.
        cur = ""
        for w in words:
            if cur and len(cur) + 1 + len(w) > 72 and cur.endswith("$"):
                out.append(cur)
                cur = "     " + w
            else:
                cur = (cur + " " + w) if cur else w
        out.append(cur)
    return out


def schema_to_ldif(text, cn="kenpo"):
    """The cn=config form of a slapd.conf-style schema, as LDIF text."""
    lines = [
        "# kenpo.ldif - kenpo's directory schema for cn=config.",
        "# GENERATED from kenpo.schema by `tests/sandbox schema-ldif`; edit that file.",
        "# Load: ldapadd -Y EXTERNAL -H ldapi:/// -f kenpo.ldif",
        "dn: cn=%s,cn=schema,cn=config" % cn,
        "objectClass: olcSchemaConfig",
        "cn: %s" % cn,
    ]
    for kind, _oid, _names, body in parse_schema(text):
        attr = "olcAttributeTypes" if kind == "attributetype" else "olcObjectClasses"
        parts = _fold_definition(body)
        lines.append("%s: %s" % (attr, parts[0]))
        lines.extend("  " + p for p in parts[1:])
    return "\n".join(lines) + "\n"


def parse_ldif_schema(text):
    """Definitions of a cn=schema LDIF: list of (keyword, oid, names, body)."""
    unfolded = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if line.startswith(" ") and unfolded:
            unfolded[-1] += line[1:]
        else:
            unfolded.append(line)
    defs = []
    for line in unfolded:
        attr, _, value = line.partition(":")
        kind = {"olcattributetypes": "attributetype",
                "olcobjectclasses": "objectclass"}.get(attr.lower())
        if kind is None:
            continue
        value = re.sub(r"^\s*\{\d+\}", "", value.strip())
        fake = "%s %s" % (kind, value)
        defs.extend(parse_schema(fake))
    return defs


# ---- small helpers --------------------------------------------------------

def _ssha(password):
    """{SSHA} of a password for slapd.

    The sandbox's own accounts (rootdn, kenpod) get long random passwords, so
    a fast salted hash is enough for them and keeps `up` quick; members'
    passwords are {ARGON2}, made by kenpo.
    """
    salt = secrets.token_bytes(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def _ldif_value(name, value):
    """One LDIF attribute line, base64 when the value is not safe ASCII."""
    if isinstance(value, bytes):
        raw = value
    else:
        raw = str(value).encode("utf-8")
    safe = (raw and all(0x20 <= b < 0x7f for b in raw)
            and raw[:1] not in (b" ", b":", b"<") and not raw.endswith(b" "))
    if safe:
        return "%s: %s" % (name, raw.decode("ascii"))
    return "%s:: %s" % (name, base64.b64encode(raw).decode("ascii"))


def ldif_entry(dn, attrs):
    """LDIF text of one entry; attrs is a list of (name, value) pairs."""
    lines = [_ldif_value("dn", dn)]
    lines.extend(_ldif_value(n, v) for n, v in attrs)
    return "\n".join(lines) + "\n\n"


_kenpoproto_copy = None


def kenpoproto_for_others():
    """A directory any user may read, holding a copy of kenpoproto.py and
    the protocol header it parses (at the same relative place): a test that
    runs the client as another user must not need that user to read the
    source tree, which may be in root's home (mode 0700).  Put it first on
    the other process's sys.path.  Made once per process."""
    global _kenpoproto_copy
    if _kenpoproto_copy is None:
        top = tempfile.mkdtemp(prefix="kenpoproto-")
        os.makedirs(os.path.join(top, "tests"))
        os.makedirs(os.path.join(top, "src", "common"))
        shutil.copyfile(os.path.join(srcdir(), "tests", "kenpoproto.py"),
                        os.path.join(top, "tests", "kenpoproto.py"))
        shutil.copyfile(os.path.join(srcdir(), "src", "common", "kenpo-proto.h"),
                        os.path.join(top, "src", "common", "kenpo-proto.h"))
        for d, dirs, files in os.walk(top):
            os.chmod(d, 0o755)
            for f in files:
                os.chmod(os.path.join(d, f), 0o644)
        _kenpoproto_copy = top
    return os.path.join(_kenpoproto_copy, "tests")


_readable_copies = {}


def readable_copy(path):
    """A copy of the file or directory path in a directory any user may
    read, for a program run as another user (the build and source trees
    may be in root's home, mode 0700).  Made once per path and process."""
    path = os.path.abspath(path)
    if path not in _readable_copies:
        top = tempfile.mkdtemp(prefix="kenpo-copy-")
        dest = os.path.join(top, os.path.basename(path))
        if os.path.isdir(path):
            shutil.copytree(path, dest)
        else:
            shutil.copy2(path, dest)
        for d, dirs, files in os.walk(top):
            os.chmod(d, 0o755)
            for f in files:
                full = os.path.join(d, f)
                os.chmod(full, 0o755 if os.access(full, os.X_OK) else 0o644)
        _readable_copies[path] = dest
    return _readable_copies[path]


def asan_runtime(path):
    """The AddressSanitizer runtime a binary links (a sanitizer build), or
    None: it must come first in LD_PRELOAD."""
    r = subprocess.run(["ldd", path], capture_output=True, text=True)
    m = re.search(r"^\s*libasan\.so\S*\s+=>\s+(\S+)", r.stdout, re.MULTILINE)
    return m.group(1) if m else None


def _free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now (never 389)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in (389, 636):
            return port


def _write_secret(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


def _proc_state(pid):
    """'R', 'S', 'Z', ... for a live pid, None if there is no such process."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name is in parentheses and may contain spaces.
    return stat[stat.rindex(b")") + 2:][:1].decode()


def _pid_alive(pid):
    """True while pid is a running (not zombie) process; reaps our own children."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    state = _proc_state(pid)
    return state is not None and state != "Z"


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def processes_of(dirpath):
    """Live pids whose command line mentions dirpath (slapd, mail sink)."""
    key = os.path.abspath(dirpath).encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        if pid == os.getpid():
            continue
        args = _cmdline(pid)
        if any(key in a for a in args) and _pid_alive(pid):
            found.append(pid)
    return found


def _stop_pid(pid, grace=STOP_GRACE):
    """SIGTERM, wait up to grace seconds, then SIGKILL.  True if it stopped."""
    if not _pid_alive(pid):
        return True
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        time.sleep(0.02)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        time.sleep(0.02)
    return False


def _read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


# ---- the mail sink (runs as its own process) -------------------------------

class _MailSinkHandler:
    """Stores every message as MAIL_DIR/<seq>-<UTC time>.eml.

    The envelope is kept in X-Kenpo-Envelope-From / X-Kenpo-Envelope-To
    header lines put in front of the message as received (as an MTA adds
    Return-Path and Delivered-To), so one file tells everything.  Files are
    written under a temporary name and renamed, so a reader never sees half
    a message.
    """

    def __init__(self, maildir):
        self.maildir = maildir
        seqs = [int(n.split("-", 1)[0]) for n in os.listdir(maildir)
                if n.endswith(".eml") and n.split("-", 1)[0].isdigit()]
        self.seq = max(seqs, default=0)

    async def handle_DATA(self, server, session, envelope):
        self.seq += 1
        now = time.time()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now))
        stamp += "%06dZ" % int((now % 1) * 1e6)
        name = "%06d-%s.eml" % (self.seq, stamp)
        head = "X-Kenpo-Envelope-From: <%s>\r\n" % envelope.mail_from
        head += "".join("X-Kenpo-Envelope-To: <%s>\r\n" % r for r in envelope.rcpt_tos)
        data = envelope.original_content
        if data is None:
            data = envelope.content if isinstance(envelope.content, bytes) \
                else envelope.content.encode("utf-8")
        tmp = os.path.join(self.maildir, "." + name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(head.encode("utf-8") + data)
        os.rename(tmp, os.path.join(self.maildir, name))
        return "250 Message accepted for delivery"


def run_mail_sink(maildir, host, port, pidfile, portfile):
    """Serve SMTP on host:port (0: any free port) until SIGTERM."""
    import asyncio
    from aiosmtpd.smtp import SMTP

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    handler = _MailSinkHandler(maildir)
    # A fixed host name: the default (getfqdn) may wait on DNS.
    server = loop.run_until_complete(loop.create_server(
        lambda: SMTP(handler, hostname="sink.kenpo.test", enable_SMTPUTF8=True,
                     ident="kenpo sandbox mail sink"),
        host=host, port=port))
    bound = server.sockets[0].getsockname()[1]
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, loop.stop)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % bound)
    os.rename(portfile + ".tmp", portfile)
    with open(pidfile + ".tmp", "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(pidfile + ".tmp", pidfile)
    try:
        loop.run_forever()
    finally:
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()
        for p in (pidfile, portfile):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
    return 0


class StalledRelay:
    """An SMTP relay that accepts connections and never says a word, as a
    hung mail server does: a client waits for the greeting until its own
    timeout.  `url` goes into kenpod's smtp_url; `accepted()` counts the
    connections held; `release()` closes them all (the clients see the
    connection end at once) and stops listening.  Runs in a thread of the
    calling process."""

    def __init__(self):
        import threading
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self.url = "smtp://127.0.0.1:%d" % self._sock.getsockname()[1]
        self._conns = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self._conns.append(conn)

    def accepted(self):
        with self._lock:
            return len(self._conns)

    def release(self):
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        self._thread.join(5)
        with self._lock:
            for conn in self._conns:
                conn.close()
            self._conns = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


# ---- the sandbox -------------------------------------------------------------

class Sandbox:
    """A slapd, a mail sink and kenpod living in one directory."""

    def __init__(self, directory, builddir=None):
        self.dir = os.path.abspath(directory)
        self.slapd_d = os.path.join(self.dir, "slapd.d")
        self.db_dir = os.path.join(self.dir, "db")
        self.accesslog_dir = os.path.join(self.dir, "accesslog")
        self.mail_dir = os.path.join(self.dir, "mail")
        self.socket_path = os.path.join(self.dir, "ldapi")
        self.ldapi_uri = "ldapi://" + urllib.parse.quote(self.socket_path, safe="")
        self.admin_pw_file = os.path.join(self.dir, "admin.pw")
        self.kenpod_pw_file = os.path.join(self.dir, "kenpod.pw")
        self.slapd_pidfile = os.path.join(self.dir, "slapd.pid")
        self.smtpd_pidfile = os.path.join(self.dir, "smtpd.pid")
        self.smtpd_portfile = os.path.join(self.dir, "smtpd.port")
        self.slapd_log = os.path.join(self.dir, "slapd.log")
        self.smtpd_log = os.path.join(self.dir, "smtpd.log")
        self.env_file = os.path.join(self.dir, "env")
        self.ports_file = os.path.join(self.dir, "ports.json")
        self.ldap_port = None
        self.smtp_port = None
        self.timings = {}
        self._slapd_proc = None
        self._smtpd_proc = None
        self.builddir = os.path.abspath(builddir) if builddir else default_builddir()
        self.kenpod_conf = os.path.join(self.dir, "kenpod.conf")
        self.kenpod_socket = os.path.join(self.dir, "kenpod.sock")
        self.kenpod_map = os.path.join(self.dir, "passwd.mc")
        self.kenpod_pidfile = os.path.join(self.dir, "kenpod.pid")
        self.kenpod_log = os.path.join(self.dir, "kenpod.log")
        self.secret_file = os.path.join(self.dir, "secret")
        # Settings over the defaults of kenpod_config_text(): [kenpod] keys,
        # keys of [society toyobo], and further societies {id: {key: value}}.
        self.kenpod_settings = {}
        self.society_settings = {}
        self.extra_societies = {}
        self.kenpod_extra_env = {}   # merged into kenpod's environment
        self._kenpod_proc = None
        self._extra_kenpods = {}

    # -- properties used by tests ------------------------------------------
    @property
    def ldap_tcp_uri(self):
        return "ldap://127.0.0.1:%d/" % self.ldap_port if self.ldap_port else ""

    @property
    def smtp_url(self):
        return "smtp://127.0.0.1:%d" % self.smtp_port if self.smtp_port else ""

    @property
    def admin_password(self):
        with open(self.admin_pw_file) as f:
            return f.read().strip()

    @property
    def kenpod_password(self):
        with open(self.kenpod_pw_file) as f:
            return f.read().strip()

    # -- building -------------------------------------------------------------
    def _config_ldif(self, admin_pw):
        """The whole cn=config tree, for slapadd -n0."""
        uid, gid = os.getuid(), os.getgid()
        me = "gidNumber=%d+uidNumber=%d,cn=peercred,cn=external,cn=auth" % (gid, uid)
        kenpo_ldif = os.path.join(srcdir(), "schema", "kenpo.ldif")
        if not os.path.isfile(kenpo_ldif):
            raise SandboxError("schema not found: %s (set KENPO_SRCDIR)" % kenpo_ldif)
        out = [ldif_entry("cn=config", [
            ("objectClass", "olcGlobal"), ("cn", "config"),
            ("olcPidFile", self.slapd_pidfile),
            ("olcArgsFile", os.path.join(self.dir, "slapd.args")),
            ("olcLogLevel", os.environ.get("KENPO_SANDBOX_LOGLEVEL", "none")),
            ("olcToolThreads", "1"),
        ])]
        out.append(ldif_entry("cn=module{0},cn=config", [
            ("objectClass", "olcModuleList"), ("cn", "module{0}"),
            ("olcModulePath", MODULE_DIR)]
            + [("olcModuleLoad", "{%d}%s" % (i, m)) for i, m in enumerate(MODULES)]))
        out.append(ldif_entry("cn=schema,cn=config", [
            ("objectClass", "olcSchemaConfig"), ("cn", "schema")]))
        for name in SYSTEM_SCHEMAS:
            out.append("include: file://%s\n\n" % urllib.parse.quote(
                os.path.join(SYSTEM_SCHEMA_DIR, name + ".ldif")))
        out.append("include: file://%s\n\n" % urllib.parse.quote(kenpo_ldif))
        out.append(ldif_entry("olcDatabase={-1}frontend,cn=config", [
            ("objectClass", "olcDatabaseConfig"), ("objectClass", "olcFrontendConfig"),
            ("olcDatabase", "{-1}frontend"),
            # What slapd itself hashes (password modify): argon2, like kenpo.
            ("olcPasswordHash", "{ARGON2}")]))
        out.append(ldif_entry("olcDatabase={0}config,cn=config", [
            ("objectClass", "olcDatabaseConfig"), ("olcDatabase", "{0}config"),
            ("olcAccess", "{0}to * by dn.exact=\"%s\" manage by * none" % me)]))
        out.append(ldif_entry("olcDatabase={1}mdb,cn=config", self._mdb_attrs(admin_pw, me)))
        db = "olcDatabase={1}mdb,cn=config"
        out.append(ldif_entry("olcOverlay={0}ppolicy," + db, [
            ("objectClass", "olcOverlayConfig"), ("objectClass", "olcPPolicyConfig"),
            ("olcOverlay", "{0}ppolicy"),
            ("olcPPolicyDefault", POLICY_DN),
            # A locked account answers like a wrong password.
            ("olcPPolicyUseLockout", "FALSE")]))
        out.append(ldif_entry("olcOverlay={1}unique," + db, [
            ("objectClass", "olcOverlayConfig"), ("objectClass", "olcUniqueConfig"),
            ("olcOverlay", "{1}unique"),
            # Two independent domains: a login ID and a uidNumber each
            # belong to one entry in the whole suffix.
            ("olcUniqueURI", "ldap:///%s?uid?sub" % SUFFIX),
            ("olcUniqueURI", "ldap:///%s?uidNumber?sub" % SUFFIX)]))
        out.append(ldif_entry("olcOverlay={2}dds," + db, [
            ("objectClass", "olcOverlayConfig"), ("objectClass", "olcDDSConfig"),
            ("olcOverlay", "{2}dds"),
            ("olcDDSstate", "TRUE"),
            ("olcDDSmaxTtl", "1d"),
            ("olcDDSminTtl", "1s"),
            ("olcDDSdefaultTtl", "3h"),
            # Short, so tests see expired tokens go.
            ("olcDDSinterval", "10s")]))
        # Content synchronisation (RFC 4533): kenpod follows the members
        # with it into its passwd map.
        out.append(ldif_entry("olcOverlay={3}syncprov," + db, [
            ("objectClass", "olcOverlayConfig"), ("objectClass", "olcSyncProvConfig"),
            ("olcOverlay", "{3}syncprov")]))
        out.extend(self._accesslog_ldif(me))
        return "".join(out)

    def _accesslog_ldif(self, me):
        """slapo-accesslog: every successful write to the members' database
        is logged, with who made it and the old values, in its own database
        cn=accesslog, which only the administrators may read (it holds
        password hashes as they were written)."""
        db = "olcDatabase={2}mdb,cn=config"
        return [ldif_entry(db, [
            ("objectClass", "olcDatabaseConfig"), ("objectClass", "olcMdbConfig"),
            ("olcDatabase", "{2}mdb"),
            ("olcSuffix", ACCESSLOG_SUFFIX),
            ("olcDbDirectory", self.accesslog_dir),
            ("olcRootDN", ADMIN_DN),
            ("olcDbNoSync", "TRUE"),
            ("olcDbIndex", "reqStart eq"),
            ("olcDbIndex", "reqDN eq"),
            ("olcAccess", '{0}to * by dn.exact="%s" manage by * none' % me)]),
            ldif_entry("olcOverlay={4}accesslog,olcDatabase={1}mdb,cn=config", [
                ("objectClass", "olcOverlayConfig"), ("objectClass", "olcAccessLogConfig"),
                ("olcOverlay", "{4}accesslog"),
                ("olcAccessLogDB", ACCESSLOG_SUFFIX),
                ("olcAccessLogOps", "writes"),
                ("olcAccessLogSuccess", "TRUE"),
                ("olcAccessLogOld", "(|(objectClass=kenpoMember)(objectClass=kenpoHouseholdMember))"),
                ("olcAccessLogPurge", "07+00:00 01+00:00")])]

    def _mdb_attrs(self, admin_pw, me):
        k = KENPOD_DN
        access = [
            'to * by dn.exact="%s" manage by * break' % me,
            # Members may set their own password but not read the hash.
            'to attrs=userPassword by dn.exact="%s" write by self =w '
            'by anonymous auth by * none' % k,
            'to attrs=kenpoTempPassword,kenpoKeyHash,kenpoAuthKeyHash,kenpoKeyTxn '
            'by dn.exact="%s" write by * none' % k,
            # dds's refresh operation needs manage on entryTtl.
            'to attrs=entryTtl by dn.exact="%s" manage by * none' % k,
            'to dn.subtree="ou=services,%s" by self read by * none' % SUFFIX,
            'to dn.subtree="ou=policies,%s" by dn.exact="%s" read by * none' % (SUFFIX, k),
            'to dn.base="%s" by dn.exact="%s" read by * none' % (SUFFIX, k),
            # Society entries (and services/policies above): kenpod reads.
            'to dn.onelevel="%s" by dn.exact="%s" read by * none' % (SUFFIX, k),
            # Inside a society: members, tokens, rates, counters.
            'to dn.subtree="%s" by dn.exact="%s" write by self read by * none' % (SUFFIX, k),
        ]
        attrs = [
            ("objectClass", "olcDatabaseConfig"), ("objectClass", "olcMdbConfig"),
            ("olcDatabase", "{1}mdb"),
            ("olcSuffix", SUFFIX),
            ("olcDbDirectory", self.db_dir),
            ("olcRootDN", ADMIN_DN),
            ("olcRootPW", _ssha(admin_pw)),
            ("olcDbMaxSize", str(4 << 30)),
            # A throwaway directory: speed over durability.
            ("olcDbNoSync", "TRUE"),
            ("olcLimits", 'dn.exact="%s" size=unlimited time=unlimited' % k),
        ]
        attrs += [("olcDbIndex", i) for i in INDEXES]
        attrs += [("olcAccess", "{%d}%s" % (i, a)) for i, a in enumerate(access)]
        return attrs

    def _base_ldif(self, kenpod_pw):
        e = [ldif_entry(SUFFIX, [
            ("objectClass", "dcObject"), ("objectClass", "organization"),
            ("dc", "kenpo"), ("o", "kenpo sandbox")])]
        for ou in ("services", "policies"):
            e.append(ldif_entry("ou=%s,%s" % (ou, SUFFIX), [
                ("objectClass", "organizationalUnit"), ("ou", ou)]))
        e.append(ldif_entry(POLICY_DN, [
            ("objectClass", "organizationalRole"), ("objectClass", "pwdPolicy"),
            ("cn", "default"),
            ("pwdAttribute", "userPassword"),
            # Quality is kenpo's job: slapd only sees hashes.
            ("pwdCheckQuality", "0"),
            ("pwdLockout", "TRUE"),
            ("pwdMaxFailure", "10"),
            ("pwdLockoutDuration", "1800"),
            ("pwdFailureCountInterval", "1800"),
            ("pwdMustChange", "FALSE"),
            ("pwdAllowUserChange", "TRUE"),
            ("pwdMaxAge", "0"),
            ("pwdInHistory", "0")]))
        # The service account must never be locked out by someone guessing.
        e.append(ldif_entry(SERVICE_POLICY_DN, [
            ("objectClass", "organizationalRole"), ("objectClass", "pwdPolicy"),
            ("cn", "services"),
            ("pwdAttribute", "userPassword"),
            ("pwdLockout", "FALSE"),
            ("pwdMaxAge", "0")]))
        e.append(ldif_entry(KENPOD_DN, [
            ("objectClass", "applicationProcess"), ("objectClass", "simpleSecurityObject"),
            ("cn", "kenpod"),
            ("userPassword", _ssha(kenpod_pw)),
            ("pwdPolicySubentry", SERVICE_POLICY_DN)]))
        e.append(ldif_entry(SOCIETY_BASE, [
            ("objectClass", "organizationalUnit"), ("objectClass", "kenpoSociety"),
            ("ou", SOCIETY_ID), ("kenpoSocietyId", SOCIETY_ID),
            ("displayName", SOCIETY_NAME)]))
        for ou in ("members", "tokens", "rates"):
            e.append(ldif_entry("ou=%s,%s" % (ou, SOCIETY_BASE), [
                ("objectClass", "organizationalUnit"), ("ou", ou)]))
        e.append(ldif_entry("cn=uidNumber," + SOCIETY_BASE, [
            ("objectClass", "kenpoCounter"), ("cn", "uidNumber"),
            ("kenpoNextUid", str(UID_MIN))]))
        return "".join(e)

    def _run(self, args, what, input_text=None):
        r = subprocess.run(args, input=input_text, capture_output=True, text=True,
                           env=self.client_env())
        if r.returncode != 0:
            raise SandboxError("%s failed (exit %d): %s" % (
                what, r.returncode, (r.stderr or r.stdout).strip()[-2000:]))
        return r

    def build(self):
        """Create slapd.d, the database and the passwords (once per DIR)."""
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o700)
        for d in (self.slapd_d, self.db_dir, self.accesslog_dir, self.mail_dir):
            os.makedirs(d, mode=0o700, exist_ok=True)
        admin_pw = secrets.token_urlsafe(24)
        kenpod_pw = secrets.token_urlsafe(24)
        _write_secret(self.admin_pw_file, admin_pw)
        _write_secret(self.kenpod_pw_file, kenpod_pw)
        cfg = os.path.join(self.dir, "config.ldif")
        with open(cfg, "w") as f:
            f.write(self._config_ldif(admin_pw))
        os.chmod(cfg, 0o600)
        self._run([SLAPADD, "-q", "-n0", "-F", self.slapd_d, "-l", cfg],
                  "slapadd of cn=config")
        base = os.path.join(self.dir, "base.ldif")
        with open(base, "w") as f:
            f.write(self._base_ldif(kenpod_pw))
        self._run([SLAPADD, "-q", "-F", self.slapd_d, "-b", SUFFIX, "-l", base],
                  "slapadd of the base entries")
        with open(os.path.join(self.dir, ".built"), "w") as f:
            f.write("ok\n")

    # -- running --------------------------------------------------------------
    def client_env(self):
        """Environment for ldap-utils: ignore ~/.ldaprc and /etc/ldap/ldap.conf."""
        env = dict(os.environ)
        env["LDAPNOINIT"] = "1"
        return env

    def nss_wrapper_env(self, env=None, passwd_extra=(), preload_first=None, for_binary=None):
        """An environment in which getpwnam() answers as on a host whose
        nsswitch.conf says `passwd: files kenpo`: nss_wrapper (LD_PRELOAD)
        serves copies of /etc/passwd and /etc/group, plus `passwd_extra`
        lines, and then the built libnss_kenpo.so.2 asking this sandbox's
        kenpod.  Neither /etc/nsswitch.conf nor the host's files change.
        `preload_first` (a sanitizer runtime) goes before nss_wrapper; with
        `for_binary`, the sanitizer runtime that binary links, if any."""
        env = dict(os.environ if env is None else env)
        if for_binary is not None and preload_first is None:
            preload_first = asan_runtime(for_binary)
        passwd = os.path.join(self.dir, "nss_wrapper.passwd")
        group = os.path.join(self.dir, "nss_wrapper.group")
        with open("/etc/passwd") as f:
            text = f.read()
        with open(passwd + ".tmp", "w") as f:
            f.write(text + "".join(line + "\n" for line in passwd_extra))
        os.replace(passwd + ".tmp", passwd)
        shutil.copyfile("/etc/group", group)
        for path in (passwd, group):
            os.chmod(path, 0o644)
        old = env.get("LD_PRELOAD", "").split()
        first = [p for p in [preload_first] + [p for p in old if "libasan" in p] if p]
        pre = []
        for p in first + ["libnss_wrapper.so"] + old:
            if p not in pre:
                pre.append(p)
        env["LD_PRELOAD"] = " ".join(pre)
        env["NSS_WRAPPER_PASSWD"] = passwd
        env["NSS_WRAPPER_GROUP"] = group
        env["NSS_WRAPPER_MODULE_SO_PATH"] = os.path.join(self.builddir, ".libs",
                                                         "libnss_kenpo.so.2")
        env["NSS_WRAPPER_MODULE_FN_PREFIX"] = "kenpo"
        env["KENPO_SOCKET"] = self.kenpod_socket
        env["KENPO_PASSWD_MAP"] = self.kenpod_map
        return env

    def _start_slapd(self):
        if self.ldap_port is None:
            self.ldap_port = _free_port()
        urls = "%s ldap://127.0.0.1:%d/" % (self.ldapi_uri, self.ldap_port)
        debug = os.environ.get("KENPO_SANDBOX_DEBUG", "0")
        log = open(self.slapd_log, "ab")
        # -d keeps slapd in the foreground: its pid is ours to watch and its
        # messages go to slapd.log.  No -u/-g: it runs as whoever we are.
        self._slapd_proc = subprocess.Popen(
            [SLAPD, "-F", self.slapd_d, "-h", urls, "-d", debug],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()

    def _start_slapd_on_free_port(self, t0, attempts=3):
        """Start slapd; if the port was taken since we chose it, choose again."""
        for attempt in range(attempts):
            self._start_slapd()
            try:
                return self._wait_slapd(t0)
            except SandboxError:
                if attempt + 1 == attempts or self._slapd_proc.poll() is None:
                    raise
                self.ldap_port = None
        raise SandboxError("slapd did not start")

    def _slapd_answers(self):
        import ldap
        conn = ldap.initialize(self.ldapi_uri)
        try:
            conn.set_option(ldap.OPT_NETWORK_TIMEOUT, 1.0)
            conn.search_s("", ldap.SCOPE_BASE, "(objectClass=*)", ["namingContexts"])
            return True
        except ldap.LDAPError:
            return False
        finally:
            conn.unbind_s()

    def _wait_slapd(self, t0):
        deadline = t0 + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self._slapd_proc.poll() is not None:
                raise SandboxError("slapd exited (%d); see %s:\n%s" % (
                    self._slapd_proc.returncode, self.slapd_log, self._tail(self.slapd_log)))
            if os.path.exists(self.socket_path) and self._slapd_answers():
                return time.monotonic() - t0
            time.sleep(0.005)
        raise SandboxError("slapd did not answer within %.0f s; see %s" % (
            READY_TIMEOUT, self.slapd_log))

    def _start_smtpd(self):
        for p in (self.smtpd_pidfile, self.smtpd_portfile):
            if os.path.exists(p):
                os.unlink(p)
        log = open(self.smtpd_log, "ab")
        self._smtpd_proc = subprocess.Popen(
            [PYTHON, os.path.abspath(__file__), "mail-sink", self.dir],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()

    def _wait_smtpd(self, t0):
        deadline = t0 + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self._smtpd_proc.poll() is not None:
                raise SandboxError("mail sink exited (%d); see %s:\n%s" % (
                    self._smtpd_proc.returncode, self.smtpd_log, self._tail(self.smtpd_log)))
            port = _read_pid(self.smtpd_portfile)
            if port and _read_pid(self.smtpd_pidfile):
                self.smtp_port = port
                return time.monotonic() - t0
            time.sleep(0.005)
        raise SandboxError("mail sink did not start within %.0f s" % READY_TIMEOUT)

    @staticmethod
    def _tail(path, n=20):
        try:
            with open(path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def running(self):
        """{'slapd': pid or None, 'smtpd': pid or None} for this DIR."""
        out = {}
        for name, pidfile in (("slapd", self.slapd_pidfile), ("smtpd", self.smtpd_pidfile)):
            pid = _read_pid(pidfile)
            alive = pid is not None and _pid_alive(pid) and \
                any(self.dir.encode() in a for a in _cmdline(pid))
            out[name] = pid if alive else None
        return out

    def up(self):
        """Build if needed, start slapd and the mail sink, write DIR/env."""
        t0 = time.monotonic()
        state = self.running() if os.path.isdir(self.dir) else {"slapd": None, "smtpd": None}
        if state["slapd"] or state["smtpd"]:
            raise SandboxError("sandbox %s is already running (slapd %s, mail sink %s)" % (
                self.dir, state["slapd"], state["smtpd"]))
        if not os.path.exists(os.path.join(self.dir, ".built")):
            if os.path.isdir(self.slapd_d) and os.listdir(self.slapd_d):
                raise SandboxError("%s holds a half-built sandbox; use down --purge" % self.dir)
            self.build()
        self.timings["build"] = time.monotonic() - t0
        t1 = time.monotonic()
        self._start_smtpd()  # python's start-up overlaps slapd's
        try:
            self.timings["slapd_ready"] = self._start_slapd_on_free_port(t1)
            self.timings["smtpd_ready"] = self._wait_smtpd(t1)
            if os.access(self.kenpod_binary, os.X_OK):
                t2 = time.monotonic()
                self.start_kenpod()
                self.timings["kenpod_ready"] = time.monotonic() - t2
        except SandboxError:
            self.down()
            raise
        self.write_env()
        self.timings["total"] = time.monotonic() - t0
        return self.timings

    def env(self):
        """The KEY=value pairs of DIR/env, as a dict."""
        r = self.running()
        return {
            "KENPO_SANDBOX": self.dir,
            "LDAP_URI": self.ldapi_uri,
            "LDAP_URI_TCP": self.ldap_tcp_uri,
            "LDAP_BASE": SUFFIX,
            "LDAP_ADMIN_DN": ADMIN_DN,
            "LDAP_ADMIN_PW_FILE": self.admin_pw_file,
            "KENPOD_DN": KENPOD_DN,
            "KENPOD_PW_FILE": self.kenpod_pw_file,
            "SOCIETY_ID": SOCIETY_ID,
            "SOCIETY_BASE": SOCIETY_BASE,
            "SMTP_URL": self.smtp_url,
            "MAIL_DIR": self.mail_dir,
            "SLAPD_PID": str(r["slapd"] or ""),
            "SMTPD_PID": str(r["smtpd"] or ""),
            "KENPOD_SOCKET": self.kenpod_socket,
            "KENPOD_PID": str(self.kenpod_pid() or ""),
            "KENPOD_CONF": self.kenpod_conf,
            "KENPOD_LOG": self.kenpod_log,
            # What libnss_kenpo needs to find the built module and kenpod.
            "LD_LIBRARY_PATH": os.path.join(self.builddir, ".libs"),
            "KENPO_SOCKET": self.kenpod_socket,
            "KENPO_PASSWD_MAP": self.kenpod_map,
        }

    def write_env(self):
        lines = ["%s=%s" % (k, shlex.quote(v)) for k, v in self.env().items()]
        tmp = self.env_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("# kenpo sandbox; source this file\n" + "\n".join(lines) + "\n")
        os.rename(tmp, self.env_file)
        with open(self.ports_file, "w") as f:
            json.dump({"ldap": self.ldap_port, "smtp": self.smtp_port}, f)

    def load_ports(self):
        """Ports of a sandbox started by another process (from ports.json)."""
        try:
            with open(self.ports_file) as f:
                p = json.load(f)
            self.ldap_port, self.smtp_port = p["ldap"], p["smtp"]
        except (OSError, ValueError, KeyError):
            pass

    def _stop(self, name, proc, pidfile):
        pid = _read_pid(pidfile)
        ok = True
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(STOP_GRACE)
        if pid is not None and any(self.dir.encode() in a for a in _cmdline(pid)):
            ok = _stop_pid(pid)
        if not ok:
            raise SandboxError("%s (pid %d) did not stop" % (name, pid))

    def down(self, purge=False):
        """Stop kenpod, slapd and the mail sink; harmless when nothing runs.

        Raises SandboxError, once everything is stopped, when kenpod's log
        holds a sanitizer report, so that a test run cannot miss one."""
        if self.ldap_port is None:
            self.load_ports()
        self.stop_kenpod()
        self._stop("slapd", self._slapd_proc, self.slapd_pidfile)
        self._stop("mail sink", self._smtpd_proc, self.smtpd_pidfile)
        self._slapd_proc = self._smtpd_proc = None
        # Any other daemon started in this DIR with a pid file there (a
        # kenpod, say) goes too, if its command line names DIR.
        if os.path.isdir(self.dir):
            for name in sorted(os.listdir(self.dir)):
                path = os.path.join(self.dir, name)
                if not name.endswith(".pid") or path in (self.slapd_pidfile, self.smtpd_pidfile):
                    continue
                pid = _read_pid(path)
                if pid is not None and pid != os.getpid() and \
                        any(self.dir.encode() in a for a in _cmdline(pid)):
                    self._stop(name[:-4], None, path)
        for p in (self.slapd_pidfile, self.smtpd_pidfile, self.smtpd_portfile):
            if os.path.exists(p):
                os.unlink(p)
        reports = self.kenpod_sanitizer_reports()
        if purge and os.path.isdir(self.dir):
            shutil.rmtree(self.dir)
        elif os.path.isdir(self.dir) and os.path.exists(self.env_file):
            self.write_env()
        if reports:
            raise SandboxError("kenpod reported a sanitizer error (%s):\n%s" % (
                self.kenpod_log, "\n".join(reports)))

    def restart_slapd(self):
        """Stop slapd and start it again on the same ports; returns seconds."""
        if self.ldap_port is None:
            self.load_ports()
        self._stop("slapd", self._slapd_proc, self.slapd_pidfile)
        t0 = time.monotonic()
        self._start_slapd()
        took = self._wait_slapd(t0)
        self.write_env()
        return took

    def slapd_alive(self):
        return self.running()["slapd"] is not None

    def stop_slapd(self):
        """Stop slapd alone (kenpod and the mail sink stay)."""
        if self.ldap_port is None:
            self.load_ports()
        self._stop("slapd", self._slapd_proc, self.slapd_pidfile)
        self._slapd_proc = None
        if os.path.exists(self.slapd_pidfile):
            os.unlink(self.slapd_pidfile)
        self.write_env()

    def start_slapd(self):
        """Start slapd again on the same ports; returns seconds."""
        if self.ldap_port is None:
            self.load_ports()
        t0 = time.monotonic()
        self._start_slapd()
        took = self._wait_slapd(t0)
        self.write_env()
        return took

    # -- kenpod ------------------------------------------------------------------
    @property
    def kenpod_binary(self):
        return os.path.join(self.builddir, "kenpod")

    def kenpod_config_text(self):
        """kenpod.conf for this sandbox, with the settings applied."""
        k = {
            "socket": self.kenpod_socket,
            "passwd_map": self.kenpod_map,
            "ldap_uri": self.ldapi_uri,
            "bind_dn": KENPOD_DN,
            "bind_password_file": self.kenpod_pw_file,
            "secret_file": self.secret_file,
            "smtp_url": self.smtp_url,
            # Whoever runs the sandbox: kenpod keeps its identity.
            "user": pwd.getpwuid(os.geteuid()).pw_name,
            "threads": "4",
            "log_level": "debug",
        }
        k.update(self.kenpod_settings)
        society = {
            "name": SOCIETY_NAME,
            "base": SOCIETY_BASE,
            "mail_from": "noreply@%s.kenpo.test" % SOCIETY_ID,
            "login_url": "https://portal.kenpo.test/%s/login" % SOCIETY_ID,
            "guide_url": "https://portal.kenpo.test/%s/guide?token=%%%%TOKEN%%%%" % SOCIETY_ID,
            "identity_url": "https://portal.kenpo.test/%s/identity?token=%%%%TOKEN%%%%"
                            % SOCIETY_ID,
            "reset_url": "https://portal.kenpo.test/%s/reset?token=%%%%TOKEN%%%%" % SOCIETY_ID,
            "uid_min": str(UID_MIN),
        }
        society.update(self.society_settings)
        sections = [("kenpod", k), ("society " + SOCIETY_ID, society)]
        sections += [("society " + sid, conf) for sid, conf in self.extra_societies.items()]
        out = ["# kenpod.conf of the kenpo sandbox %s" % self.dir]
        for title, conf in sections:
            out.append("\n[%s]" % title)
            # A setting of None leaves the key out (its default applies).
            out.extend("%s = %s" % (key, value) for key, value in conf.items()
                       if value is not None)
        return "\n".join(out) + "\n"

    def write_kenpod_conf(self):
        if not os.path.exists(self.secret_file):
            fd = os.open(self.secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                         0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(32))
        _write_secret(self.kenpod_conf, self.kenpod_config_text())

    def _kenpod_env(self):
        env = self.client_env()
        # glibc's newlocale keeps $LOCPATH for good (see tests/lsan.supp).
        env.pop("LOCPATH", None)
        # kenpod.log must get kenpod's lines even when the tests run under systemd.
        env.pop("JOURNAL_STREAM", None)
        env["LSAN_OPTIONS"] = "suppressions=%s" % os.path.join(srcdir(), "tests", "lsan.supp")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        # The mail templates of the source tree (kenpod mails keys).
        env.setdefault("KENPO_TEMPLATEDIR", os.path.join(srcdir(), "templates"))
        env.update(self.kenpod_extra_env)
        return env

    def start_kenpod(self):
        """Write kenpod.conf, start kenpod and wait until it answers PING."""
        if self.kenpod_alive():
            raise SandboxError("kenpod already runs (pid %d)" % self.kenpod_pid())
        self.write_kenpod_conf()
        log = open(self.kenpod_log, "ab")
        self._kenpod_proc = subprocess.Popen(
            [self.kenpod_binary, "-f", "-c", self.kenpod_conf, "-s", self.kenpod_socket],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            env=self._kenpod_env())
        log.close()
        with open(self.kenpod_pidfile, "w") as f:
            f.write("%d\n" % self._kenpod_proc.pid)
        self._wait_kenpod()
        if os.path.exists(self.env_file):
            self.write_env()

    def _kenpod_answers(self):
        import kenpoproto
        try:
            with kenpoproto.Client(self.kenpod_socket, timeout=1.0) as c:
                return c.ping()[0] == kenpoproto.OK
        except (OSError, kenpoproto.ProtocolError):
            return False

    def _wait_kenpod(self):
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self._kenpod_proc.poll() is not None:
                raise SandboxError("kenpod exited (%d); see %s:\n%s" % (
                    self._kenpod_proc.returncode, self.kenpod_log, self._tail(self.kenpod_log)))
            if os.path.exists(self.kenpod_socket) and self._kenpod_answers():
                return
            time.sleep(0.01)
        raise SandboxError("kenpod did not answer within %.0f s; see %s" % (
            READY_TIMEOUT, self.kenpod_log))

    def kenpod_pid(self):
        """kenpod's pid while it runs, else None."""
        if self._kenpod_proc is not None:
            return self._kenpod_proc.pid if self._kenpod_proc.poll() is None else None
        pid = _read_pid(self.kenpod_pidfile)
        if pid is not None and _pid_alive(pid) and \
                any(self.dir.encode() in a for a in _cmdline(pid)):
            return pid
        return None

    def kenpod_alive(self):
        return self.kenpod_pid() is not None

    def stop_kenpod(self):
        """SIGTERM kenpod and wait; returns its exit status (None if it did not run)."""
        status = None
        if self._kenpod_proc is not None:
            if self._kenpod_proc.poll() is None:
                self._kenpod_proc.terminate()
                try:
                    self._kenpod_proc.wait(STOP_GRACE)
                except subprocess.TimeoutExpired:
                    self._kenpod_proc.kill()
                    self._kenpod_proc.wait(STOP_GRACE)
            status = self._kenpod_proc.returncode
            self._kenpod_proc = None
        elif os.path.exists(self.kenpod_pidfile):
            self._stop("kenpod", None, self.kenpod_pidfile)
        if os.path.exists(self.kenpod_pidfile):
            os.unlink(self.kenpod_pidfile)
        return status

    def start_extra_kenpod(self, name, kenpod=None, society=None, binary=None):
        """Start another kenpod on the same directory, as a second host would
        run one: the same server secret, its own DIR/kenpod-NAME.conf (the
        current settings with kenpod/society applied), socket
        DIR/kenpod-NAME.sock, log DIR/kenpod-NAME.log and pid file
        DIR/kenpod-NAME.pid (down() stops it too).  binary: another build's
        kenpod instead of this one's (ready once its socket accepts
        connections).  Returns the socket path."""
        if not re.fullmatch(r"[a-z0-9]{1,16}", name) or name in self._extra_kenpods:
            raise SandboxError("extra kenpod %r: bad or used name" % name)
        base = os.path.join(self.dir, "kenpod-" + name)
        sock, log_path = base + ".sock", base + ".log"
        saved = (dict(self.kenpod_settings), dict(self.society_settings))
        # Each kenpod publishes its own passwd map, as on its own host.
        self.kenpod_settings.update({"passwd_map": base + ".mc"})
        self.kenpod_settings.update(kenpod or {})
        self.society_settings.update(society or {})
        try:
            self.write_kenpod_conf()  # makes the shared secret if needed
            text = self.kenpod_config_text()
        finally:
            self.kenpod_settings, self.society_settings = saved
            self.write_kenpod_conf()
        _write_secret(base + ".conf", text)
        log = open(log_path, "ab")
        proc = subprocess.Popen(
            [binary or self.kenpod_binary, "-f", "-c", base + ".conf", "-s", sock],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            env=self._kenpod_env())
        log.close()
        self._extra_kenpods[name] = proc
        with open(base + ".pid", "w") as f:
            f.write("%d\n" % proc.pid)
        import kenpoproto
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self.stop_extra_kenpod(name)
                raise SandboxError("kenpod %s exited; see %s:\n%s" % (
                    name, log_path, self._tail(log_path)))
            try:
                if binary is not None:
                    # Another build may speak another protocol version:
                    # it is ready once it accepts connections.
                    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
                        c.connect(sock)
                    return sock
                with kenpoproto.Client(sock, timeout=1.0) as c:
                    if c.ping()[0] == kenpoproto.OK:
                        return sock
            except (OSError, kenpoproto.ProtocolError):
                time.sleep(0.01)
        self.stop_extra_kenpod(name)
        raise SandboxError("kenpod %s did not answer; see %s" % (name, log_path))

    def stop_extra_kenpod(self, name):
        """Stop a kenpod started by start_extra_kenpod; returns its exit status."""
        proc = self._extra_kenpods.pop(name, None)
        status = None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(STOP_GRACE)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(STOP_GRACE)
            status = proc.returncode
        pidfile = os.path.join(self.dir, "kenpod-%s.pid" % name)
        if os.path.exists(pidfile):
            os.unlink(pidfile)
        return status

    def extra_kenpod_pid(self, name):
        """The pid of a kenpod started by start_extra_kenpod."""
        return self._extra_kenpods[name].pid

    def extra_kenpod_log(self, name):
        return os.path.join(self.dir, "kenpod-%s.log" % name)

    def restart_kenpod(self):
        self.stop_kenpod()
        self.start_kenpod()

    @contextlib.contextmanager
    def kenpod_settings_changed(self, kenpod=None, society=None, extra_societies=None,
                                socket=None, env=None):
        """Run kenpod with other settings (and environment) for the duration
        of a with block."""
        saved = (dict(self.kenpod_settings), dict(self.society_settings),
                 dict(self.extra_societies), self.kenpod_socket, dict(self.kenpod_extra_env))
        self.kenpod_settings.update(kenpod or {})
        self.society_settings.update(society or {})
        self.extra_societies.update(extra_societies or {})
        self.kenpod_extra_env.update(env or {})
        self.stop_kenpod()
        if socket:
            self.kenpod_socket = socket
        try:
            self.start_kenpod()
            yield self
        finally:
            self.stop_kenpod()
            (self.kenpod_settings, self.society_settings, self.extra_societies,
             self.kenpod_socket, self.kenpod_extra_env) = saved
            self.start_kenpod()

    def kenpod_log_tail(self, n=20):
        return self._tail(self.kenpod_log, n)

    def kenpod_sanitizer_reports(self):
        """The lines of the kenpod logs (kenpod.log, and those of the extra
        kenpods) in which a sanitizer reported a bug."""
        out = []
        for path in [self.kenpod_log] + sorted(glob.glob(self.extra_kenpod_log("*"))):
            try:
                with open(path, errors="replace") as f:
                    out += [line.rstrip("\n") for line in f
                            if any(m in line for m in KENPOD_BUG_MARKERS)]
            except FileNotFoundError:
                pass
        return out

    # -- members -------------------------------------------------------------------
    def next_uid_number(self, count=1):
        """Take count consecutive uidNumbers from the society's counter (as
        kenpo-admin does: modify-increment with the pre-read control)."""
        import ldap
        from ldap.controls.readentry import PreReadControl
        conn = self.connect("admin")
        try:
            ctrl = PreReadControl(criticality=True, attrList=["kenpoNextUid"])
            res = conn.modify_ext_s("cn=uidNumber," + SOCIETY_BASE,
                                    [(ldap.MOD_INCREMENT, "kenpoNextUid", [str(count).encode()])],
                                    serverctrls=[ctrl])
        finally:
            conn.unbind_s()
        for c in res[3]:
            if c.controlType == PreReadControl.controlType:
                return int(c.entry["kenpoNextUid"][0])
        raise SandboxError("no pre-read value from the uidNumber counter")

    @staticmethod
    def member_ldif(m, extra=()):
        """LDIF of a member described by the dict add_member returns."""
        attrs = [
            ("objectClass", "inetOrgPerson"), ("objectClass", "posixAccount"),
            ("objectClass", "kenpoMember"),
            ("kenpoMemberNumber", m["number"]), ("kenpoState", m["state"]),
            ("uid", m["login"]), ("cn", m["cn"]), ("sn", m["sn"]),
            ("uidNumber", str(m["uid_number"])), ("gidNumber", str(m["gid_number"])),
            ("homeDirectory", "/home/" + m["login"]), ("kenpoNickname", m["nickname"]),
        ]
        if m["disabled"]:
            attrs.append(("kenpoDisabled", "TRUE"))
        attrs.extend(extra)
        return ldif_entry(m["dn"], attrs)

    @staticmethod
    def _member(login, uid_number, number=None, nickname="ご本人", state="registered",
                disabled=False, cn="山田 太郎", sn="山田", gid_number=MEMBER_GID):
        number = number or "S%d" % uid_number
        return {"login": login, "uid_number": uid_number, "number": number,
                "nickname": nickname, "state": state, "disabled": disabled, "cn": cn,
                "sn": sn, "gid_number": gid_number,
                "dn": "kenpoMemberNumber=%s,ou=members,%s" % (number, SOCIETY_BASE)}

    def add_member(self, login, uid_number=None, extra=(), **kw):
        """Add a member entry (registered unless state= says otherwise); returns
        a dict with login, uid_number, number, dn, nickname, ...  Without
        uid_number one is taken from the counter.  extra: more (name, value)
        pairs, userPassword say."""
        m = self._member(login, uid_number or self.next_uid_number(), **kw)
        self.ldapadd(self.member_ldif(m, extra))
        return m

    def add_preissued_member(self, login=None, **kw):
        """A member issued by letter and not registered yet: a login ID of 8
        characters whose 7th and 8th are digits."""
        if login is None:
            alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
            login = "".join(secrets.choice(alphabet) for _ in range(6)) + \
                "%02d" % secrets.randbelow(100)
        return self.add_member(login, state="issued", **kw)

    def add_disabled_member(self, login, **kw):
        return self.add_member(login, disabled=True, **kw)

    def add_members_bulk(self, logins, **kw):
        """Many registered members in one ldapadd; returns their dicts."""
        first = self.next_uid_number(len(logins))
        ms = [self._member(login, first + i, **kw) for i, login in enumerate(logins)]
        self.ldapadd("".join(self.member_ldif(m) for m in ms))
        return ms

    # -- self-service: another society, roster data ------------------------------
    def add_society_subtree(self, sid, name, uid_min):
        """Add the entries of another society ou=SID under the suffix (members,
        tokens, rates, its uidNumber counter starting at uid_min); returns its
        base DN.  kenpod serves it once extra_societies[SID] holds a section,
        e.g. society_section(SID, name, registration="identity")."""
        base = "ou=%s,%s" % (sid, SUFFIX)
        e = [ldif_entry(base, [
            ("objectClass", "organizationalUnit"), ("objectClass", "kenpoSociety"),
            ("ou", sid), ("kenpoSocietyId", sid), ("displayName", name)])]
        for ou in ("members", "tokens", "rates"):
            e.append(ldif_entry("ou=%s,%s" % (ou, base), [
                ("objectClass", "organizationalUnit"), ("ou", ou)]))
        e.append(ldif_entry("cn=uidNumber," + base, [
            ("objectClass", "kenpoCounter"), ("cn", "uidNumber"),
            ("kenpoNextUid", str(uid_min))]))
        self.ldapadd("".join(e))
        return base

    @staticmethod
    def society_section(sid, name, base=None, **settings):
        """A [society SID] section (a dict) like the sandbox's own society."""
        url = "https://portal.kenpo.test/%s/" % sid
        conf = {
            "name": name,
            "base": base or "ou=%s,%s" % (sid, SUFFIX),
            "mail_from": "noreply@%s.kenpo.test" % sid,
            "login_url": url + "login",
            "guide_url": url + "guide?token=%%TOKEN%%",
            "identity_url": url + "identity?token=%%TOKEN%%",
            "reset_url": url + "reset?token=%%TOKEN%%",
        }
        conf.update({k: str(v) for k, v in settings.items()})
        return conf

    def add_roster_member(self, number, roster_mail, dob, base=None, state="issued",
                          cn="山田 花子", sn="山田", extra=()):
        """A member imported from the roster for the identity check: no login ID
        and no posixAccount yet, only the roster's address and date of birth.
        Returns its DN."""
        dn = "kenpoMemberNumber=%s,ou=members,%s" % (number, base or SOCIETY_BASE)
        attrs = [("objectClass", "inetOrgPerson"), ("objectClass", "kenpoMember"),
                 ("kenpoMemberNumber", number), ("kenpoState", state), ("cn", cn),
                 ("sn", sn), ("kenpoRosterMail", roster_mail),
                 ("kenpoDateOfBirth", dob)]
        attrs.extend(extra)
        self.ldapadd(ldif_entry(dn, attrs))
        return dn

    def add_household_member(self, member_dn, index, nickname=None, **attrs):
        """A dependent (被扶養者) of a member as its child entry; returns the DN."""
        dn = "kenpoHouseholdIndex=%s,%s" % (index, member_dn)
        pairs = [("objectClass", "kenpoHouseholdMember"), ("kenpoHouseholdIndex", index),
                 ("cn", "山田 次郎")]
        if nickname is not None:
            pairs.append(("kenpoNickname", nickname))
        pairs.extend(attrs.items())
        self.ldapadd(ldif_entry(dn, pairs))
        return dn

    def entry(self, dn, *attrs):
        """The attributes of one entry as {name: [values]} (names as asked for
        when given, lower-cased keys otherwise); {} when there is no entry."""
        import ldap
        conn = self.connect("admin")
        try:
            res = conn.search_s(dn, ldap.SCOPE_BASE, "(objectClass=*)", list(attrs) or None)
        except ldap.NO_SUCH_OBJECT:
            return {}
        finally:
            conn.unbind_s()
        out = {}
        for k, vals in res[0][1].items():
            out[k] = [v.decode("utf-8", "replace") for v in vals]
        return out

    def count_entries(self, base, filterstr="(objectClass=*)"):
        """How many entries below base (base itself excluded) match."""
        import ldap
        conn = self.connect("admin")
        try:
            res = conn.search_s(base, ldap.SCOPE_ONELEVEL, filterstr, ["1.1"])
        except ldap.NO_SUCH_OBJECT:
            return 0
        finally:
            conn.unbind_s()
        return len(res)

    # -- LDAP helpers ------------------------------------------------------------
    def ldap_admin_cmd(self, tool, *args, input_text=None, check=True, tcp=False):
        """Run an ldap-utils tool bound as the rootdn; returns CompletedProcess."""
        uri = self.ldap_tcp_uri if tcp else self.ldapi_uri
        argv = [tool, "-x", "-H", uri, "-D", ADMIN_DN, "-y", self.admin_pw_file] + list(args)
        r = subprocess.run(argv, input=input_text, capture_output=True, text=True,
                           env=self.client_env())
        if check and r.returncode != 0:
            raise SandboxError("%s failed (exit %d): %s" % (
                tool, r.returncode, (r.stderr or r.stdout).strip()))
        return r

    def ldapadd(self, ldif, check=True):
        return self.ldap_admin_cmd("ldapadd", input_text=ldif, check=check)

    def ldapmodify(self, ldif, check=True):
        return self.ldap_admin_cmd("ldapmodify", input_text=ldif, check=check)

    def ldapsearch(self, base, filterstr="(objectClass=*)", *attrs, scope="sub"):
        return self.ldap_admin_cmd("ldapsearch", "-LLL", "-o", "ldif-wrap=no",
                                   "-b", base, "-s", scope, filterstr, *attrs).stdout

    def connect(self, who="admin"):
        """A python-ldap connection over ldapi bound as 'admin', 'kenpod' or a DN
        given as (dn, password)."""
        import ldap
        conn = ldap.initialize(self.ldapi_uri)
        conn.protocol_version = 3
        if who == "admin":
            conn.simple_bind_s(ADMIN_DN, self.admin_password)
        elif who == "kenpod":
            conn.simple_bind_s(KENPOD_DN, self.kenpod_password)
        elif who is not None:
            conn.simple_bind_s(who[0], who[1])
        return conn

    # -- mail helpers ------------------------------------------------------------
    def mail_files(self):
        try:
            names = os.listdir(self.mail_dir)
        except FileNotFoundError:
            return []
        return sorted(os.path.join(self.mail_dir, n) for n in names if n.endswith(".eml"))

    def mails(self, since=0):
        """Every received message, oldest first, as email.message.EmailMessage;
        with since, only those after the first `since` (a count of
        mail_files() taken earlier), so that a long run need not parse
        every mail again.

        Each carries kenpo_subject and kenpo_body (decoded, LF line ends),
        kenpo_from and kenpo_to (the envelope) and kenpo_path.
        """
        out = []
        for path in self.mail_files()[since:]:
            with open(path, "rb") as f:
                msg = email.message_from_bytes(f.read(), policy=email.policy.default)
            msg.kenpo_path = path
            msg.kenpo_from = str(msg.get("X-Kenpo-Envelope-From", "")).strip("<>")
            msg.kenpo_to = [str(v).strip("<>") for v in msg.get_all("X-Kenpo-Envelope-To", [])]
            msg.kenpo_subject = str(msg.get("Subject", ""))
            part = msg.get_body(preferencelist=("plain",))
            body = part.get_content() if part is not None else ""
            msg.kenpo_body = body.replace("\r\n", "\n")
            out.append(msg)
        return out

    def wait_for_mail(self, count=1, timeout=10.0):
        """Wait until at least count messages arrived; returns mails()."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.mail_files()) >= count:
                return self.mails()
            if time.monotonic() >= deadline:
                raise TimeoutError("%d mail(s) expected in %s, %d arrived" % (
                    count, self.mail_dir, len(self.mail_files())))
            time.sleep(0.02)

    def clear_mail(self):
        for p in self.mail_files():
            os.unlink(p)


# ---- command line ------------------------------------------------------------

USAGE = """usage: sandbox up DIR        build (first time) and start slapd + mail sink
                             (+ kenpod from $KENPO_BUILDDIR, default: the current dir)
       sandbox up --providers N DIR  N replicating slapds, a relay between them,
                             one mail sink and a kenpod next to each (tests/kenpomulti.py)
       sandbox down DIR [--purge]   stop them (--purge: also delete DIR)
       sandbox status DIR    show what runs (exit 0 running, 3 stopped)
       sandbox schema-ldif [SCHEMA]  print kenpo.ldif generated from kenpo.schema
"""


def _cmd_up(d):
    sb = Sandbox(d)
    t = sb.up()
    print("sandbox %s up in %.3f s (build %.3f s, slapd ready %.3f s, mail sink %.3f s)" % (
        sb.dir, t["total"], t["build"], t["slapd_ready"], t["smtpd_ready"]))
    if "kenpod_ready" in t:
        print("kenpod %s answering on %s (%.3f s)" % (sb.kenpod_binary, sb.kenpod_socket,
                                                   t["kenpod_ready"]))
    else:
        print("kenpod not started: %s not built" % sb.kenpod_binary)
    if t["total"] > UP_BUDGET:
        print("warning: slower than %.1f s" % UP_BUDGET, file=sys.stderr)
    print("source %s" % sb.env_file)
    return 0


def _cmd_status(d):
    sb = Sandbox(d)
    r = sb.running() if os.path.isdir(sb.dir) else {"slapd": None, "smtpd": None}
    r["kenpod"] = sb.kenpod_pid() if os.path.isdir(sb.dir) else None
    for name, label in (("slapd", "slapd"), ("smtpd", "mail sink"), ("kenpod", "kenpod")):
        print("%-9s %s" % (label + ":", ("running, pid %d" % r[name]) if r[name] else "stopped"))
    if os.path.exists(sb.env_file) and (r["slapd"] or r["smtpd"]):
        with open(sb.env_file) as f:
            sys.stdout.write(f.read())
    if r["slapd"] and r["smtpd"]:
        return 0
    return 3 if not (r["slapd"] or r["smtpd"]) else 1


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    try:
        if cmd == "up" and len(rest) == 3 and rest[0] == "--providers" and rest[1].isdigit():
            import kenpomulti
            return kenpomulti.cmd_up(rest[2], int(rest[1]))
        if cmd == "up" and len(rest) == 1:
            return _cmd_up(rest[0])
        # A multi-provider sandbox leaves its marker (tests/kenpomulti.py).
        if cmd in ("down", "status") and rest and \
                os.path.exists(os.path.join(rest[0], "providers.json")):
            import kenpomulti
            if kenpomulti.is_multi(rest[0]):
                if cmd == "status" and len(rest) == 1:
                    return kenpomulti.cmd_status(rest[0])
                if cmd == "down" and rest[1:] in ([], ["--purge"]):
                    kenpomulti.MultiSandbox(rest[0]).down(purge=bool(rest[1:]))
                    return 0
        if cmd == "down" and len(rest) in (1, 2) and rest[1:] in ([], ["--purge"]):
            Sandbox(rest[0]).down(purge=bool(rest[1:]))
            return 0
        if cmd == "status" and len(rest) == 1:
            return _cmd_status(rest[0])
        if cmd == "schema-ldif" and len(rest) <= 1:
            path = rest[0] if rest else os.path.join(srcdir(), "schema", "kenpo.schema")
            with open(path) as f:
                sys.stdout.write(schema_to_ldif(f.read()))
            return 0
        if cmd == "mail-sink" and len(rest) == 1:
            sb = Sandbox(rest[0])
            return run_mail_sink(sb.mail_dir, "127.0.0.1", 0, sb.smtpd_pidfile,
                                 sb.smtpd_portfile)
    except (SandboxError, OSError) as e:
        print("sandbox: %s" % e, file=sys.stderr)
        return 1
    sys.stderr.write(USAGE)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
