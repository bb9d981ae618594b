#!/usr/bin/python3
"""Write the starting seeds of kenpo's fuzz targets (tests/fuzz/corpus/NAME/).

    gen_seeds.py BUILDDIR [NAME...]

BUILDDIR is a configured and built tree: the protocol's seeds are built
from the table that tests/tools/kenpo-prototab prints, so that they follow
the protocol's version and layouts.  The corpora in the tree are these
seeds merged with what the fuzzers found, minimized with -merge=1 (see
README.md); this script only makes a fresh start.
"""
import json
import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(os.path.dirname(HERE))


def i32(v):
    return struct.pack(">i", v) if v < 0 else struct.pack(">I", v)


def s(text):
    raw = text.encode() if isinstance(text, str) else text
    return i32(len(raw)) + raw


def payload(version, action, body):
    return i32(version) + i32(action) + body


def frame(version, action, body):
    p = payload(version, action, body)
    return i32(len(p)) + p


# ---- fuzz_proto: n, n selector bytes, one frame ----

def selectors(kinds):
    """kinds: a string of 'i' and 's', one letter per field."""
    bits = [1 if k == "i" else 0 for k in kinds]
    out = bytearray((len(bits) + 7) // 8)
    for n, bit in enumerate(bits):
        out[n // 8] |= bit << (n % 8)
    return bytes([len(out)]) + bytes(out)


def record(name, uid):
    return s(name) + s("x") + i32(uid) + i32(100) + s("") + s("/home/" + name) + s("/bin/sh")


def proto_seeds(tab):
    v = tab["constants"]["VERSION"]
    act = {a[0]: a[1] for a in tab["actions"]}
    byname, byuid, all_, ping = (act["PASSWD_BYNAME"], act["PASSWD_BYUID"],
                                 act["PASSWD_ALL"], act["PING"])
    rec = "ssiisss"
    return {
        "ping": selectors("") + frame(v, ping, b""),
        "byname": selectors("s") + frame(v, byname, s("taro.yamada")),
        "byuid": selectors("i") + frame(v, byuid, i32(70001)),
        "passwd-ok": selectors("i" + rec) + frame(v, byname, i32(0) + record("Taro.Yamada", 70001)),
        "passwd-notfound": selectors("i") + frame(v, byuid, i32(1)),
        "all-page": selectors("ii" + rec * 2 + "i")
        + frame(v, all_, i32(0) + i32(2) + record("aoi", 5001) + record("ren", 5002) + i32(-1)),
        "all-denied": selectors("i") + frame(v, all_, i32(3)),
        "ping-version": selectors("i") + frame(v, ping, i32(0) + s("0.1")),
        "bad-version": selectors("") + frame(v + 1, ping, b""),
        "bad-trailing": selectors("i") + frame(v, byuid, i32(5) + b"\x01"),
        "bad-nul": selectors("s") + frame(v, byname, i32(3) + b"a\0b"),
        "bad-negative": selectors("s") + frame(v, byname, i32(-4) + b"abcd"),
        "bad-short": (selectors("s") + frame(v, byname, s("hanako")))[:-2],
    }


# ---- fuzz_answer: action index, frame without its length word ----

SAMPLE = {
    "login": "taro.yamada", "masked": "t***@example.jp", "txn": "6b1f0c",
    "ticket": "tk-0123", "previous": "2026-12-01 09:00 sshd", "version": "0.1",
    "name": "taro.yamada", "passwd": "x", "gecos": "", "home": "/home/taro",
    "shell": "/bin/bash", "field": "mail", "mail": "t***@example.jp",
    "authkey": "K7Q2", "value": "taro@example.jp",
}


def fields_of(tab, layout):
    out = b""
    for f in tab["layouts"][layout]:
        parts = f.split()
        if parts[0] == "INT":
            out += i32({"lang": 1, "seconds": 600, "tries": 3, "uid": 2000000001}.get(parts[1], 1))
        elif parts[0] == "STR":
            out += s(SAMPLE.get(parts[1], "x"))
        else:  # LIST ITEM name: two items
            out += i32(2) + fields_of(tab, parts[1]) * 2
    return out


def answer_seeds(tab):
    v = tab["constants"]["VERSION"]
    res = {r[0]: r[1] for r in tab["results"]}
    seeds = {}
    for index, (name, number, *_rest) in enumerate(tab["actions"]):
        for result, layout in tab["answers"][name]:
            body = i32(res[result]) + fields_of(tab, layout)
            seeds["%s-%s" % (name.lower(), result.lower())] = \
                bytes([index]) + payload(v, number, body)
    auth = [a[0] for a in tab["actions"]].index("AUTH_PASSWORD")
    ok = i32(0) + s("taro\x1b[2J") + i32(5) + i32(0) + i32(0) + s("")
    seeds["bad-escape"] = bytes([auth]) + payload(v, tab["actions"][auth][1], ok)
    return seeds


# ---- the text formats ----

SOC = ("name = テスト健康保険組合\n"
       "base = ou=t1,dc=example,dc=jp\n"
       "mail_from = no-reply@kenpo.example.jp\n"
       "login_url = https://portal.example.jp/login\n"
       "guide_url = https://portal.example.jp/guide?t=%%TOKEN%%\n"
       "reset_url = https://portal.example.jp/reset?t=%%TOKEN%%\n")
KENPOD = ("[kenpod]\n"
          "socket = /run/test/k.sock\n"
          "ldap_uri = ldaps://ldap1.example.jp ldap://ldap2.example.jp:389\n"
          "bind_dn = cn=kenpod,ou=services,dc=example,dc=jp\n"
          "bind_password_file = /etc/kenpo/ldap.secret\n"
          "ldap_timeout = 2m\n"
          "reserved_login_ids = yamada-*,kenpo.office  staff\n"
          "enumerate = Yes\n"
          "cache_size = 1000\n"
          "smtp_url = smtps://relay.example.jp:465\n"
          "smtp_tls = smtps\n"
          "smtp_user = kenpo mailer\n"
          "smtp_password_file = /etc/kenpo/smtp.secret\n"
          "mail_domain = portal.example.jp\n"
          "argon2_t = 10\n"
          "argon2_m = 8K\n"
          "log_level = DEBUG\n")
SOC_MORE = ("registration = identity, letter\n"
            "language = en\n"
            "timezone = Asia/Tokyo\n"
            "identity_url = https://portal.example.jp/i?t=%%TOKEN%%\n"
            "home = /srv/home/%n/%u%%\n"
            "uid_min = 65536\n"
            "uid_max = 4294967294\n"
            "key_validity = 10m\n"
            "lockout_duration = 30d\n")
CONFIG = {
    "minimal": "[society t1]\n" + SOC,
    "full": "# comment\n; comment\n\n" + KENPOD + "\n[society toyo]\n" + SOC + SOC_MORE,
    "two": "[society a]\n" + SOC + "[society b-2]\n" + SOC.replace("t1", "t2"),
    "crlf": ("[society t1]\n" + SOC).replace("\n", "\r\n"),
    "twice": "[society t1]\n" + SOC + "name = again\n",
    "unknown": "[kenpod]\nsokcet = /x\n[society t1]\n" + SOC,
    "secret-line": "Passw0rd-line\n",
    "secret-crlf": "Passw0rd\r\n",
    "duration": "10m",
    "size": "64M",
}

MAILIN = {
    "display": "From: \"Taro\" <taro@example.jp>\r\nTo: kc@toyobo-kenpo.jp\r\n\r\n",
    "bare": "From: hanako@example.co.jp\nSubject: x\n\nbody ignored\n",
    "encoded": "From: =?UTF-8?B?5p2x5rSLIOWkqumDjg==?= <toyo@example.jp>\n\n",
    "folded": "From: \"Taro\"\r\n <taro@example.jp>\r\n\r\n",
    "mbox": "From taro@example.jp Sat Dec  5 10:00:00 2026\nFrom: taro@example.jp\n\n",
    "sender": "From: a@example.jp, b@example.jp\nSender: c@example.jp\n\n",
    "return-path": "Return-Path: <taro@example.jp>\nSubject: x\n\n",
    "auto": "Auto-Submitted: auto-replied\nFrom: taro@example.jp\n\n",
    "bounce": "Return-Path: <>\nFrom: MAILER-DAEMON@example.jp\n\n",
    "group": "From: undisclosed-recipients:;\n\n",
    "injection": "From: taro@example.jp\rBcc: victim@example.jp\n\n",
    "mime": ("From: taro@example.jp\nMIME-Version: 1.0\nContent-Type: multipart/mixed;"
             " boundary=b\n\n--b\nContent-Type: text/plain\n\nhi\n--b--\n"),
}

HEADER = "member_number,name,birth_date,mail,household,nickname"
ROSTER_UTF8 = (HEADER + ",postal_code,address,employer,office_code,left\r\n"
               "A001,山田 太郎,1980-04-01,taro@example.jp,山田 花子:1982/5/6;山田 一郎,たろう,"
               "530-0001,大阪市北区梅田1-1,東洋紡,E01,\r\n"
               "A002,\"Suzuki, Jiro\",19900101,jiro@example.jp,,,,,,,2026-03-31\r\n"
               "A003,=cmd|' /C calc'!A0,2001/2/3,,,,,,,,\r\n")
ROSTER = {
    "utf8-letter": b"\x00" + ROSTER_UTF8.encode(),
    "utf8-identity": b"\x04" + ROSTER_UTF8.encode(),
    "bom": b"\x01" + b"\xef\xbb\xbf" + ROSTER_UTF8.encode(),
    "utf16": b"\x02" + b"\xff\xfe" + ROSTER_UTF8.encode("utf-16-le"),
    "cp932": b"\x03" + ROSTER_UTF8.encode("cp932"),
    "japanese-header": b"\x00" + "会員番号,氏名,生年月日\nB1,佐藤 一,1970-1-1\n".encode(),
    "quoted": b"\x08" + b'member_number,name\n"Q1","a ""b"" c\nd"\n"Q2",x"y\n',
    "open-quote": b"\x00" + b'member_number,name\nQ1,"never closed\n',
    "dup": b"\x00" + b"member_number,name\nD1,a\nD1,b\n",
    "key-column": b"\x00" + b"member_number,name,key_required\nK1,a,no\n",
}

MAIL_TEMPLATE = ("Subject: %%SOCIETY%% パスワード再発行のご案内\n\n"
                 "ログインID: %%LOGINID%%\n仮パスワード: %%PASSWD%%\n"
                 "%%URL%%\n有効期限: %%VALIDITY%% (100%)\n")
TEMPLATE = {
    "reset": b"\x00" + MAIL_TEMPLATE.encode(),
    "reset-en": b"\x02" + open(os.path.join(SRCDIR, "templates/en/reset.txt"), "rb").read(),
    "guide": b"\x00" + open(os.path.join(SRCDIR, "templates/ja/guide.txt"), "rb").read(),
    "key": b"\x00" + open(os.path.join(SRCDIR, "templates/ja/key.txt"), "rb").read(),
    "changed": b"\x00" + open(os.path.join(SRCDIR, "templates/ja/profile-changed.txt"), "rb").read(),
    "unknown": b"\x00Subject: x %%NOPE%%\n\nbody\n",
    "no-value": b"\x00Subject: x\n\n%%KEY%%\n",
    "subject-break": b"\x00Subject: %%PASSWD%%\n\nbody\n",
    "letter-ja": b"\x01" + open(os.path.join(SRCDIR, "templates/ja/letter.txt"), "rb").read(),
    "letter-en": b"\x03" + open(os.path.join(SRCDIR, "templates/en/letter.txt"), "rb").read(),
    "letter-short": b"\x01# c\n[heading]\n%%SOCIETY%%\n[intro]\n\n",
}

POLICY = {
    "id-ok": b"taro.yamada",
    "id-preissued": b"abcdef12",
    "id-digits": b"12345678",
    "id-bad": b"-x y",
    "pw-ok": b"Passw0rdOK",
    "pw-bad": b"pass word",
    "reserved": b"\nROOT",
    "reserved-prefix": b"\nSystemd-Resolve",
    "extra": b"yamada-*,kenpo.office  staff\nYAMADA-taro",
    "extra-bad": b"ok,b*d\nbd",
    "nul": b"\nro\x00ot",
}


def text_seeds(d):
    return {k: (v.encode() if isinstance(v, str) else v) for k, v in d.items()}


def prototab(builddir):
    tool = os.path.join(builddir, "tests", "tools", "kenpo-prototab")
    return json.loads(subprocess.run([tool], check=True, capture_output=True).stdout)


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: gen_seeds.py BUILDDIR [NAME...]")
    tab = prototab(sys.argv[1])
    all_seeds = {
        "proto": proto_seeds(tab), "answer": answer_seeds(tab),
        "config": text_seeds(CONFIG), "mailin": text_seeds(MAILIN),
        "roster": ROSTER, "template": TEMPLATE, "policy": POLICY,
    }
    for name in sys.argv[2:] or all_seeds:
        outdir = os.path.join(HERE, "corpus", name)
        os.makedirs(outdir, exist_ok=True)
        for seed, data in all_seeds[name].items():
            with open(os.path.join(outdir, seed), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
