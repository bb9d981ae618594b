"""The protocol table: what tests/kenpoproto.py reads from kenpo-proto.h is
what the compiler reads (tests/tools/kenpo-prototab), and the kenpo tool
refuses every answer the table does not allow, as the modules do
(tests/unit/test_dlopen_*.c) and kenpo-admin does (test_admin.py).
"""

import json
import os
import struct
import subprocess

import pytest

import kenpoproto as kp
import kenposandbox as ks


@pytest.fixture(scope="module")
def compiled(builddir):
    path = os.path.join(builddir, "tests", "tools", "kenpo-prototab")
    if not os.access(path, os.X_OK):
        pytest.fail("%s not built: run `make`" % path)
    return json.loads(subprocess.run([path], capture_output=True, check=True,
                                     text=True).stdout)


def fields(listed):
    """["INT uid", "LIST PASSWD records"] as kenpoproto has them."""
    out = []
    for f in listed:
        words = f.split()
        out.append((words[0], words[1]) if len(words) == 2 else (" ".join(words[:2]), words[2]))
    return out


def test_python_reads_the_table_the_compiler_reads(compiled):
    t = kp.read_table()
    assert [list(r) for r in t["results"]] == compiled["results"]
    assert [list(a) for a in t["actions"]] == [a[:5] for a in compiled["actions"]]
    assert t["layouts"] == {k: fields(v) for k, v in compiled["layouts"].items()}
    assert t["requests"] == {k: fields(v) for k, v in compiled["requests"].items()}
    assert {k: [list(r) for r in v] for k, v in t["answers"].items()} == compiled["answers"]
    assert [list(r) for r in t["any"]] == compiled["any"]
    # The module's own numbers.
    for name, value in compiled["constants"].items():
        assert getattr(kp, name) == value, name
    # And its constants are the table's.
    for name, code, _, _ in compiled["results"]:
        assert getattr(kp, name) == code and kp.RESULT_NAMES[code] == name
    for name, code, *_ in compiled["actions"]:
        assert getattr(kp, name) == code


def test_table_is_whole(compiled):
    """Every result and layout named is defined, no action answers one
    result twice, and the signatures match the field lists."""
    results = {r[0] for r in compiled["results"]}
    layouts = set(compiled["layouts"])
    assert len({r[1] for r in compiled["results"]}) == len(compiled["results"])
    assert len({a[1] for a in compiled["actions"]}) == len(compiled["actions"])
    for action, rules in compiled["answers"].items():
        named = [r for r, _ in rules + compiled["any"]]
        assert len(named) == len(set(named)), action
        assert set(named) <= results and {lay for _, lay in rules} <= layouts, action
    sig = {"INT": "i", "STR": "s"}
    for name, listed in compiled["layouts"].items():
        want = "".join(sig.get(f.split()[0]) or "(%s)" % compiled["signatures"][f.split()[1]]
                       for f in listed)
        assert compiled["signatures"][name] == want, name
    for name, code, _, _, lane, request in compiled["actions"]:
        # kenpod answers a full lane at once with UNAVAIL (kenpo-proto.h).
        assert lane in ("NSS", "AUTH", "SELFSERVICE", "CONTROL"), name
        assert dict(compiled["answers"][name]).get("UNAVAIL") in ("NONE", "LANG"), name
        want = "".join(sig.get(f.split()[0]) or "(%s)" % compiled["signatures"][f.split()[1]]
                       for f in compiled["requests"][name])
        assert request == want, name


# ---- the kenpo tool refuses what the table does not allow -------------------------------

@pytest.fixture(scope="module")
def run_kenpo(builddir, srcdir):
    """run_kenpo(args, socket, input=None) -> CompletedProcess of kenpo --json."""
    path = os.path.join(builddir, "kenpo")
    if not os.access(path, os.X_OK):
        pytest.fail("%s not built: run `make`" % path)

    def run(args, sock, input=None):
        env = dict(os.environ, KENPO_SOCKET=sock, LSAN_OPTIONS="suppressions=" +
                   os.path.join(srcdir, "tests", "lsan.supp"))
        r = subprocess.run([path, "--json"] + list(args), input=input or "",
                           capture_output=True, text=True, env=env, timeout=60)
        assert not any(m in r.stderr for m in ks.SANITIZER_MARKERS), r.stderr
        return r
    return run


