"""kenpo-web in a sandbox, for the browser tests, the hostile-input tests,
tests/demo --web and the benchmark.

`Portal(sb, builddir).start()` writes a kenpo-web.conf and a private PAM
service directory in the sandbox directory and starts the test build of
kenpo-web (tests/web/kenpo-web-test: the server with the CAPTCHA hook of
captcha.h compiled in) under pam_wrapper, so that PAM reads the service
file `kenpo-web` from that directory and loads the built pam_kenpo.so:
nothing under /etc is read or changed.  The service file is the shipped
web/kenpo-web.pam with the module's path and the sandbox's socket filled
in.  Members need no host account (no_host_account), so no NSS wrapper is
needed.

The sandbox's societies must link to the portal: `society_urls(port, sid)`
gives the login, guide, identity and reset URLs of kenpod.conf for a
portal on 127.0.0.1:port.
"""

import http.client
import os
import re
import secrets
import subprocess
import time
import urllib.parse

import kenposandbox as ks

KEY_RE = re.compile(r"(?<!\d)(\d{10})(?!\d)")
URL_RE = re.compile(r"(http://127\.0\.0\.1:\d+/\S+?token=[A-Za-z0-9_-]+)")
CSRF_RE = re.compile(r'name="csrf" value="([A-Za-z0-9_-]+)"')
SANITIZER_MARKERS = ks.SANITIZER_MARKERS


def society_urls(port, sid):
    base = "http://127.0.0.1:%d/%s/" % (port, sid)
    return {"login_url": base + "login",
            "guide_url": base + "guide?token=%%TOKEN%%",
            "identity_url": base + "identity?token=%%TOKEN%%",
            "reset_url": base + "reset?token=%%TOKEN%%"}


