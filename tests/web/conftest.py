"""Fixtures of kenpo-web's tests: one sandbox with two societies (toyobo
registers by letter, acn both by letter and by identity check, as the
Accenture manual's screen offers), kenpo-web serving both, a
headless Chromium driven by Selenium, and the mail sink.

Run from the build tree, or say where it is:

    KENPO_BUILDDIR=/path/to/build KENPO_SRCDIR=/path/to/src \\
        /usr/bin/python3 -m pytest -q tests/web

Screenshots of every screen go to $KENPO_BUILDDIR/tests/web/screenshots.
"""

import os
import shutil
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.abspath(os.environ.get("KENPO_SRCDIR") or os.path.dirname(os.path.dirname(HERE)))
BUILDDIR = os.path.abspath(os.environ.get("KENPO_BUILDDIR") or os.getcwd())
os.environ["KENPO_SRCDIR"] = SRCDIR
sys.path.insert(0, os.path.join(SRCDIR, "tests"))
sys.path.insert(0, HERE)

import kenposandbox as ks  # noqa: E402
import webportal as wp  # noqa: E402

PASSWORD = "Kenpo2024Pass"
TEMP_PASSWORD = "P0a40aca"
ACN = "acn"
ACN_NAME = "アクセンチュア健康保険組合"
ACN_UID_MIN = 300000
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = os.path.join(BUILDDIR, "tests", "web", "screenshots")
# argon2id at its least cost, for the members' hashes and for kenpod's: the
# screens are under test here, not the hash (test_pam.py and the benchmarks
# run the real cost), and a login costs several verifications.
FAST_HASH = ["--t", "1", "--m", "8192"]


def _missing():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER, ks.SLAPD) if not os.access(p, os.X_OK)]
    for mod in ("selenium", "ldap", "aiosmtpd"):
        try:
            __import__(mod)
        except ImportError:
            missing.append("python3 module " + mod)
    for built in ("tests/web/kenpo-web-test", "kenpod", ".libs/pam_kenpo.so",
                  "tests/tools/kenpo-testtool"):
        if not os.path.exists(os.path.join(BUILDDIR, built)):
            missing.append(built + " (run make in the build directory)")
    return missing


def pytest_collection_modifyitems(config, items):
    missing = _missing()
    if not missing:
        return
    msg = "missing: " + ", ".join(missing)
    if os.environ.get("CI"):
        raise pytest.UsageError(msg)
    for item in items:
        item.add_marker(pytest.mark.skip(reason=msg))


@pytest.fixture(scope="session")
def hashes():
    env = dict(os.environ)
    env.pop("LOCPATH", None)
    out = {}
    for pw in (PASSWORD, TEMP_PASSWORD):
        r = subprocess.run([os.path.join(BUILDDIR, "tests", "tools", "kenpo-testtool"),
                            "hash-password"] + FAST_HASH, input=pw + "\n", capture_output=True,
                           text=True, env=env, check=True)
        out[pw] = r.stdout.strip()
    return out


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    """(sandbox, portal): kenpod serving toyobo (letter) and acn (letter and
    identity)."""
    d = str(tmp_path_factory.mktemp("web"))
    sb = ks.Sandbox(d, builddir=BUILDDIR)
    port = ks._free_port()
    sb.society_settings.update(wp.society_urls(port, ks.SOCIETY_ID))
    sb.society_settings["entry_address"] = "kc@toyobo.kenpo.test"
    sb.kenpod_settings.update({"argon2_t": "1", "argon2_m": "8K"})
    sb.up()
    portal = None
    try:
        sb.add_society_subtree(ACN, ACN_NAME, ACN_UID_MIN)
        sb.extra_societies[ACN] = ks.Sandbox.society_section(
            ACN, ACN_NAME, registration="letter, identity", uid_min=ACN_UID_MIN,
            uid_max=ACN_UID_MIN + 99999, **wp.society_urls(port, ACN))
        sb.restart_kenpod()
        portal = wp.Portal(sb, BUILDDIR, port=port).start()
        yield sb, portal
    finally:
        rc = portal.stop() if portal is not None else 0
        sb.down()
    if portal is not None:
        reports = portal.sanitizer_reports()
        assert not reports, "\n".join(reports)
        assert rc == 0, portal.log_text()[-3000:]


@pytest.fixture(scope="session")
def sb(world):
    return world[0]


@pytest.fixture(scope="session")
def portal(world):
    return world[1]


@pytest.fixture(autouse=True)
def healthy(world):
    yield
    sb, portal = world
    assert portal.proc.poll() is None, "kenpo-web died:\n" + portal.log_text()[-3000:]
    assert not portal.sanitizer_reports(), "\n".join(portal.sanitizer_reports())
    assert not sb.kenpod_sanitizer_reports()


@pytest.fixture(scope="session")
def chrome():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="kenpo-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--user-data-dir=" + profile,
                "--window-size=1000,1300", "--lang=ja"):
        opts.add_argument(arg)
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(60)
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    os.makedirs(SCREENSHOTS, exist_ok=True)
    try:
        yield drv
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def browser(chrome, portal):
    """The browser with no cookie of the portal left from another test."""
    chrome.get(portal.base + "/static/kenpo.css")
    chrome.delete_all_cookies()
    return chrome
