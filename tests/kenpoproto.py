"""A small client of kenpod's protocol (src/common/kenpo-proto.h), for tests.

The protocol's tables are read from the header itself when this module is
imported: every result (as a module constant, OK, AUTH_ERR, ...), every
action (PASSWD_BYNAME, ...), the request and answer layouts, and which
layout answers each result of each action.  So a result or an action is
named in the header only; tests/integration/test_protocol.py checks that
this reading equals the compiler's (tests/tools/kenpo-prototab).

Frames are built with struct.pack exactly as the header describes them:
a uint32 length of what follows, int32 version, int32 action, then the
fields (INT32: 4 bytes big-endian; STRING: INT32 length then the bytes).
Answers are decoded by their layout, by field name, and refused when they
are short, long, or of a result the table does not give that action.
Every function can also produce broken frames on purpose.
"""

import os
import re
import socket
import struct

HEADER = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "src", "common",
                      "kenpo-proto.h")

# Plain numbers of the header, checked against it by test_protocol.py.
VERSION = 4
MAX_FRAME = 64 * 1024
MAX_STRING = 4096
PROFILE_PAIRS_MAX = 64
TOKEN_GUIDE, TOKEN_IDENTITY, TOKEN_RESET, TOKEN_REGISTRATION, TOKEN_TICKET = range(1, 6)
AUTHF_SPLIT = 0x1
AUTHF_SINGLE = 0x2
AUTHF_TICKET = 0x4
AUTHF_SESSION = 0x8
AUTHR_MUST_CHANGE = 0x1
PWCF_ADMIN = 0x1
PWC_SAME_AS_OLD = 1 << 24