class Portal:
    """kenpo-web (the test build) serving a sandbox."""

    def __init__(self, sb, builddir, port=None, binary=None, extra_conf=None):
        self.sb = sb
        self.builddir = builddir
        self.port = port or ks._free_port()
        self.binary = binary or os.path.join(builddir, "tests", "web", "kenpo-web-test")
        self.dir = os.path.join(sb.dir, "web")
        self.pam_dir = os.path.join(self.dir, "pam.d")
        self.conf = os.path.join(self.dir, "kenpo-web.conf")
        self.log = os.path.join(self.dir, "kenpo-web.log")
        self.captcha_file = os.path.join(self.dir, "captcha")
        self.extra_conf = extra_conf or {}
        self.proc = None

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def _service_file(self):
        module = os.path.join(self.builddir, ".libs", "pam_kenpo.so")
        with open(os.path.join(ks.srcdir(), "web", "kenpo-web.pam")) as f:
            shipped = f.read()
        out = []
        for line in shipped.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            out.append(line.replace("pam_kenpo.so", "%s socket=%s" % (module,
                                                                      self.sb.kenpod_socket)))
        return "\n".join(out) + "\n"

    def _env(self):
        env = dict(os.environ)
        env.pop("LANGUAGE", None)
        asan = ks.asan_runtime(self.binary)
        pre = [p for p in (asan, "libpam_wrapper.so") if p]
        env["LD_PRELOAD"] = " ".join(pre)
        env["PAM_WRAPPER"] = "1"
        env["PAM_WRAPPER_SERVICE_DIR"] = self.pam_dir
        if asan:
            # pam_wrapper's RTLD_DEEPBIND and the sanitizer runtime exclude each other.
            env["PAM_WRAPPER_DISABLE_DEEPBIND"] = "1"
            env["ASAN_OPTIONS"] = "abort_on_error=1:detect_leaks=1"
        env["LSAN_OPTIONS"] = "suppressions=%s" % os.path.join(ks.srcdir(), "tests",
                                                               "lsan.supp")
        env["KENPO_WEB_TEST_CAPTCHA_FILE"] = self.captcha_file
        # The Japanese rule messages come from the build tree's catalogue.
        env["KENPO_LOCALEDIR"] = os.path.join(self.builddir, "tests", "locale")
        env["LOCPATH"] = os.path.join(self.builddir, "tests", "locales")
        return env

    def start(self):
        os.makedirs(self.pam_dir, exist_ok=True)
        with open(os.path.join(self.pam_dir, "kenpo-web"), "w") as f:
            f.write(self._service_file())
        conf = {"listen": "127.0.0.1:%d" % self.port, "kenpod_conf": self.sb.kenpod_conf,
                "socket": self.sb.kenpod_socket}
        conf.update(self.extra_conf)
        with open(self.conf, "w") as f:
            f.write("[web]\n" + "".join("%s = %s\n" % kv for kv in conf.items()))
        os.chmod(self.conf, 0o644)
        log = open(self.log, "ab")
        self.proc = subprocess.Popen([self.binary, "-c", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=log, env=self._env(),
                                     start_new_session=True)
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("kenpo-web exited (%d):\n%s" % (self.proc.returncode,
                                                                   self.log_text()))
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/static/kenpo.css")
                c.getresponse().read()
                c.close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("kenpo-web did not answer:\n" + self.log_text())

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc is not None else None

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def sanitizer_reports(self):
        return [line for line in self.log_text().splitlines()
                if any(m in line for m in SANITIZER_MARKERS)]

    def captcha_answer(self):
        with open(self.captcha_file) as f:
            return f.read().strip()


# ---- mail ------------------------------------------------------------------------

def mails_to(sb, addr):
    return [m for m in sb.mails() if addr in m.kenpo_to]


def wait_mail(sb, addr, n=1, timeout=15.0):
    """The n-th mail to addr."""
    deadline = time.monotonic() + timeout
    while True:
        ms = mails_to(sb, addr)
        if len(ms) >= n:
            return ms[n - 1]
        if time.monotonic() >= deadline:
            raise TimeoutError("no mail #%d to %s (%d arrived)" % (n, addr, len(ms)))
        time.sleep(0.05)


def key_of(msg):
    found = set(KEY_RE.findall(msg.kenpo_body))
    assert len(found) == 1, msg.kenpo_body
    return found.pop()


def link_of(msg):
    m = URL_RE.search(msg.kenpo_body)
    assert m, msg.kenpo_body
    return m.group(1)


# ---- a plain HTTP client (the hostile-input tests and the benchmark) ---------------

class Client:
    """One browser-less visitor: keeps its cookie, reads CSRF tokens."""

    def __init__(self, port, cookie_name="__Host-kenpo"):
        self.port = port
        self.cookie_name = cookie_name
        self.cookie = None
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(self, method, path, body=None, headers=None, raw_body=None):
        h = dict(headers or {})
        if self.cookie:
            h.setdefault("Cookie", "%s=%s" % (self.cookie_name, self.cookie))
        data = raw_body
        if body is not None:
            data = urllib.parse.urlencode(body).encode()
            h.setdefault("Content-Type", "application/x-www-form-urlencoded")
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=data, headers=h)
                resp = self.conn.getresponse()
                text = resp.read().decode("utf-8", errors="replace")
                break
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt == 2:
                    raise
        for k, v in resp.getheaders():
            if k.lower() == "set-cookie" and v.startswith(self.cookie_name + "="):
                self.cookie = v.split(";", 1)[0].split("=", 1)[1]
        resp.text = text
        return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def csrf(self, path):
        r = self.get(path)
        m = CSRF_RE.search(r.text)
        assert m, r.text[:500]
        return m.group(1)

    def post(self, path, fields, csrf_from=None, **kw):
        f = dict(fields)
        if "csrf" not in f:
            f["csrf"] = self.csrf(csrf_from or path)
        return self.request("POST", path, body=f, **kw)

    def close(self):
        self.conn.close()


def new_login(prefix="Web"):
    return "%s.%s" % (prefix, secrets.token_hex(3))
