"""A small client of kenpod's protocol (src/common/kenpo-proto.h), for tests.

Frames are built with struct.pack exactly as the header describes them:
a uint32 length of what follows, int32 version, int32 action, then the
fields (INT32: 4 bytes big-endian; STRING: INT32 length then the bytes).
Every function can also produce broken frames on purpose.
"""

import socket
import struct

VERSION = 2
MAX_FRAME = 64 * 1024
MAX_STRING = 4096

PASSWD_BYNAME = 0x00010001
PASSWD_BYUID = 0x00010002
PASSWD_ALL = 0x00010008
PING = 0x00040001
CACHE_FLUSH = 0x00040002
AUTH_PASSWORD = 0x00020001
AUTH_KEY = 0x00020002
AUTH_RESEND = 0x00020003
AUTH_ABORT = 0x00020004
ACCOUNT = 0x00020005
SESSION_OPEN = 0x00020006
PASSWORD_CHANGE = 0x00020007
LOGIN_ID_CHECK = 0x0003000b

OK, NOTFOUND, UNAVAIL, DENIED, BADREQ, UNKNOWN, INTERNAL = range(7)
RESULT_NAMES = {OK: "OK", NOTFOUND: "NOTFOUND", UNAVAIL: "UNAVAIL", DENIED: "DENIED",
                BADREQ: "BADREQ", UNKNOWN: "UNKNOWN", INTERNAL: "INTERNAL"}

# Authentication outcomes (kenpo-proto.h, enum kenpo_result 16 and up).
(AUTH_ERR, KEY_SENT, KEY_PENDING, KEY_WRONG, KEY_VOID, KEY_EXPIRED, COOLDOWN, LOCKED,
 DELAY, DISABLED, NOT_REGISTERED, MAIL_FAILED, MUST_CHANGE, POLICY) = range(16, 30)
RESULT_NAMES.update({
    AUTH_ERR: "AUTH_ERR", KEY_SENT: "KEY_SENT", KEY_PENDING: "KEY_PENDING",
    KEY_WRONG: "KEY_WRONG", KEY_VOID: "KEY_VOID", KEY_EXPIRED: "KEY_EXPIRED",
    COOLDOWN: "COOLDOWN", LOCKED: "LOCKED", DELAY: "DELAY", DISABLED: "DISABLED",
    NOT_REGISTERED: "NOT_REGISTERED", MAIL_FAILED: "MAIL_FAILED",
    MUST_CHANGE: "MUST_CHANGE", POLICY: "POLICY"})
AUTHF_SPLIT = 0x1
AUTHF_SINGLE = 0x2
AUTHF_TICKET = 0x4
AUTHR_MUST_CHANGE = 0x1
PWCF_ADMIN = 0x1
PWC_SAME_AS_OLD = 1 << 24

# The fields each authentication answer carries after the result:
# "auth" the AUTH record, "key" the KEY record, "lang", "lang secs" (also
# tries left and the POLICY mask), or nothing.
_AUTH_FIELDS = {
    OK: "auth", KEY_SENT: "key", KEY_PENDING: "key", KEY_WRONG: "lang secs",
    COOLDOWN: "lang secs", LOCKED: "lang secs", DELAY: "lang secs", POLICY: "lang secs",
    AUTH_ERR: "lang", KEY_VOID: "lang", KEY_EXPIRED: "lang", DISABLED: "lang",
    NOT_REGISTERED: "lang", MAIL_FAILED: "lang", MUST_CHANGE: "lang", UNAVAIL: "lang",
}


class ProtocolError(Exception):
    """The answer was not a well-formed frame."""


def int32(v):
    return struct.pack("!i", v if v < 0x80000000 else v - 0x100000000)


def string(s):
    if isinstance(s, str):
        s = s.encode("utf-8")
    return struct.pack("!i", len(s)) + s


def frame(action, *fields, version=VERSION):
    """One request frame; fields are ints (INT32) or str/bytes (STRING)."""
    body = struct.pack("!ii", version, action)
    for f in fields:
        body += int32(f) if isinstance(f, int) else string(f)
    return struct.pack("!I", len(body)) + body


class Reader:
    """Reads the fields of an answer."""

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def int32(self):
        if self.pos + 4 > len(self.data):
            raise ProtocolError("short INT32")
        (v,) = struct.unpack_from("!i", self.data, self.pos)
        self.pos += 4
        return v

    def uint32(self):
        return self.int32() & 0xffffffff

    def string(self):
        n = self.int32()
        if n < 0 or n > MAX_STRING or self.pos + n > len(self.data):
            raise ProtocolError("bad STRING length %d" % n)
        s = self.data[self.pos:self.pos + n]
        self.pos += n
        return s.decode("utf-8")

    def passwd(self):
        return {"name": self.string(), "passwd": self.string(), "uid": self.uint32(),
                "gid": self.uint32(), "gecos": self.string(), "home": self.string(),
                "shell": self.string()}

    def end(self):
        if self.pos != len(self.data):
            raise ProtocolError("%d bytes left over" % (len(self.data) - self.pos))


