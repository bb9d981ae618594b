"""Hostile input against kenpo-web, without a browser: forged CSRF tokens
and cross-site posts, session cookies replayed after logout, mailed links
used twice, oversized requests and forms, and attempts to inject headers.
Each gets a clear error, and nothing changes: no mail, no login, no write."""

import concurrent.futures
import os
import re
import signal
import socket
import time

import kenposandbox as ks
import webportal as wp
from conftest import PASSWORD
from test_browser import member, pending_key

SID = ks.SOCIETY_ID


def client(portal):
    return wp.Client(portal.port)


def http_login(portal, sb, m, n=1):
    """A logged-in visitor (password, then the key from the n-th mail)."""
    c = client(portal)
    r = c.post("/%s/login" % SID, {"login": m["login"], "password": PASSWORD})
    assert r.status == 303 and r.getheader("Location") == "/%s/key" % SID, r.text[:300]
    key = wp.key_of(wp.wait_mail(sb, m["mail"], n))
    r = c.post("/%s/key" % SID, {"key": key})
    assert r.getheader("Location") == "/%s/home" % SID, r.text[:500]
    return c


def test_logins_waiting_on_kenpod_hold_up_no_page(portal, sb, hashes):
    """Logins that wait on kenpod (stopped here) hold only workers: the
    login page, which another worker renders, and the style sheet, which
    the server's own threads answer, come at once.  When kenpod goes on,
    every waiting login gets its answer."""
    members = [member(sb, hashes) for _ in range(6)]
    waiting = [client(portal) for _ in members]
    for c in waiting:
        c.get("/%s/login" % SID)
    pid = sb.kenpod_pid()
    # kenpod goes on before the pool waits for the logins, whatever fails.
    with concurrent.futures.ThreadPoolExecutor(len(members)) as ex:
        os.kill(pid, signal.SIGSTOP)
        try:
            logins = [ex.submit(c.post, "/%s/login" % SID,
                                {"login": m["login"], "password": PASSWORD})
                      for c, m in zip(waiting, members)]
            time.sleep(0.5)
            start = time.monotonic()
            page = client(portal).get("/%s/login" % SID)
            css = client(portal).get("/static/kenpo.css")
            took = time.monotonic() - start
            assert page.status == 200 and "ログイン" in page.text
            assert css.status == 200
            assert not any(f.done() for f in logins), "kenpod is stopped"
            assert took < 3.0, took
        finally:
            os.kill(pid, signal.SIGCONT)
        answers = [f.result(timeout=60) for f in logins]
    assert [a.status for a in answers] == [303] * len(members)
    assert all(a.getheader("Location") == "/%s/key" % SID for a in answers)


def test_every_answer_carries_the_security_headers(portal):
    c = client(portal)
    r = c.get("/%s/login" % SID)
    assert r.status == 200
    csp = r.getheader("Content-Security-Policy")
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert r.getheader("X-Frame-Options") == "DENY"
    assert r.getheader("X-Content-Type-Options") == "nosniff"
    assert r.getheader("Referrer-Policy") == "no-referrer"
    assert r.getheader("Cache-Control") == "no-store"
    cookie = r.getheader("Set-Cookie")
    assert re.fullmatch(r"__Host-kenpo=[A-Za-z0-9_-]{43}; Path=/; HttpOnly; SameSite=Strict; Secure",
                        cookie), cookie


def test_forged_csrf_token_changes_nothing(portal, sb, hashes):
    m = member(sb, hashes)
    c = client(portal)
    c.get("/%s/login" % SID)
    for token in ("", "A" * 43, "forged", wp.Client(portal.port).csrf("/%s/login" % SID)):
        r = c.request("POST", "/%s/login" % SID,
                      body={"csrf": token, "login": m["login"], "password": PASSWORD})
        assert r.status == 403, (token, r.status)
        assert "この操作は受け付けられませんでした" in r.text
        assert "何も変更されていません" in r.text
    r = c.request("POST", "/%s/forgot" % SID, body={"csrf": "x" * 43, "address": m["mail"]})
    assert r.status == 403
    assert wp.mails_to(sb, m["mail"]) == []
    assert not pending_key(sb, m)