@pytest.fixture
def kenpo(run_kenpo, tmp_path):
    """kenpo(answers, *args, input=None) -> (exit, answer, requests): kenpo
    --json against a fake kenpod that gives the scripted answers."""
    def run(answers, *args, input=None):
        sock = str(tmp_path / "fake.sock")
        with kp.FakeKenpod(sock, answers) as fake:
            r = run_kenpo(args, sock, input=input)
        assert r.stdout.count("\n") == 1, r.stdout + r.stderr
        return r.returncode, json.loads(r.stdout), fake.requests
    return run


# (command, stdin, action, a good answer's result and fields, a key of its output)
CASES = [
    (["token", "check"], "T" * 43 + "\n", kp.TOKEN_CHECK, kp.OK, (1, 600, "****@****.jp"),
     "masked_address"),
    (["reset", "open"], "T" * 43 + "\n", kp.RESET_OPEN, kp.OK, ("hanako.k", 600), "login_id"),
    (["register", "identity", "a@example.jp", "1970-01-02"], "T" * 43 + "\n",
     kp.IDENTITY_CHECK, kp.MISMATCH, (2,), "tries_left"),
    (["policy", "check-login-id", "--available", "hanako.k"], None, kp.LOGIN_ID_CHECK, kp.OK,
     (0,), "available"),
    (["login", "hanako.k"], "Kenpo2024Pass\n", kp.AUTH_PASSWORD, kp.OK,
     ("hanako.k", 1000, 0, 0, "ticket-1", "proof-1", ""), "ticket"),
    (["login", "hanako.k"], "Kenpo2024Pass\n", kp.AUTH_PASSWORD, kp.KEY_SENT,
     ("hanako.k", 1000, 0, "****@****.jp", 600, "txn-1"), "txn"),
    (["profile", "show", "hanako.k"], None, kp.PROFILE_GET, kp.OK,
     (2, "nickname", "はなこ", "key_mail", "2", "ticket-2"), "profile"),
    (["profile", "set", "hanako.k", "nickname=x"], None, kp.PROFILE_SET, kp.POLICY, (1,),
     "violations"),
    (["guide", "request", "a@example.jp"], None, kp.GUIDE_REQUEST, kp.BADVALUE, ("address",),
     "field"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: " ".join(c[0][:2]) + "/" +
                         kp.RESULT_NAMES[c[3]])
def test_kenpo_takes_answers_of_the_table(kenpo, case):
    args, stdin, action, result, values, key = case
    rc, a, reqs = kenpo([kp.answer(action, result, *values)], *args, input=stdin)
    assert key in a and a.get("error") != "protocol" and rc != 70, a
    assert len(reqs) == 1 and struct.unpack_from("!I", reqs[0], 8)[0] == action
    if key == "profile":
        assert a["profile"] == {"nickname": "はなこ", "key_mail": "2"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: " ".join(c[0][:2]) + "/" +
                         kp.RESULT_NAMES[c[3]])
def test_kenpo_refuses_answers_outside_the_table(kenpo, case):
    args, stdin, action, result, values, key = case
    for what, frame in kp.malformed_answers(action, result, *values):
        rc, a, _ = kenpo([frame], *args, input=stdin)
        assert (rc, a["ok"], a["error"], a["exit"]) == (70, False, "protocol", 70), (what, a)
        assert key not in a or key == "violations" and a[key] == [], (what, a)


def test_kenpo_json_errors_on_stdout(run_kenpo, tmp_path):
    """Every failure of kenpo --json is one JSON object on stdout."""
    for args, code, error in ((["--frobnicate"], 2, "usage"),
                              (["reset", "request", "a@example.jp"], 75, "unavailable"),
                              (["policy", "check-login-id", "1"], 1, "policy")):
        r = run_kenpo(args, str(tmp_path / "absent.sock"))
        a = json.loads(r.stdout)
        assert r.returncode == code and r.stdout.count("\n") == 1
        assert (a["ok"], a["error"], a["exit"]) == (False, error, code), a
        assert a["message"]["en"] and a["message"]["ja"]
