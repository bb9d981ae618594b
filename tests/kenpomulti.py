"""The multi-provider sandbox: N replicating slapds and N kenpod "hosts".

`MultiSandbox(dir, providers=2).up()` builds what a society runs on N hosts
with one mail relay:

  DIR/p1, DIR/p2, ...   one slapd each (slapd.d, db, accesslog, ldapi
                        socket, log),
                        made a provider of kenpo's multi-provider topology
                        by the LDIF that schema/multi-provider/ ships
                        (kenpo-provider-ldif), applied with ldapmodify as an
                        administrator would: the shipped configuration is
                        the tested one;
  DIR/relay.*           one relay process (tests/kenporelay.py) carrying
                        every path between two hosts: the replication of
                        provider i from provider j (route "repl-i-j") and
                        the path of host i's kenpod to provider j (route
                        "kenpod-i-j"), so that a test can cut, restore or
                        delay each without root;
  DIR/mail              one mail sink, as in the one-provider sandbox;
  DIR/kenpod.sock       host 1's kenpod (logging to DIR/kenpod.log), and
  DIR/kenpod-hN.sock    host N's (DIR/kenpod-hN.log): each reads from its
                        own provider first and the others through the relay,
                        as a host next to its own provider would.

The base entries (policies, kenpod's account, the society) and the
replication account are added on provider 1; the others receive them by
replication, as the topology's documentation says.  The class is a
kenposandbox.Sandbox whose helpers (ldapadd, add_member, entry, mails, ...)
work on provider 1; `provider(i)` and `connect_provider(i)` reach the
others.  The one-provider sandbox is untouched by all this.

Command line: `tests/sandbox up --providers 2 DIR` (down and status find
out themselves).
"""

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.parse

import kenporelay
import kenposandbox as ks
from kenposandbox import SandboxError, ldif_entry

MARKER = "providers.json"
RELAY_READY_TIMEOUT = 10.0
CONVERGE_TIMEOUT = 30.0
# How often a consumer retries a lost provider: short, so that tests see a
# restored link in use within a second (the shipped default is "5 +").
SANDBOX_RETRY = "1 +"
# The kenpod of every host lists the providers in this shared order.
REPLICATOR_DN = "cn=replicator,ou=services," + ks.SUFFIX
# write_failback_interval of the hosts, seconds: short, so that tests see
# the failback soon.
WRITE_CHECK_INTERVAL = 2


def generator_path():
    return os.path.join(ks.srcdir(), "schema", "multi-provider", "kenpo-provider-ldif")