class Client:
    """One connection to kenpod."""

    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionResetError("kenpod closed the connection")
            buf += chunk
        return buf

    def recv_answer(self):
        """(action, result, Reader of the remaining fields)."""
        (length,) = struct.unpack("!I", self._recv_exact(4))
        if length < 12 or length > MAX_FRAME:
            raise ProtocolError("bad frame length %d" % length)
        body = self._recv_exact(length)
        version, action, result = struct.unpack_from("!iii", body)
        if version != VERSION:
            raise ProtocolError("version %d" % version)
        return action & 0xffffffff, result, Reader(body[12:])

    def closed_by_peer(self):
        """True when kenpod has closed the connection (EOF or reset)."""
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def call(self, action, *fields):
        """Send a request; returns (result, Reader)."""
        self.send_raw(frame(action, *fields))
        got, result, r = self.recv_answer()
        if got != action:
            raise ProtocolError("answer to 0x%08x, expected 0x%08x" % (got, action))
        return result, r

    def ping(self):
        result, r = self.call(PING)
        version = r.string() if result == OK else None
        r.end()
        return result, version

    def _passwd(self, action, arg):
        result, r = self.call(action, arg)
        rec = r.passwd() if result == OK else None
        r.end()
        return result, rec

    def byname(self, name):
        return self._passwd(PASSWD_BYNAME, name)

    def byuid(self, uid):
        return self._passwd(PASSWD_BYUID, uid)

    def all_page(self, offset):
        """(result, records, next offset)."""
        result, r = self.call(PASSWD_ALL, offset)
        if result != OK:
            r.end()
            return result, [], -1
        n = r.int32()
        recs = [r.passwd() for _ in range(n)]
        nxt = r.int32()
        r.end()
        return result, recs, nxt

    def all(self):
        out, offset = [], 0
        while offset >= 0:
            result, recs, offset = self.all_page(offset)
            if result != OK:
                return result, out
            out.extend(recs)
        return OK, out

    def cache_flush(self):
        result, r = self.call(CACHE_FLUSH)
        r.end()
        return result

    # -- authentication ---------------------------------------------------------
    @staticmethod
    def _auth_answer(result, r, fields):
        """A dict: result, name, and the fields of that result."""
        out = {"result": result, "name": RESULT_NAMES.get(result, str(result))}
        if fields == "auth":
            out.update(login=r.string(), uid=r.uint32(), lang=r.int32(), flags=r.int32(),
                       ticket=r.string())
        elif fields == "key":
            out.update(login=r.string(), uid=r.uint32(), lang=r.int32(), masked=r.string(),
                       secs=r.int32(), txn=r.string())
        elif fields == "account":
            out.update(lang=r.int32(), login=r.string(), uid=r.uint32())
        elif fields == "lang secs":
            out.update(lang=r.int32(), secs=r.int32())
        elif fields == "lang":
            out.update(lang=r.int32())
        r.end()
        return out

    def _auth(self, action, *fields, ok=None):
        result, r = self.call(action, *fields)
        if result == OK and ok is not None:
            how = ok
        elif result in (DENIED, BADREQ, UNKNOWN, INTERNAL) or \
                (result == NOTFOUND and action != PASSWORD_CHANGE):
            how = None
        elif result == NOTFOUND:
            how = "lang"
        else:
            how = _AUTH_FIELDS.get(result)
        return self._auth_answer(result, r, how)

    def auth_password(self, login, password, flags=0, service="kenpo-test", rhost=""):
        return self._auth(AUTH_PASSWORD, login, password, flags, service, rhost, ok="auth")

    def auth_key(self, login, txn, key, flags=0):
        return self._auth(AUTH_KEY, login, txn, key, flags, ok="auth")

    def auth_resend(self, login, txn):
        return self._auth(AUTH_RESEND, login, txn)

    def auth_abort(self, login, txn):
        return self._auth(AUTH_ABORT, login, txn, ok="none")

    def account(self, login):
        result, r = self.call(ACCOUNT, login)
        how = "account" if result in (OK, MUST_CHANGE) else \
            None if result in (DENIED, BADREQ, UNKNOWN, INTERNAL, NOTFOUND) else \
            _AUTH_FIELDS.get(result)
        return self._auth_answer(result, r, how)

    def session_open(self, login, service="kenpo-test", rhost=""):
        result, r = self.call(SESSION_OPEN, login, service, rhost)
        out = {"result": result, "name": RESULT_NAMES.get(result, str(result))}
        if result == OK:
            out.update(lang=r.int32(), previous=r.string())
        elif result == UNAVAIL:
            out.update(lang=r.int32())
        r.end()
        return out

    def password_change(self, login, old, new, flags=0):
        out = self._auth(PASSWORD_CHANGE, login, old, new, flags, ok="none")
        if out["result"] == POLICY:
            out["mask"] = out.pop("secs")
        return out