def test_cross_site_post_is_refused(portal, sb, hashes):
    m = member(sb, hashes)
    c = client(portal)
    token = c.csrf("/%s/forgot" % SID)
    r = c.request("POST", "/%s/forgot" % SID, body={"csrf": token, "address": m["mail"]},
                  headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status == 403
    assert wp.mails_to(sb, m["mail"]) == []


def test_session_cookie_replayed_after_logout(portal, sb, hashes):
    m = member(sb, hashes)
    c = http_login(portal, sb, m)
    old_cookie = c.cookie
    token = c.csrf("/%s/profile" % SID)
    assert c.get("/%s/home" % SID).status == 200
    r = c.post("/%s/logout" % SID, {}, csrf_from="/%s/home" % SID)
    assert r.getheader("Location") == "/%s/login?bye=1" % SID
    # The old cookie is worth nothing: home sends to the login page, and a
    # profile change with the old cookie and token is refused.
    replay = client(portal)
    replay.cookie = old_cookie
    r = replay.get("/%s/home" % SID)
    assert r.status == 303 and r.getheader("Location") == "/%s/login" % SID
    replay.cookie = old_cookie
    r = replay.request("POST", "/%s/profile" % SID,
                       body={"csrf": token, "nickname": "Mallory", "login_id": m["login"],
                             "mail1": m["mail"]})
    assert r.status == 403
    assert sb.entry(m["dn"], "kenpoNickname")["kenpoNickname"] == ["ご本人"]


def test_session_id_changes_at_login(portal, sb, hashes):
    m = member(sb, hashes)
    c = client(portal)
    c.get("/%s/login" % SID)
    before = c.cookie
    c.post("/%s/login" % SID, {"login": m["login"], "password": PASSWORD})
    at_key = c.cookie
    c.post("/%s/key" % SID, {"key": wp.key_of(wp.wait_mail(sb, m["mail"]))})
    assert len({before, at_key, c.cookie}) == 3
    # The id of before the login opens nothing.
    other = client(portal)
    other.cookie = before
    assert other.get("/%s/home" % SID).status == 303


def test_mailed_links_are_single_use(portal, sb, hashes):
    m = member(sb, hashes)
    c = client(portal)
    assert c.post("/%s/forgot" % SID, {"address": m["mail"]}).status == 303
    link = wp.link_of(wp.wait_mail(sb, m["mail"]))
    path = link[link.index("/%s/" % SID):]
    r = c.get(path)
    assert r.status == 200 and "/%s/reset/login" % SID in r.text
    # No token in the page the link opens next, none in the clean URL.
    token = path.split("token=")[1]
    assert token not in c.get("/%s/reset/login" % SID).text
    r = client(portal).get(path)
    assert r.status == 410
    assert "このURLは無効です" in r.text
    # A made-up token is no better.
    r = client(portal).get("/%s/reset?token=%s" % (SID, "A" * 32))
    assert r.status == 410
    r = client(portal).get("/%s/guide?token=%%0d%%0aSet-Cookie:x" % SID)
    assert r.status == 404


def test_oversized_requests_are_refused(portal, sb, hashes):
    m = member(sb, hashes)
    c = client(portal)
    token = c.csrf("/%s/login" % SID)
    # A body over request_max (16 KiB).
    r = c.request("POST", "/%s/login" % SID,
                  body={"csrf": token, "login": m["login"], "password": "x" * 20000})
    assert r.status == 413
    # Too many fields, and one value too long.
    fields = "&".join("f%d=1" % i for i in range(700))
    r = c.request("POST", "/%s/login" % SID, raw_body=("csrf=%s&%s" % (token, fields)).encode(),
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 413
    r = c.request("POST", "/%s/login" % SID,
                  body={"csrf": token, "login": "a" * 2000, "password": PASSWORD})
    assert r.status == 413
    assert "何も変更されていません" in r.text
    # A form that is not urlencoded.
    r = c.request("POST", "/%s/login" % SID, raw_body=b"{}",
                  headers={"Content-Type": "application/json"})
    assert r.status == 415
    # Headers beyond the connection's memory.
    s = socket.create_connection(("127.0.0.1", portal.port), timeout=10)
    s.sendall(b"GET /%s/login HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n" % (
        SID.encode(), b"y" * 70000))
    answer = s.recv(200)
    s.close()
    assert re.match(rb"HTTP/1\.1 (413|431|400)", answer), answer
    assert not pending_key(sb, m)
    assert wp.mails_to(sb, m["mail"]) == []


def test_header_injection_is_refused(portal, sb):
    c = client(portal)
    token = c.csrf("/%s/login" % SID)
    # CR/LF in a form value: refused before anything looks at it.
    r = c.request("POST", "/%s/prefs" % SID,
                  body={"csrf": token, "lang": "en", "back": "/%s/login\r\nSet-Cookie: x=1" % SID})
    assert r.status == 400
    assert all(k.lower() != "set-cookie" or not v.startswith("x=") for k, v in r.getheaders())
    # An address carrying a mail header: a clear error, no mail.
    before = len(sb.mail_files())
    r = c.request("POST", "/%s/register" % SID,
                  body={"csrf": token, "address": "a@example.jp\r\nBcc: b@example.jp"})
    assert r.status == 400
    r = c.request("POST", "/%s/register" % SID,
                  body={"csrf": token, "address": "a@example.jp>,<b@example.jp"})
    assert r.status == 200 and "メールアドレスの形式が正しくありません。" in r.text
    assert len(sb.mail_files()) == before
    # A redirect target outside the site is ignored.
    r = c.request("POST", "/%s/prefs" % SID,
                  body={"csrf": token, "lang": "ja", "back": "//evil.example/x"})
    assert r.status == 303 and r.getheader("Location") == "/%s/login" % SID


def test_unknown_pages_and_methods(portal):
    c = client(portal)
    assert c.get("/nosuch/login").status == 404
    assert c.get("/%s/nosuch" % SID).status == 404
    assert c.request("DELETE", "/%s/login" % SID).status == 405
    assert c.request("POST", "/%s/home" % SID, body={}).status == 405
    r = c.get("/")
    assert r.status == 303 and r.getheader("Location") == "/%s/login" % SID


def test_lockout_and_client_address_reach_kenpod(portal, sb, hashes):
    """kenpod counts the failures and locks; kenpo-web passes the client's
    address (from the trusted proxy's X-Forwarded-For) as PAM_RHOST."""
    m = member(sb, hashes)
    with sb.kenpod_settings_changed(society={"lockout_failures": "3"}):
        c = client(portal)
        for _ in range(3):
            r = c.post("/%s/login" % SID, {"login": m["login"], "password": "Wrong2024Pass"},
                       headers={"X-Forwarded-For": "198.51.100.7"})
            assert r.status == 200
        r = c.post("/%s/login" % SID, {"login": m["login"], "password": PASSWORD},
                   headers={"X-Forwarded-For": "198.51.100.7"})
        assert "ログインの失敗が続いたため、現在ログインできません。" in r.text, r.text[-800:]
        assert r.getheader("Location") is None
        assert wp.mails_to(sb, m["mail"]) == []
        with open(sb.kenpod_log, errors="replace") as f:
            log = f.read()
        assert "login=%s service=kenpo-web rhost=198.51.100.7" % m["login"] in log


def test_works_without_javascript(portal, sb, hashes, tmp_path):
    """A browser with JavaScript off logs in with the key: nothing needs it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from conftest import CHROMEDRIVER, CHROMIUM

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                "--user-data-dir=%s" % tmp_path, "--window-size=800,1000"):
        opts.add_argument(arg)
    opts.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    b = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    b.implicitly_wait(30)
    try:
        m = member(sb, hashes)
        b.get(portal.base + "/%s/login" % SID)
        assert not b.find_element(By.CSS_SELECTOR, "p.showpw").is_displayed()
        b.find_element(By.NAME, "login").send_keys(m["login"])
        b.find_element(By.NAME, "password").send_keys(PASSWORD)
        b.find_element(By.CSS_SELECTOR, "form[action$='/login'] button").click()
        b.find_element(By.NAME, "key").send_keys(wp.key_of(wp.wait_mail(sb, m["mail"])))
        b.find_element(By.CSS_SELECTOR, "form[action$='/key'] button").click()
        assert "ようこそ" in b.find_element(By.CSS_SELECTOR, "p.welcome").text
        assert b.current_url.endswith("/%s/home" % SID)
    finally:
        b.quit()