class Provider:
    """One slapd of the topology, in DIR/pN."""

    def __init__(self, sb, n):
        self.sb = sb
        self.n = n
        self.dir = os.path.join(sb.dir, "p%d" % n)
        self.slapd_d = os.path.join(self.dir, "slapd.d")
        self.db_dir = os.path.join(self.dir, "db")
        self.accesslog_dir = os.path.join(self.dir, "accesslog")
        self.socket_path = os.path.join(self.dir, "ldapi")
        self.ldapi_uri = "ldapi://" + urllib.parse.quote(self.socket_path, safe="")
        self.pidfile = os.path.join(self.dir, "slapd.pid")
        self.log = os.path.join(self.dir, "slapd.log")
        self.port = None
        self.proc = None

    @property
    def tcp_uri(self):
        return "ldap://127.0.0.1:%d/" % self.port

    def config_ldif(self, admin_pw):
        """A bare cn=config, as a fresh Debian slapd has one: the schemas and
        an empty database for the suffix.  kenpo's part comes from the
        shipped LDIF once slapd runs."""
        uid, gid = os.getuid(), os.getgid()
        me = "gidNumber=%d+uidNumber=%d,cn=peercred,cn=external,cn=auth" % (gid, uid)
        out = [ldif_entry("cn=config", [
            ("objectClass", "olcGlobal"), ("cn", "config"),
            ("olcPidFile", self.pidfile),
            ("olcArgsFile", os.path.join(self.dir, "slapd.args")),
            ("olcLogLevel", os.environ.get("KENPO_SANDBOX_LOGLEVEL", "none")),
            ("olcToolThreads", "1")])]
        out.append(ldif_entry("cn=module{0},cn=config", [
            ("objectClass", "olcModuleList"), ("cn", "module{0}"),
            ("olcModulePath", ks.MODULE_DIR), ("olcModuleLoad", "{0}back_mdb")]))
        out.append(ldif_entry("cn=schema,cn=config", [
            ("objectClass", "olcSchemaConfig"), ("cn", "schema")]))
        for name in ks.SYSTEM_SCHEMAS:
            out.append("include: file://%s\n\n" % urllib.parse.quote(
                os.path.join(ks.SYSTEM_SCHEMA_DIR, name + ".ldif")))
        out.append("include: file://%s\n\n" % urllib.parse.quote(
            os.path.join(ks.srcdir(), "schema", "kenpo.ldif")))
        out.append(ldif_entry("olcDatabase={-1}frontend,cn=config", [
            ("objectClass", "olcDatabaseConfig"), ("objectClass", "olcFrontendConfig"),
            ("olcDatabase", "{-1}frontend")]))
        out.append(ldif_entry("olcDatabase={0}config,cn=config", [
            ("objectClass", "olcDatabaseConfig"), ("olcDatabase", "{0}config"),
            ("olcAccess", "{0}to * by dn.exact=\"%s\" manage by * none" % me)]))
        out.append(ldif_entry("olcDatabase={1}mdb,cn=config", [
            ("objectClass", "olcDatabaseConfig"), ("objectClass", "olcMdbConfig"),
            ("olcDatabase", "{1}mdb"), ("olcSuffix", ks.SUFFIX),
            ("olcDbDirectory", self.db_dir), ("olcRootDN", ks.ADMIN_DN),
            ("olcRootPW", ks._ssha(admin_pw)), ("olcDbMaxSize", str(4 << 30)),
            # A throwaway directory: speed over durability.
            ("olcDbNoSync", "TRUE")]))
        return "".join(out), me

    def start(self):
        log = open(self.log, "ab")
        urls = "%s %s" % (self.ldapi_uri, self.tcp_uri)
        debug = os.environ.get("KENPO_SANDBOX_DEBUG", "0")
        self.proc = subprocess.Popen(
            [ks.SLAPD, "-F", self.slapd_d, "-h", urls, "-d", debug],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()
        t0 = time.monotonic()
        while time.monotonic() - t0 < ks.READY_TIMEOUT:
            if self.proc.poll() is not None:
                raise SandboxError("slapd p%d exited (%d); see %s:\n%s" % (
                    self.n, self.proc.returncode, self.log, ks.Sandbox._tail(self.log)))
            if os.path.exists(self.socket_path) and self.answers():
                return time.monotonic() - t0
            time.sleep(0.005)
        raise SandboxError("slapd p%d did not answer; see %s" % (self.n, self.log))

    def answers(self):
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

    def pid(self):
        if self.proc is not None:
            return self.proc.pid if self.proc.poll() is None else None
        pid = ks._read_pid(self.pidfile)
        if pid is not None and ks._pid_alive(pid) and \
                any(self.dir.encode() in a for a in ks._cmdline(pid)):
            return pid
        return None

    def alive(self):
        return self.pid() is not None

    def stop(self, kill=False):
        """SIGTERM (or SIGKILL: a crash) and wait until it is gone."""
        pid = self.pid()
        if pid is not None:
            if kill:
                os.kill(pid, signal.SIGKILL)
            ks._stop_pid(pid)
        if self.proc is not None:
            try:
                self.proc.wait(ks.STOP_GRACE)
            except subprocess.TimeoutExpired:
                pass
        self.proc = None
        # A killed slapd leaves its socket and pid file behind.
        for p in (self.pidfile, self.socket_path):
            if os.path.exists(p):
                os.unlink(p)


class MultiSandbox(ks.Sandbox):
    """N providers in multi-provider replication, a kenpod next to each."""

    def __init__(self, directory, builddir=None, providers=2):
        super().__init__(directory, builddir)
        saved = self._load_marker()
        n = saved.get("providers", providers)
        if not 2 <= n <= 9:
            raise SandboxError("--providers: 2 to 9")
        self.providers = [Provider(self, i) for i in range(1, n + 1)]
        for p in self.providers:
            p.port = saved.get("ports", {}).get(str(p.n))
        self.replicator_pw_file = os.path.join(self.dir, "replicator.pw")
        self.relay_dir = self.dir
        self.relay = kenporelay.Control(self.relay_dir)
        self.relay_ports = saved.get("relay", {})
        self._relay_proc = None
        # Settings each host's kenpod gets over kenpod_settings: {n: {...}}.
        self.host_settings = {p.n: {} for p in self.providers}
        self.write_check_interval = WRITE_CHECK_INTERVAL
        self._point_at(self.providers[0])

    # -- what the inherited helpers use: provider 1 ----------------------------------
    def _point_at(self, p):
        self.slapd_d, self.db_dir = p.slapd_d, p.db_dir
        self.socket_path, self.ldapi_uri = p.socket_path, p.ldapi_uri
        self.slapd_pidfile, self.slapd_log = p.pidfile, p.log
        self.ldap_port = p.port

    def provider(self, n):
        return self.providers[n - 1]

    def _load_marker(self):
        try:
            with open(os.path.join(self.dir, MARKER)) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def _save_marker(self):
        with open(os.path.join(self.dir, MARKER), "w") as f:
            json.dump({"providers": len(self.providers),
                       "ports": {str(p.n): p.port for p in self.providers},
                       "relay": self.relay_ports}, f)

    # -- routes ----------------------------------------------------------------------
    @staticmethod
    def repl_route(consumer, provider):
        """The route on which provider `consumer` pulls from `provider`."""
        return "repl-%d-%d" % (consumer, provider)

    @staticmethod
    def kenpod_route(host, provider):
        """The route from host `host`'s kenpod to provider `provider`."""
        return "kenpod-%d-%d" % (host, provider)

    def route_uri(self, name):
        return "ldap://127.0.0.1:%d/" % self.relay_ports[name]

    def uri_from_host(self, host, n):
        """How host `host` reaches provider n: its own over ldapi, the
        others through the relay."""
        if host == n:
            return self.provider(n).ldapi_uri
        return self.route_uri(self.kenpod_route(host, n))

    def _relay_spec(self):
        spec = {}
        for a in self.providers:
            for b in self.providers:
                if a.n != b.n:
                    spec[self.repl_route(a.n, b.n)] = b.port
                    spec[self.kenpod_route(a.n, b.n)] = b.port
        return spec

    def _start_relay(self):
        with open(os.path.join(self.relay_dir, "relay.json"), "w") as f:
            json.dump(self._relay_spec(), f)
        ports = os.path.join(self.relay_dir, "relay.ports")
        if os.path.exists(ports):
            os.unlink(ports)
        log = open(os.path.join(self.dir, "relay.log"), "ab")
        self._relay_proc = subprocess.Popen(
            [ks.PYTHON, os.path.abspath(__file__), "relay", self.dir],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()
        deadline = time.monotonic() + RELAY_READY_TIMEOUT
        while time.monotonic() < deadline:
            if self._relay_proc.poll() is not None:
                raise SandboxError("relay exited; see %s" % os.path.join(self.dir, "relay.log"))
            if os.path.exists(ports):
                with open(ports) as f:
                    self.relay_ports = json.load(f)
                return
            time.sleep(0.01)
        raise SandboxError("relay did not start")

    def cut_replication(self):
        """Cut every replication link; the providers keep serving."""
        for a in self.providers:
            for b in self.providers:
                if a.n != b.n:
                    self.relay.cut(self.repl_route(a.n, b.n))

    def restore_replication(self):
        for a in self.providers:
            for b in self.providers:
                if a.n != b.n:
                    self.relay.restore(self.repl_route(a.n, b.n))

    def set_delay(self, route, ms):
        """Delay every chunk on route by ms, each way."""
        return self.relay.delay(route, ms)

    # -- building --------------------------------------------------------------------
    def build(self):
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o700)
        os.makedirs(self.mail_dir, mode=0o700, exist_ok=True)
        admin_pw = secrets.token_urlsafe(24)
        for path in (self.admin_pw_file, self.kenpod_pw_file, self.replicator_pw_file):
            ks._write_secret(path, admin_pw if path == self.admin_pw_file
                             else secrets.token_urlsafe(24))
        for p in self.providers:
            for d in (p.dir, p.slapd_d, p.db_dir, p.accesslog_dir):
                os.makedirs(d, mode=0o700, exist_ok=True)
            text, self.manager_dn = p.config_ldif(admin_pw)
            cfg = os.path.join(p.dir, "config.ldif")
            ks._write_secret(cfg, text)
            self._run([ks.SLAPADD, "-q", "-n0", "-F", p.slapd_d, "-l", cfg],
                      "slapadd of p%d's cn=config" % p.n)
        with open(os.path.join(self.dir, ".built"), "w") as f:
            f.write("ok\n")

    def provider_ldif(self, p):
        """The shipped LDIF for provider p, from kenpo-provider-ldif."""
        argv = [generator_path(), "--suffix", ks.SUFFIX, "--server-id", str(p.n),
                "--replicator-password-file", self.replicator_pw_file,
                "--manager-dn", self.manager_dn, "--retry", SANDBOX_RETRY, "--timeout", "3",
                "--accesslog-dir", p.accesslog_dir, "--accesslog-purge", "07+00:00 01+00:00"]
        for q in self.providers:
            uri = p.tcp_uri if q.n == p.n else self.route_uri(self.repl_route(p.n, q.n))
            argv += ["--provider", "%d=%s" % (q.n, uri)]
        return self._run(argv, "kenpo-provider-ldif").stdout

    def _configure(self, p):
        """Make p a provider: the shipped LDIF over ldapi, as its manager."""
        r = subprocess.run(["ldapmodify", "-Q", "-Y", "EXTERNAL", "-H", p.ldapi_uri],
                           input=self.provider_ldif(p), capture_output=True, text=True,
                           env=self.client_env())
        if r.returncode != 0:
            raise SandboxError("applying the shipped provider LDIF to p%d failed: %s" % (
                p.n, (r.stderr or r.stdout).strip()[-2000:]))

    def _load_base(self):
        """The base entries and the replication account, on provider 1."""
        entry = self._run([generator_path(), "--replicator-entry", "--suffix", ks.SUFFIX,
                           "--replicator-password-file", self.replicator_pw_file],
                          "kenpo-provider-ldif --replicator-entry").stdout
        self.ldapadd(self._base_ldif(self.kenpod_password))
        self.ldapmodify(entry)

    # -- running ---------------------------------------------------------------------
    def running(self):
        p1 = self.providers[0].pid()
        return {"slapd": p1, "smtpd": super().running()["smtpd"]}

    def up(self):
        t0 = time.monotonic()
        if any(p.alive() for p in self.providers):
            raise SandboxError("sandbox %s is already running" % self.dir)
        fresh = not os.path.exists(os.path.join(self.dir, ".built"))
        if fresh:
            self.build()
        self.manager_dn = getattr(self, "manager_dn", None) or \
            "gidNumber=%d+uidNumber=%d,cn=peercred,cn=external,cn=auth" % (
                os.getgid(), os.getuid())
        self.timings["build"] = time.monotonic() - t0
        self._start_smtpd()
        try:
            for p in self.providers:
                if p.port is None:
                    p.port = ks._free_port()
            self._point_at(self.providers[0])
            self._start_relay()
            self._save_marker()
            for p in self.providers:
                p.start()
            if fresh:
                self._configure(self.providers[0])
                self._load_base()
                for p in self.providers[1:]:
                    self._configure(p)
            self.timings["slapd_ready"] = time.monotonic() - t0
            self.wait_converged(CONVERGE_TIMEOUT)
            self.timings["replicated"] = time.monotonic() - t0
            self.timings["smtpd_ready"] = self._wait_smtpd(t0)
            if os.access(self.kenpod_binary, os.X_OK):
                t2 = time.monotonic()
                self.start_hosts()
                self.timings["kenpod_ready"] = time.monotonic() - t2
        except SandboxError:
            self.down()
            raise
        self.write_env()
        self.timings["total"] = time.monotonic() - t0
        return self.timings

    # -- the kenpods -------------------------------------------------------------------
    def host_kenpod_settings(self, host):
        """[kenpod] settings of host `host`: its own provider first for
        reads, and the write providers in the order all hosts share."""
        order = [host] + [p.n for p in self.providers if p.n != host]
        s = {"ldap_uri": " ".join(self.uri_from_host(host, n) for n in order),
             "write_uri": " ".join(self.uri_from_host(host, p.n) for p in self.providers),
             "write_failback_interval": "%ds" % self.write_check_interval}
        s.update(self.host_settings.get(host, {}))
        return s

    def host_socket(self, host):
        return self.kenpod_socket if host == 1 else \
            os.path.join(self.dir, "kenpod-h%d.sock" % host)

    def host_log(self, host):
        return self.kenpod_log if host == 1 else self.extra_kenpod_log("h%d" % host)

    @property
    def kenpod_sockets(self):
        return [self.host_socket(p.n) for p in self.providers]

    def start_host(self, host):
        if host == 1:
            saved = dict(self.kenpod_settings)
            self.kenpod_settings.update(self.host_kenpod_settings(1))
            try:
                self.start_kenpod()
            finally:
                self.kenpod_settings = saved
            return self.kenpod_socket
        return self.start_extra_kenpod("h%d" % host, kenpod=self.host_kenpod_settings(host))

    def stop_host(self, host):
        if host == 1:
            return self.stop_kenpod()
        return self.stop_extra_kenpod("h%d" % host)

    def start_hosts(self):
        for p in self.providers:
            self.start_host(p.n)

    def restart_hosts(self, **settings):
        """Restart every host's kenpod, with [kenpod] settings added for all."""
        for p in self.providers:
            self.stop_host(p.n)
        for p in self.providers:
            self.host_settings[p.n].update(settings)
            self.start_host(p.n)

    def hosts_alive(self):
        return all(self._host_pid(p.n) for p in self.providers)

    def _host_pid(self, host):
        if host == 1:
            return self.kenpod_pid()
        proc = self._extra_kenpods.get("h%d" % host)
        return proc.pid if proc is not None and proc.poll() is None else None

    # -- replication state -------------------------------------------------------------
    def connect_provider(self, n, who="admin"):
        import ldap
        conn = ldap.initialize(self.provider(n).ldapi_uri)
        conn.protocol_version = 3
        conn.set_option(ldap.OPT_NETWORK_TIMEOUT, 3.0)
        if who == "admin":
            conn.simple_bind_s(ks.ADMIN_DN, self.admin_password)
        elif who == "kenpod":
            conn.simple_bind_s(ks.KENPOD_DN, self.kenpod_password)
        return conn

    def provider_ldap(self, n, tool, *args, check=True):
        """Run an ldap-utils tool (ldapadd, ldapmodify, ldapdelete) on
        provider n as the administrator; the last argument goes to its
        stdin, the others are options."""
        *opts, ldif = args
        argv = [tool, "-x", "-H", self.provider(n).ldapi_uri, "-D", ks.ADMIN_DN,
                "-y", self.admin_pw_file] + list(opts)
        r = subprocess.run(argv, input=ldif, capture_output=True, text=True,
                           env=self.client_env())
        if check and r.returncode != 0:
            raise SandboxError("%s on p%d failed (exit %d): %s" % (
                tool, n, r.returncode, (r.stderr or r.stdout).strip()))
        return r

    def digest(self, n):
        """What provider n holds: {DN (lower case): entryCSN}."""
        import ldap
        conn = self.connect_provider(n)
        try:
            res = conn.search_s(ks.SUFFIX, ldap.SCOPE_SUBTREE, "(objectClass=*)", ["entryCSN"])
        except ldap.NO_SUCH_OBJECT:
            res = []        # nothing replicated yet
        finally:
            conn.unbind_s()
        return {dn.lower(): attrs.get("entryCSN", [b""])[0].decode() for dn, attrs in res}

    def context_csns(self, n):
        import ldap
        conn = self.connect_provider(n)
        try:
            res = conn.search_s(ks.SUFFIX, ldap.SCOPE_BASE, "(objectClass=*)", ["contextCSN"])
        except ldap.NO_SUCH_OBJECT:
            return []
        finally:
            conn.unbind_s()
        return sorted(v.decode() for v in res[0][1].get("contextCSN", []))

    def converged(self):
        """True when every running provider holds the same entries in the
        same versions."""
        live = [p.n for p in self.providers if p.alive()]
        first = self.digest(live[0])
        return all(self.digest(n) == first for n in live[1:])

    def wait_converged(self, timeout=CONVERGE_TIMEOUT):
        """Wait until converged(); returns the seconds it took."""
        t0 = time.monotonic()
        while not self.converged():
            if time.monotonic() - t0 > timeout:
                raise SandboxError("providers did not converge within %.0f s: %s" % (
                    timeout, self.divergence()))
            time.sleep(0.05)
        return time.monotonic() - t0

    def divergence(self):
        """A short description of how the providers differ."""
        live = [p.n for p in self.providers if p.alive()]
        d = {n: self.digest(n) for n in live}
        out = []
        for n in live[1:]:
            a, b = d[live[0]], d[n]
            only_a = sorted(set(a) - set(b))[:5]
            only_b = sorted(set(b) - set(a))[:5]
            differ = sorted(k for k in set(a) & set(b) if a[k] != b[k])[:5]
            out.append("p%d vs p%d: only on p%d %s; only on p%d %s; different %s" % (
                live[0], n, live[0], only_a, n, only_b, differ))
        return "; ".join(out)

    # -- stopping ----------------------------------------------------------------------
    def down(self, purge=False):
        # The hosts this process started; those of another process (the
        # command line's `up`) are found by their pid files below.
        for p in self.providers:
            if p.n != 1 and "h%d" % p.n in self._extra_kenpods:
                try:
                    self.stop_host(p.n)
                except SandboxError:
                    pass
        self.stop_kenpod()
        for p in self.providers:
            p.stop()
        if self._relay_proc is not None and self._relay_proc.poll() is None:
            self._relay_proc.terminate()
            try:
                self._relay_proc.wait(ks.STOP_GRACE)
            except subprocess.TimeoutExpired:
                self._relay_proc.kill()
        self._relay_proc = None
        # Base class: the mail sink and any other daemon with a pid file in
        # DIR (the relay of another process, kenpods of other processes).
        super().down(purge=purge)

    def env(self):
        e = super().env()
        r = self.running()
        e["PROVIDERS"] = str(len(self.providers))
        for p in self.providers:
            e["P%d_LDAP_URI" % p.n] = p.ldapi_uri
            e["P%d_LDAP_URI_TCP" % p.n] = p.tcp_uri if p.port else ""
            e["P%d_SLAPD_PID" % p.n] = str(p.pid() or "")
            e["KENPOD%d_SOCKET" % p.n] = self.host_socket(p.n)
            e["KENPOD%d_LOG" % p.n] = self.host_log(p.n)
        e["RELAY_CTL"] = os.path.join(self.relay_dir, "relay.ctl")
        e["SLAPD_PID"] = str(r["slapd"] or "")
        return e

    def write_env(self):
        super().write_env()
        self._save_marker()

    def load_ports(self):
        saved = self._load_marker()
        for p in self.providers:
            p.port = saved.get("ports", {}).get(str(p.n), p.port)
        self.relay_ports = saved.get("relay", self.relay_ports)
        self._point_at(self.providers[0])
        try:
            with open(self.ports_file) as f:
                self.smtp_port = json.load(f).get("smtp")
        except (OSError, ValueError):
            pass

    def stop_slapd(self):
        raise SandboxError("a multi-provider sandbox stops one provider: provider(n).stop()")


def is_multi(directory):
    return os.path.exists(os.path.join(directory, MARKER))


# ---- command line (reached through tests/sandbox) ------------------------------------

def cmd_up(directory, n):
    sb = MultiSandbox(directory, providers=n)
    t = sb.up()
    print("sandbox %s up in %.3f s: %d providers replicating (%.3f s), mail sink" % (
        sb.dir, t["total"], n, t["replicated"]))
    for p in sb.providers:
        print("  provider %d: %s  %s" % (p.n, p.ldapi_uri, p.tcp_uri))
    if "kenpod_ready" in t:
        for p in sb.providers:
            print("  host %d: kenpod on %s" % (p.n, sb.host_socket(p.n)))
    else:
        print("kenpod not started: %s not built" % sb.kenpod_binary)
    print("relay control: %s (cut/restore/delay ROUTE; routes %s)" % (
        os.path.join(sb.dir, "relay.ctl"), ", ".join(sorted(sb.relay_ports))))
    print("source %s" % sb.env_file)
    return 0


def cmd_status(directory):
    sb = MultiSandbox(directory)
    sb.load_ports()
    up = 0
    for p in sb.providers:
        pid = p.pid()
        up += pid is not None
        print("%-12s %s" % ("provider %d:" % p.n, ("running, pid %d" % pid) if pid else "stopped"))
    smtpd = ks.Sandbox.running(sb)["smtpd"]
    print("%-12s %s" % ("mail sink:", ("running, pid %d" % smtpd) if smtpd else "stopped"))
    if up == len(sb.providers) and smtpd:
        return 0
    return 3 if up == 0 and not smtpd else 1


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "relay":
        sys.exit(kenporelay.run(sys.argv[2]))
    sys.stderr.write("usage: kenpomulti.py relay DIR (tests/sandbox runs it)\n")
    sys.exit(2)
