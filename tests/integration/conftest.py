"""Fixtures of kenpo's integration tests: a sandbox directory and the tools.

Run from the build tree, or say where it is:

    KENPO_BUILDDIR=/path/to/build KENPO_SRCDIR=/path/to/src \\
        /usr/bin/python3 -m pytest -q tests/integration

$KENPO_BUILDDIR defaults to the current directory, $KENPO_SRCDIR to the
tree this file is in.  Debian's python3-ldap and python3-aiosmtpd import
only under /usr/bin/python3.
"""

import os
import shutil
import subprocess
import sys

import pytest

TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRCDIR = os.path.abspath(os.environ.get("KENPO_SRCDIR") or os.path.dirname(TESTS_DIR))
BUILDDIR = os.path.abspath(os.environ.get("KENPO_BUILDDIR") or os.getcwd())
os.environ["KENPO_SRCDIR"] = SRCDIR  # kenposandbox finds the schema through it

sys.path.insert(0, os.path.join(SRCDIR, "tests"))
import kenposandbox  # noqa: E402

REQUIRED = {
    "slapd": kenposandbox.SLAPD,
    "slapadd": kenposandbox.SLAPADD,
    "ldapadd": shutil.which("ldapadd"),
    "ldapwhoami": shutil.which("ldapwhoami"),
}


def _missing_requirements():
    missing = [name for name, path in REQUIRED.items() if not path or not os.access(path, os.X_OK)]
    for mod in ("ldap", "aiosmtpd"):
        try:
            __import__(mod)
        except ImportError:
            missing.append("python3 module " + mod)
    return missing


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "release_build: a claim about the build that ships (timings); "
        "not collected in a sanitizer build, whose instrumentation changes what each "
        "step costs")


# Figures the tests measured (rounds, counts, seconds), printed at the end
# of the run, so that a run of the suite states them.  They travel with the
# test's reports (user_properties), so that they reach the end of a run
# whose tests ran in several worker processes too.
@pytest.fixture
def figure(request):
    """figure(line): a measured figure for the run's closing summary."""
    return lambda line: request.node.user_properties.append(("figure", line))


def pytest_terminal_summary(terminalreporter):
    lines = {}
    for reports in terminalreporter.stats.values():
        for rep in reports:
            for key, value in getattr(rep, "user_properties", ()):
                if key == "figure":
                    lines.setdefault((rep.nodeid, value), None)
    if lines:
        terminalreporter.section("figures measured")
        for _, line in sorted(lines, key=lambda k: k[0]):
            terminalreporter.write_line(line)


def _sanitizer_build():
    kenpod = os.path.join(BUILDDIR, "kenpod")
    return os.access(kenpod, os.X_OK) and kenposandbox.asan_runtime(kenpod) is not None


def pytest_collection_modifyitems(config, items):
    """Leave release-build claims out of a sanitizer build; skip only when a
    tool is truly absent, and never in CI."""
    if _sanitizer_build():
        left_out = [i for i in items if i.get_closest_marker("release_build")]
        if left_out:
            config.hook.pytest_deselected(items=left_out)
            items[:] = [i for i in items if not i.get_closest_marker("release_build")]
    missing = _missing_requirements()
    if not missing:
        return
    msg = "missing: " + ", ".join(missing) + " (apt-get install slapd ldap-utils " \
          "python3-ldap python3-aiosmtpd)"
    if os.environ.get("CI"):
        raise pytest.UsageError(msg)
    for item in items:
        item.add_marker(pytest.mark.skip(reason=msg))


@pytest.fixture(scope="session")
def srcdir():
    return SRCDIR


@pytest.fixture(scope="session")
def builddir():
    return BUILDDIR


@pytest.fixture(scope="session")
def testtool():
    """Path of the built kenpo-testtool (built by `make`)."""
    path = os.path.join(BUILDDIR, "tests", "tools", "kenpo-testtool")
    if not os.access(path, os.X_OK):
        pytest.fail("%s not found: run `make` in the build directory and set "
                    "KENPO_BUILDDIR" % path)
    return path


@pytest.fixture(scope="session")
def tool_env():
    """Environment for kenpo's programs: the source tree's templates.

    LOCPATH is deliberately not set: with it, glibc's newlocale (called by
    libp11-kit's constructor, which libcurl pulls in) leaks the path, and
    LeakSanitizer fails every sanitizer build of the tool.  Mail templates
    need no catalogue.
    """
    env = dict(os.environ)
    env.pop("LOCPATH", None)
    env["KENPO_TEMPLATEDIR"] = os.path.join(SRCDIR, "templates")
    env["LDAPNOINIT"] = "1"
    return env


@pytest.fixture(scope="session")
def run_tool(testtool, tool_env):
    """run_tool(args, input=None) -> CompletedProcess of kenpo-testtool."""
    def run(args, input=None, timeout=60):
        return subprocess.run([testtool] + list(args), input=input, capture_output=True,
                              text=True, env=tool_env, timeout=timeout)
    return run


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    """One running sandbox for the session; stopped at the end."""
    # A short path: the ldapi socket name must fit in sun_path (108 bytes).
    sb = kenposandbox.Sandbox(str(tmp_path_factory.mktemp("sbx")))
    sb.up()
    yield sb
    sb.down()


def start_sandbox(tmp_path_factory, builddir, name, programs=("kenpod",), society=None,
                  kenpod=None):
    """A sandbox with kenpod for one test module; the caller downs it."""
    for prog in programs:
        if not os.access(os.path.join(builddir, prog), os.X_OK):
            pytest.fail("%s not built: run `make` and set KENPO_BUILDDIR" % prog)
    s = kenposandbox.Sandbox(str(tmp_path_factory.mktemp(name)), builddir=builddir)
    s.kenpod_settings.update(kenpod or {})
    s.society_settings.update(society or {})
    s.up()
    if not s.kenpod_alive():
        pytest.fail("kenpod did not start; see %s" % s.kenpod_log)
    return s


def check_kenpod(sb, alive=True):
    """After a test: no sanitizer reported in any kenpod, and (alive)
    kenpod still runs."""
    reports = sb.kenpod_sanitizer_reports()
    if reports:
        pytest.fail("sanitizer report in %s:\n%s" % (sb.kenpod_log, "\n".join(reports)))
    if alive and not sb.kenpod_alive():
        pytest.fail("kenpod died; see %s:\n%s" % (sb.kenpod_log, sb.kenpod_log_tail()))


@pytest.fixture
def new_sandbox_dir(tmp_path_factory):
    """A fresh directory for a test that runs its own sandbox; stopped after."""
    d = str(tmp_path_factory.mktemp("own"))
    yield d
    # Tests may run their sandbox in a subdirectory: stop every one of them.
    for root, dirs, files in os.walk(d):
        if "env" in files or "slapd.d" in dirs:
            kenposandbox.Sandbox(root).down()