def _macros(text):
    """{name: (parameters, body)} of the header's #defines, continuation
    lines joined and comments dropped."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S).replace("\\\n", " ")
    out = {}
    for m in re.finditer(r"^#define\s+(\w+)(\(([^)]*)\))?(.*)$", text, re.M):
        out[m.group(1)] = (m.group(3), m.group(4).strip())
    return out


def _fields(body):
    """The fields of a layout body: [("INT"|"STR", name)] or ("LIST ITEM", name)."""
    out = []
    for m in re.finditer(r"\bF\((INT|STR), (\w+)\)|\bL\((\w+), (\w+)\)", body):
        out.append((m.group(1), m.group(2)) if m.group(1) else
                   ("LIST " + m.group(4), m.group(3)))
    return out


def _rules(body):
    return re.findall(r"\bR\((\w+), (\w+)\)", body)


def read_table(path=HEADER):
    """The tables of kenpo-proto.h, as this module reads them."""
    with open(path, encoding="utf-8") as f:
        m = _macros(f.read())
    results = [(n, int(c), t, w) for n, c, t, w in re.findall(
        r"\bX\((\w+), (\d+), \"([^\"]*)\", \"([^\"]*)\"\)", m["KENPO_RESULTS"][1])]
    actions = [(n, int(c, 16), log, who, lane) for n, c, log, who, lane in re.findall(
        r"\bX\((\w+), (0x[0-9a-fA-F]+), \"([^\"]*)\", (\w+), (\w+)\)",
        m["KENPO_ACTIONS"][1])]
    layouts = {n: _fields(m["KENPO_L_" + n][1])
               for n in re.findall(r"\bX\((\w+)\)", m["KENPO_LAYOUTS"][1])}
    requests = {a[0]: _fields(m["KENPO_REQ_" + a[0]][1]) for a in actions}
    answers = {a[0]: _rules(m["KENPO_ANS_" + a[0]][1]) for a in actions}
    return {"results": results, "actions": actions, "layouts": layouts,
            "requests": requests, "answers": answers, "any": _rules(m["KENPO_ANS_ANY"][1])}


TABLE = read_table()
RESULTS = {name: code for name, code, _, _ in TABLE["results"]}
RESULT_NAMES = {code: name for name, code in RESULTS.items()}
RESULT_TEXT = {code: text for _, code, text, _ in TABLE["results"]}
ACTIONS = {name: code for name, code, *_ in TABLE["actions"]}
LANES = {code: lane for _, code, _, _, lane in TABLE["actions"]}
ACTION_NAMES = {code: name for name, code in ACTIONS.items()}
LAYOUTS = TABLE["layouts"]
# (action, result) -> the layout of that answer's fields
ANSWERS = {(ACTIONS[a], RESULTS[r]): lay
           for a, rules in TABLE["answers"].items() for r, lay in rules + TABLE["any"]}
globals().update(RESULTS)
globals().update(ACTIONS)


class ProtocolError(Exception):
    """The answer was not a well-formed frame."""


def int32(v):
    return struct.pack("!i", v if v < 0x80000000 else v - 0x100000000)


def string(s):
    if isinstance(s, str):
        s = s.encode("utf-8")
    return struct.pack("!i", len(s)) + s


def _pack(fields):
    return b"".join(int32(f) if isinstance(f, int) else string(f) for f in fields)


def frame(action, *fields, version=VERSION):
    """One request frame; fields are ints (INT32) or str/bytes (STRING)."""
    body = struct.pack("!iI", version, action & 0xffffffff) + _pack(fields)
    return struct.pack("!I", len(body)) + body


def answer(action, result, *fields, version=VERSION):
    """One answer frame (for a fake kenpod); fields as frame() takes them."""
    body = struct.pack("!iIi", version, action & 0xffffffff, result) + _pack(fields)
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

    def fields(self, layout):
        """The fields of a layout, by name; a LIST as a list of dicts.
        uid and gid are read unsigned, as the modules read them."""
        out = {}
        for kind, name in LAYOUTS[layout]:
            if kind.startswith("LIST "):
                out[name] = [self.fields(kind[5:]) for _ in range(self.int32())]
            elif kind == "STR":
                out[name] = self.string()
            else:
                out[name] = self.uint32() if name in ("uid", "gid") else self.int32()
        return out

    def end(self):
        if self.pos != len(self.data):
            raise ProtocolError("%d bytes left over" % (len(self.data) - self.pos))


def decode(action, result, reader):
    """The fields of an answer as the table lays them out, read to the end."""
    layout = ANSWERS.get((action, result))
    if layout is None:
        raise ProtocolError("%s is no answer to %s" % (
            RESULT_NAMES.get(result, result), ACTION_NAMES.get(action, hex(action))))
    out = reader.fields(layout)
    reader.end()
    return out


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

    def ask(self, action, *fields):
        """Send a request; returns a dict: result, name, and the fields of
        that result's layout."""
        result, r = self.call(action, *fields)
        out = {"result": result, "name": RESULT_NAMES.get(result, str(result))}
        out.update(decode(action, result, r))
        return out

    def ping(self):
        a = self.ask(PING)
        return a["result"], a.get("version")

    def _passwd(self, action, arg):
        a = self.ask(action, arg)
        rec = {name: a[name] for _, name in LAYOUTS["PASSWD"]} if a["result"] == OK else None
        return a["result"], rec

    def byname(self, name):
        return self._passwd(PASSWD_BYNAME, name)

    def byuid(self, uid):
        return self._passwd(PASSWD_BYUID, uid)

    def all_page(self, offset):
        """(result, records, next offset)."""
        a = self.ask(PASSWD_ALL, offset)
        if a["result"] != OK:
            return a["result"], [], -1
        return a["result"], a["records"], a["next"]

    def all(self):
        out, offset = [], 0
        while offset >= 0:
            result, recs, offset = self.all_page(offset)
            if result != OK:
                return result, out
            out.extend(recs)
        return OK, out

    def cache_flush(self):
        return self.ask(CACHE_FLUSH)["result"]

    # -- authentication ---------------------------------------------------------
    def auth_password(self, login, password, flags=0, service="kenpo-test", rhost=""):
        return self.ask(AUTH_PASSWORD, login, password, flags, service, rhost)

    def auth_key(self, login, txn, key, flags=0, service="kenpo-test", rhost=""):
        return self.ask(AUTH_KEY, login, txn, key, flags, service, rhost)

    def auth_resend(self, login, txn):
        return self.ask(AUTH_RESEND, login, txn)

    def auth_abort(self, login, txn):
        return self.ask(AUTH_ABORT, login, txn)

    def account(self, login, rhost=""):
        return self.ask(ACCOUNT, login, rhost)

    def session_open(self, login, service="kenpo-test", rhost=""):
        return self.ask(SESSION_OPEN, login, service, rhost)

    def password_change(self, login, old, new, flags=0, proof="", rhost=""):
        return self.ask(PASSWORD_CHANGE, login, old, new, flags, proof, rhost)

    def login_history(self, login, proof=""):
        return self.ask(LOGIN_HISTORY, login, proof)


class FakeKenpod:
    """A scripted kenpod on a unix socket, for testing the clients: each
    connection gets the next scripted answer (bytes) to its first request,
    then is closed.  The requests are kept in `requests`."""

    def __init__(self, path, answers):
        import threading
        self.path = path
        self.answers = list(answers)
        self.requests = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.sock.settimeout(30)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _read(self, conn, n):
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                raise ConnectionResetError()
            buf += chunk
        return buf

    def _serve(self):
        for reply in self.answers:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                try:
                    head = self._read(conn, 4)
                    self.requests.append(head + self._read(conn, struct.unpack("!I", head)[0]))
                    conn.sendall(reply)
                except OSError:
                    pass

    def close(self):
        self.sock.close()
        self.thread.join(timeout=30)
        os.unlink(self.path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def malformed_answers(action, result, *fields):
    """The answer `result` to `action` with its fields, made malformed each
    way a client must refuse: one byte short, one INT32 too long, a result
    the table does not give that action, a result no table has, and the
    answer to another action.  [(what, bytes)]."""
    good = answer(action, result, *fields)
    other = next(r for r in RESULT_NAMES if (action, r) not in ANSWERS)
    short = good[:-1]
    return [("short", struct.pack("!I", len(short) - 4) + short[4:]),
            ("long", answer(action, result, *fields, 0)),
            ("unlisted", answer(action, other, *fields)),
            ("unknown", answer(action, 99, *fields)),
            ("other-action", answer(action ^ 0x7f, result, *fields))]
