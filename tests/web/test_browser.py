"""Every flow of kenpo-web's screens, driven end to end by headless Chromium
against the sandbox: key login (再請求, a wrong key, an expired key, leaving
the key screen), letter registration through the mailed link, registration
by identity check with the CAPTCHA, both ways on one screen, password reset
with the forced change, profile changes with their notice mails and the
choice of the key's address, the profile session serving two tabs and
ending, password change, logout, the language and text-size switches.  Each
screen is kept as a screenshot in $KENPO_BUILDDIR/tests/web/screenshots."""

import calendar
import os
import re
import secrets
import time

from selenium.webdriver.common.by import By
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.support.ui import WebDriverWait

import kenposandbox as ks
import webportal as wp
from conftest import ACN, ACN_UID_MIN, PASSWORD, SCREENSHOTS, TEMP_PASSWORD

NEW_PASSWORD = "Shinki2025Pw"
SID = ks.SOCIETY_ID
_shots = iter(range(1, 1000))


def shot(b, name):
    """A screenshot of the whole page."""
    height = b.execute_script("return document.documentElement.scrollHeight")
    width = b.get_window_size()["width"]
    b.set_window_size(width, max(600, min(int(height) + 140, 4000)))
    b.save_screenshot(os.path.join(SCREENSHOTS, "%02d-%s.png" % (next(_shots), name)))


def go(b, portal, path):
    b.get(portal.base + path)


def fill(b, name, value):
    e = b.find_element(By.NAME, name)
    e.clear()
    e.send_keys(value)


def _replaced(old):
    """Whether the page of `old` has gone.  Chromium may answer a question
    about a node of a page being replaced with an error of its own rather
    than a stale reference: either means the page is gone."""
    def check(_):
        try:
            old.is_enabled()
            return False
        except (StaleElementReferenceException, WebDriverException):
            return True
    return check


def press(b, action, label=None):
    """Click the submit button of the form posting to /<sid>/<action>."""
    forms = [f for f in b.find_elements(By.TAG_NAME, "form")
             if f.get_attribute("action").endswith("/" + action)]
    assert forms, "no form for %s on %s" % (action, b.current_url)
    buttons = forms[0].find_elements(By.CSS_SELECTOR, "button[type=submit]")
    if label is not None:
        buttons = [x for x in buttons if x.text == label]
    old = b.find_element(By.TAG_NAME, "html")
    buttons[0].click()
    # The answer may take a password hash and a mail: wait for the new page.
    WebDriverWait(b, 60).until(_replaced(old))
    WebDriverWait(b, 60).until(
        lambda d: d.execute_script("return document.readyState") == "complete")


def h1(b):
    return b.find_element(By.TAG_NAME, "h1").text


def text(b):
    return b.find_element(By.TAG_NAME, "body").text


def error_text(b):
    return " ".join(e.text for e in b.find_elements(By.CSS_SELECTOR, ".error"))


def path(b):
    return re.sub(r"^http://[^/]+", "", b.current_url)


def member(sb, hashes, nickname="ご本人", extra=()):
    login = wp.new_login("Web")
    addr = "%s@mail.example.jp" % login.lower().replace(".", "-")
    m = sb.add_member(login, nickname=nickname,
                      extra=list(extra) + [("userPassword", hashes[PASSWORD]),
                                           ("kenpoMail1", addr)])
    m["mail"] = addr
    return m


def pending_key(sb, m):
    return "kenpoKeyHash:" in sb.ldapsearch(m["dn"], "(objectClass=*)", "kenpoKeyHash",
                                            scope="base")


def login(b, portal, m, password=PASSWORD, screenshots=False):
    go(b, portal, "/%s/login" % SID)
    if screenshots:
        shot(b, "login")
    fill(b, "login", m["login"])
    fill(b, "password", password)
    press(b, "login")


def key_login(b, portal, sb, m, n=1, screenshots=False, password=PASSWORD):
    login(b, portal, m, password=password, screenshots=screenshots)
    assert path(b) == "/%s/key" % SID, text(b)
    if screenshots:
        shot(b, "key")
    fill(b, "key", wp.key_of(wp.wait_mail(sb, m["mail"], n)))
    press(b, "key")
    assert path(b) == "/%s/home" % SID, text(b)


# ---- login with the key ------------------------------------------------------------

def test_login_with_key_home_and_logout(browser, portal, sb, hashes):
    b = browser
    m = member(sb, hashes, nickname="たろう")
    login(b, portal, m, screenshots=True)
    assert h1(b) == "暗証キー入力"
    body = text(b)
    assert "****@****.jp" in body
    assert "※暗証キーを入力するまでこのページは閉じないでください。" in body
    assert "この暗証キーは約10分間有効です。" in body
    assert re.search(r"暗証キーの残り有効時間：約(10|9)分", body), body
    shot(b, "key")
    fill(b, "key", wp.key_of(wp.wait_mail(sb, m["mail"])))
    press(b, "key")
    assert path(b) == "/%s/home" % SID
    body = text(b)
    assert "ようこそたろうさん" in body
    assert "前回ログイン日時 なし（初めてのログイン）" in body
    shot(b, "home-first")
    press(b, "logout")
    assert path(b) == "/%s/login?bye=1" % SID
    assert "ログアウトしました。" in text(b)
    # The second login shows the first one, as the history has it.
    first = history(sb, m)
    assert len(first) == 1, first
    key_login(b, portal, sb, m, n=2)
    assert "前回ログイン日時 %s" % local_time(first[0]) in text(b), text(b)
    shot(b, "home")
    assert not pending_key(sb, m)
    assert len(history(sb, m)) == 2


def history(sb, m):
    """The member's kenpoLoginHistory values, the newest first."""
    out = sb.ldapsearch(m["dn"], "(objectClass=*)", "kenpoLoginHistory", scope="base")
    return sorted(re.findall(r"^kenpoLoginHistory: (\S+ .*)$", out, re.M), reverse=True)


def local_time(value):
    """A history value's time as the screens show it (the society's zone,
    Asia/Tokyo)."""
    t = time.strptime(value.split(".")[0].split("Z")[0], "%Y%m%d%H%M%S")
    return time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime(calendar.timegm(t) + 9 * 3600))


def test_home_shows_the_newest_login_of_the_history(browser, portal, sb, hashes):
    """前回ログイン日時 is the newest login of the member's history, whatever
    service it came through (here the manual's own date, from sshd)."""
    b = browser
    m = member(sb, hashes, extra=[
        ("kenpoLoginHistory", "20230324013306.000Z sshd 192.0.2.7"),
        ("kenpoLoginHistory", "20230301000000.000Z kenpo-web 192.0.2.8")])
    key_login(b, portal, sb, m)
    assert "前回ログイン日時 2023/03/24 10:33:06" in text(b), text(b)
    shot(b, "home-history")
    assert len(history(sb, m)) == 3


def test_wrong_password_is_one_message(browser, portal, sb, hashes):
    b = browser
    m = member(sb, hashes)
    login(b, portal, m, password="Wrong2024Pass")
    assert path(b) == "/%s/login" % SID
    assert "ログインIDまたはパスワードが正しくありません。" in text(b)
    shot(b, "login-wrong")
    go(b, portal, "/%s/login" % SID)
    fill(b, "login", "Nobody.%s" % os.urandom(2).hex())
    fill(b, "password", PASSWORD)
    press(b, "login")
    assert "ログインIDまたはパスワードが正しくありません。" in text(b)
    assert wp.mails_to(sb, m["mail"]) == []


def test_resend_wrong_key_then_new_key(browser, portal, sb, hashes):
    b = browser
    m = member(sb, hashes)
    login(b, portal, m)
    first = wp.key_of(wp.wait_mail(sb, m["mail"]))
    # Too soon: no new mail, and the screen says so.
    press(b, "key/resend")
    assert re.search(r"暗証キーの再請求は(1分|\d+秒)後に行えます。新しいメールは送信していません。",
                     text(b)), text(b)
    assert len(wp.mails_to(sb, m["mail"])) == 1
    with sb.kenpod_settings_changed(society={"key_resend_cooldown": "0s"}):
        press(b, "key/resend")
        assert "新しい暗証キーを送信しました。以前の暗証キーは無効になりました。" in text(b)
        shot(b, "key-resent")
        second = wp.key_of(wp.wait_mail(sb, m["mail"], 2))
        if second != first:
            fill(b, "key", first)
            press(b, "key")
            assert "暗証キーが正しくありません。あと" in text(b), text(b)
            shot(b, "key-wrong")
        fill(b, "key", "12345")
        press(b, "key")
        assert "暗証キーは、メールに記載された10桁の数字です。" in text(b)
        fill(b, "key", second)
        press(b, "key")
        assert path(b) == "/%s/home" % SID, text(b)


def test_expired_key_then_resend(browser, portal, sb, hashes):
    b = browser
    m = member(sb, hashes)
    with sb.kenpod_settings_changed(society={"key_validity": "2s"}):
        login(b, portal, m)
        key = wp.key_of(wp.wait_mail(sb, m["mail"]))
        time.sleep(3)
        fill(b, "key", key)
        press(b, "key")
        assert "暗証キーの有効期限が切れました。暗証キー再請求を行ってください。" in text(b), text(b)
        shot(b, "key-expired")
    with sb.kenpod_settings_changed(society={"key_resend_cooldown": "0s"}):
        press(b, "key/resend")
        assert "新しい暗証キーを送信しました。" in text(b), text(b)
        fill(b, "key", wp.key_of(wp.wait_mail(sb, m["mail"], 2)))
        press(b, "key")
        assert path(b) == "/%s/home" % SID, text(b)


def test_leaving_the_key_screen_voids_the_key(browser, portal, sb, hashes):
    b = browser
    m = member(sb, hashes)
    login(b, portal, m)
    assert pending_key(sb, m)
    press(b, "key/abort")
    assert path(b) == "/%s/login" % SID
    assert "ログインを中止しました。発行された暗証キーは無効になりました。" in text(b)
    assert not pending_key(sb, m)
    # Another page of the portal is leaving too.
    login(b, portal, m)
    assert pending_key(sb, m)
    go(b, portal, "/%s/forgot" % SID)
    assert not pending_key(sb, m)
    go(b, portal, "/%s/key" % SID)
    assert path(b) == "/%s/login" % SID


# ---- registration -------------------------------------------------------------------

def test_letter_registration_by_mailed_link(browser, portal, sb, hashes):
    b = browser
    m = sb.add_preissued_member(extra=[("kenpoTempPassword", hashes[TEMP_PASSWORD])])
    addr = "letter-%s@mail.example.jp" % os.urandom(3).hex()
    new_login = wp.new_login("Toyo")
    go(b, portal, "/%s/login" % SID)
    b.find_element(By.LINK_TEXT, "新規利用登録").click()
    assert h1(b) == "新規利用登録"
    assert "kc@toyobo.kenpo.test" in text(b)          # the empty-mail address
    shot(b, "register")
    fill(b, "address", addr)
    press(b, "register")
    assert path(b) == "/%s/register/sent" % SID
    body = text(b)
    assert "※URLの有効期限は3時間です。" in body
    assert "迷惑メール" in body
    shot(b, "register-sent")
    link = wp.link_of(wp.wait_mail(sb, addr))
    b.get(link)
    assert path(b) == "/%s/register/start" % SID      # the token left the URL
    assert "token" not in b.current_url
    assert "事前にお知らせしたログインIDと仮パスワードでログインしてください。" in text(b)
    shot(b, "register-letter")
    fill(b, "login", m["login"])
    fill(b, "temp_password", "Wrong0pass")
    press(b, "register/start")
    assert "ログインIDまたは仮パスワードが正しくありません。" in text(b)
    fill(b, "login", m["login"])
    fill(b, "temp_password", TEMP_PASSWORD)
    press(b, "register/start")
    assert path(b) == "/%s/register/form" % SID
    assert h1(b) == "利用者情報入力"
    assert b.find_element(By.NAME, "mail").get_attribute("value") == addr
    assert b.find_element(By.NAME, "nickname").get_attribute("value") == "ご本人"
    shot(b, "userinfo")
    fill(b, "login", "AB1234C5")
    fill(b, "password", "short")
    fill(b, "password2", "short")
    press(b, "register/form")
    body = text(b)
    assert "入力内容をご確認ください。" in body
    assert "8" in body and "7" in body
    shot(b, "userinfo-errors")
    fill(b, "login", new_login)
    fill(b, "password", NEW_PASSWORD)
    fill(b, "password2", NEW_PASSWORD)
    fill(b, "nickname", "とよ")
    press(b, "register/form")
    assert path(b) == "/%s/register/done" % SID, text(b)
    assert "利用登録が完了しました。ログイン画面へ進んでください。" in text(b)
    shot(b, "registered")
    done = wp.wait_mail(sb, addr, 2)
    assert "利用登録完了" in done.kenpo_subject or "利用登録" in done.kenpo_body
    # The guide link is spent.
    b.get(link)
    assert "このURLは無効です" in text(b), text(b)
    # And the new member logs in.
    b.find_element(By.LINK_TEXT, "新規利用登録")
    mm = {"login": new_login, "mail": addr}
    key_login(b, portal, sb, mm, n=3, password=NEW_PASSWORD)
    assert "ようこそとよさん" in text(b)


def test_identity_registration_with_captcha(browser, portal, sb, hashes):
    b = browser
    base = "ou=%s,%s" % (ACN, ks.SUFFIX)
    roster = "hanako-%s@mail.example.jp" % os.urandom(3).hex()
    sb.add_roster_member("A%s" % os.urandom(3).hex(), roster, "1985-04-12", base=base)
    go(b, portal, "/%s/register" % ACN)
    fill(b, "address", roster)
    press(b, "register")
    b.get(wp.link_of(wp.wait_mail(sb, roster)))
    assert path(b) == "/%s/register/start" % ACN
    shot(b, "register-identity-start")
    b.find_element(By.LINK_TEXT, "本人確認ページへ").click()
    assert h1(b) == "本人確認"
    shot(b, "identity")
    fill(b, "address", roster)
    fill(b, "dob_y", "1985")
    fill(b, "dob_m", "4")
    fill(b, "dob_d", "12")
    fill(b, "captcha", "WRONG")
    press(b, "identity/check")
    assert "画像の文字が正しくありません。" in text(b)
    assert b.find_element(By.NAME, "dob_y").get_attribute("value") == "1985"
    # The image is a real PNG of the session's challenge.
    png = b.execute_script(
        "var i=document.querySelector('.captcha img');return [i.naturalWidth,i.complete];")
    assert png[0] == 220 and png[1]
    fill(b, "captcha", portal.captcha_answer().lower())
    press(b, "identity/check")
    assert path(b) == "/%s/identity/done" % ACN, text(b)
    assert h1(b) == "本人確認完了"
    authkey = b.find_element(By.ID, "authkey").text
    assert re.fullmatch(r"[A-Za-z0-9]{8}", authkey), authkey
    assert "認証キーはメールに記載されませんので、この画面で必ず覚えてください。" in text(b)
    shot(b, "identity-done")
    msg = wp.wait_mail(sb, roster, 2)
    assert authkey not in msg.kenpo_body
    b.get(wp.link_of(msg))
    assert path(b) == "/%s/identity/key" % ACN
    shot(b, "authkey")
    fill(b, "authkey", "AAAAAAAA")
    press(b, "identity/key")
    assert "認証キーが正しくありません。あと" in text(b)
    fill(b, "authkey", authkey)
    press(b, "identity/key")
    assert path(b) == "/%s/register/form" % ACN, text(b)
    new_login = wp.new_login("Acn")
    fill(b, "login", new_login)
    fill(b, "password", NEW_PASSWORD)
    fill(b, "password2", NEW_PASSWORD)
    press(b, "register/form")
    assert path(b) == "/%s/register/done" % ACN, text(b)
    go(b, portal, "/%s/login" % ACN)
    fill(b, "login", new_login)
    fill(b, "password", NEW_PASSWORD)
    press(b, "login")
    fill(b, "key", wp.key_of(wp.wait_mail(sb, roster, 4)))
    press(b, "key")
    assert path(b) == "/%s/home" % ACN, text(b)


def test_both_registration_methods_on_one_screen(browser, portal, sb, hashes):
    """acn issues letters and checks identities: 新規利用登録 offers the
    letter's login and 本人確認 on one screen, and the letter's way works."""
    b = browser
    base = "ou=%s,%s" % (ACN, ks.SUFFIX)
    letter = sb._member("".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(6)) +
                        "%02d" % secrets.randbelow(100),
                        ACN_UID_MIN + 90000 + secrets.randbelow(9000), state="issued")
    letter["dn"] = "kenpoMemberNumber=%s,ou=members,%s" % (letter["number"], base)
    sb.ldapadd(sb.member_ldif(letter, [("kenpoTempPassword", hashes[TEMP_PASSWORD])]))
    addr = "both-%s@mail.example.jp" % os.urandom(3).hex()
    go(b, portal, "/%s/register" % ACN)
    fill(b, "address", addr)
    press(b, "register")
    b.get(wp.link_of(wp.wait_mail(sb, addr)))
    assert path(b) == "/%s/register/start" % ACN
    assert "事前にお知らせしたログインIDと仮パスワードでログインしてください。" in text(b)
    assert b.find_element(By.NAME, "temp_password")
    assert b.find_element(By.LINK_TEXT, "本人確認ページへ")
    shot(b, "register-both")
    fill(b, "login", letter["login"])
    fill(b, "temp_password", TEMP_PASSWORD)
    press(b, "register/start")
    assert path(b) == "/%s/register/form" % ACN, text(b)
    new_login = wp.new_login("Both")
    fill(b, "login", new_login)
    fill(b, "password", NEW_PASSWORD)
    fill(b, "password2", NEW_PASSWORD)
    press(b, "register/form")
    assert path(b) == "/%s/register/done" % ACN, text(b)
    assert sb.entry(letter["dn"], "uid", "kenpoState") == {"uid": [new_login],
                                                          "kenpoState": ["registered"]}


def test_captcha_answer_is_single_use(browser, portal, sb):
    """A right answer typed after it was used (wrongly) is refused."""
    b = browser
    addr = "once-%s@mail.example.jp" % os.urandom(3).hex()
    sb.add_roster_member("B%s" % os.urandom(3).hex(), addr, "1990-01-01",
                         base="ou=%s,%s" % (ACN, ks.SUFFIX))
    go(b, portal, "/%s/register" % ACN)
    fill(b, "address", addr)
    press(b, "register")
    b.get(wp.link_of(wp.wait_mail(sb, addr)))
    go(b, portal, "/%s/identity/check" % ACN)
    answer = portal.captcha_answer()
    # Another tab of the same session shows a new challenge: the old
    # answer is gone.
    go(b, portal, "/%s/identity/check" % ACN)
    fill(b, "address", addr)
    fill(b, "dob_y", "1990")
    fill(b, "dob_m", "1")
    fill(b, "dob_d", "1")
    if answer != portal.captcha_answer():
        fill(b, "captcha", answer)
        press(b, "identity/check")
        assert "画像の文字が正しくありません。" in text(b)
    assert len(wp.mails_to(sb, addr)) == 1


# ---- reset, forced change, password change ------------------------------------------

def test_reset_forced_change_and_new_password(browser, portal, sb, hashes):
    b = browser
    m = member(sb, hashes)
    go(b, portal, "/%s/login" % SID)
    b.find_element(By.LINK_TEXT, "ログインID・パスワードを忘れた方はこちら").click()
    assert h1(b) == "パスワード再発行"
    shot(b, "forgot")
    fill(b, "address", m["mail"])
    press(b, "forgot")
    assert path(b) == "/%s/forgot/sent" % SID
    shot(b, "forgot-sent")
    msg = wp.wait_mail(sb, m["mail"])
    temp = re.search(r"仮パスワード\s*[：:]\s*([A-Za-z0-9]{8})", msg.kenpo_body).group(1)
    link = wp.link_of(msg)
    b.get(link)
    assert path(b) == "/%s/reset/login" % SID
    assert h1(b) == "仮ログイン"
    assert b.find_element(By.NAME, "login").get_attribute("value") == m["login"]
    shot(b, "temp-login")
    fill(b, "password", temp)
    press(b, "reset/login")
    assert path(b) == "/%s/password/new" % SID, text(b)
    assert h1(b) == "パスワード変更"
    shot(b, "forced-change")
    # Home is out of reach until the password is changed.
    go(b, portal, "/%s/home" % SID)
    assert path(b) == "/%s/password/new" % SID
    fill(b, "password", "alllowercase1")
    fill(b, "password2", "alllowercase1")
    press(b, "password/new")
    assert "新しいパスワードは次の理由で使用できません。" in text(b)
    shot(b, "forced-change-error")
    fill(b, "password", NEW_PASSWORD)
    fill(b, "password2", NEW_PASSWORD)
    press(b, "password/new")
    assert path(b) == "/%s/home" % SID, text(b)
    assert "パスワードを変更しました。" in text(b)
    # The link is spent.
    b.get(link)
    assert "このURLは無効です" in text(b)
    # The temporary password took no key: where the society requires it,
    # a change with the current password needs a login with the key.
    go(b, portal, "/%s/password" % SID)
    change_password(b, NEW_PASSWORD, PASSWORD)
    assert path(b) == "/%s/login" % SID, text(b)
    assert "あらためてログインしてください" in text(b)
    # Nothing changed.
    key_login(b, portal, sb, m, n=next_mail(sb, m, 1), password=NEW_PASSWORD)
    press(b, "logout")


def change_password(b, current, new):
    fill(b, "current", current)
    fill(b, "password", new)
    fill(b, "password2", new)
    press(b, "password")


def next_mail(sb, m, notices):
    """The number the next mail to the member will have, once the
    `notices` mails of password changes (sent after the answer) are in."""
    deadline = time.monotonic() + 15
    while len([x for x in wp.mails_to(sb, m["mail"])
               if "パスワード変更" in x.kenpo_subject]) < notices:
        assert time.monotonic() < deadline, subjects(sb, m["mail"])
        time.sleep(0.05)
    return len(wp.mails_to(sb, m["mail"])) + 1


def test_password_change_after_the_login_with_key(browser, portal, sb, hashes):
    b = browser
    m = member(sb, hashes)
    key_login(b, portal, sb, m)
    b.find_element(By.LINK_TEXT, "パスワード変更").click()
    assert h1(b) == "パスワード変更"
    shot(b, "password")
    change_password(b, "Wrong2024Pass", NEW_PASSWORD)
    assert "現在のパスワードが正しくありません。" in text(b)
    change_password(b, PASSWORD, NEW_PASSWORD)
    assert path(b) == "/%s/home" % SID, text(b)
    assert "パスワードを変更しました。" in text(b)
    shot(b, "password-changed")
    # The change voided the proof of that login: a second change in the
    # same session asks for a new login, and changes nothing.
    go(b, portal, "/%s/password" % SID)
    change_password(b, NEW_PASSWORD, "Dritte2025Pw")
    assert path(b) == "/%s/login" % SID, text(b)
    assert "あらためてログインしてください" in text(b)
    go(b, portal, "/%s/home" % SID)
    assert path(b) == "/%s/login" % SID
    # The old password is gone, the new one logs in, and the change works
    # again after that login.
    login(b, portal, m, password=PASSWORD)
    assert "ログインIDまたはパスワードが正しくありません。" in text(b)
    key_login(b, portal, sb, m, n=next_mail(sb, m, 1), password=NEW_PASSWORD)
    go(b, portal, "/%s/password" % SID)
    change_password(b, NEW_PASSWORD, PASSWORD)
    assert path(b) == "/%s/home" % SID, text(b)
    press(b, "logout")
    key_login(b, portal, sb, m, n=next_mail(sb, m, 2))


# ---- profile ----------------------------------------------------------------------------

def subjects(sb, addr):
    return [x.kenpo_subject for x in wp.mails_to(sb, addr)]


def wait_subject(sb, addr, word, timeout=15.0):
    """The first mail to addr whose subject holds word (mails of a profile
    change go out after the answer)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [x for x in wp.mails_to(sb, addr) if word in x.kenpo_subject]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError("no mail '%s' to %s: %s" % (word, addr, subjects(sb, addr)))


def test_profile_changes_and_notice_mail(browser, portal, sb, hashes):
    b = browser
    m = member(sb, hashes)
    sb.add_household_member(m["dn"], "01")
    sb.add_household_member(m["dn"], "02", nickname="じろう")
    key_login(b, portal, sb, m)
    b.find_element(By.LINK_TEXT, "プロフィール設定").click()
    assert h1(b) == "プロフィール設定（ご本人さん）"
    body = text(b)
    for label in ("ログインID", "ニックネーム", "メールアドレス1", "メールアドレス2",
                  "メールアドレス3", "認証キーによるログイン設定", "現在のパスワード",
                  "通知メール受信設定", "世帯内への公開設定", "医療費通知メール",
                  "申請書公開メール通知", "ご家族01さん", "じろうさん"):
        assert label in body, label
    # Each of the household is headed by the nickname, as in the list above.
    assert b.find_element(By.CSS_SELECTOR, "#hh02 h2").text == "じろうさん"
    # The key goes to address 1 until the member chooses another.
    assert b.find_element(By.CSS_SELECTOR, "input[name=key_mail][value='1']").is_selected()
    shot(b, "profile")
    fill(b, "nickname", "はなこ")
    b.find_element(By.CSS_SELECTOR, "input[name=notify_magazine]").click()
    b.find_element(By.CSS_SELECTOR, "input[name='household.01.disclose_medical'][value=yes]").click()
    fill(b, "household.02.nickname", "さぶろう")
    press(b, "profile")
    assert path(b) == "/%s/profile" % SID
    assert "プロフィールを登録しました。" in text(b), text(b)
    assert "お知らせを送信しました" not in text(b)
    assert h1(b) == "プロフィール設定（はなこさん）"
    e = sb.entry(m["dn"], "kenpoNickname", "kenpoNotifyMagazine")
    assert e["kenpoNickname"] == ["はなこ"]
    assert e["kenpoNotifyMagazine"] == ["FALSE"]
    hh = sb.entry("kenpoHouseholdIndex=02," + m["dn"], "kenpoNickname")
    assert hh["kenpoNickname"] == ["さぶろう"]
    shot(b, "profile-saved")
    # A new address needs the current password: without it, or with a
    # wrong one, nothing changes.
    second = "second-%s@mail.example.jp" % os.urandom(3).hex()
    fill(b, "mail2", second)
    press(b, "profile")
    assert "現在のパスワードを入力してください。" in error_text(b), text(b)
    assert b.find_element(By.NAME, "mail2").get_attribute("value") == second
    fill(b, "current_password", "Wrong2024Pass")
    press(b, "profile")
    assert "現在のパスワードが正しくありません。" in error_text(b), text(b)
    assert b.find_element(By.NAME, "current_password").get_attribute("value") == ""
    assert "kenpoMail2" not in sb.entry(m["dn"], "kenpoMail2")
    fill(b, "current_password", PASSWORD)
    press(b, "profile")
    body = text(b)
    assert "変更前に登録されていたメールアドレスに、変更のお知らせを送信しました。" in body, body
    assert "新しく登録したメールアドレスに、登録のお知らせを送信しました。" in body, body
    assert sb.entry(m["dn"], "kenpoMail2")["kenpoMail2"] == [second]
    wait_subject(sb, m["mail"], "ご登録内容変更のお知らせ")
    wait_subject(sb, second, "メールアドレス登録のお知らせ")
    # 認証キーによるログイン設定: an address that is not there cannot
    # receive the key; address 2 can.
    b.find_element(By.CSS_SELECTOR, "input[name=key_mail][value='3']").click()
    fill(b, "current_password", PASSWORD)
    press(b, "profile")
    assert "登録されているメールアドレスを選んでください。" in error_text(b), text(b)
    shot(b, "profile-error")
    b.find_element(By.CSS_SELECTOR, "input[name=key_mail][value='2']").click()
    fill(b, "current_password", PASSWORD)
    press(b, "profile")
    assert "変更のお知らせを送信しました。" in text(b), text(b)
    assert sb.entry(m["dn"], "kenpoKeyMail")["kenpoKeyMail"] == ["2"]
    assert b.find_element(By.CSS_SELECTOR, "input[name=key_mail][value='2']").is_selected()
    # Removing address 2 sends the key to address 1 again.
    fill(b, "mail2", "")
    fill(b, "current_password", PASSWORD)
    press(b, "profile")
    assert "認証キーはメールアドレス1に送信します。" in text(b), text(b)
    assert sb.entry(m["dn"], "kenpoKeyMail")["kenpoKeyMail"] == ["1"]
    # Address 1 changes: a notice goes to the old address.
    before = len(wp.mails_to(sb, m["mail"]))
    fill(b, "mail1", "new-" + m["mail"])
    fill(b, "current_password", PASSWORD)
    press(b, "profile")
    assert "変更前に登録されていたメールアドレスに、変更のお知らせを送信しました。" in text(b)
    wp.wait_mail(sb, m["mail"], before + 1)
    # Rules of the manual, each a clear error with nothing changed (the
    # browser's own check of required fields is taken away first: the
    # server must refuse on its own).
    fill(b, "mail1", "")
    b.execute_script("document.querySelectorAll('[required]').forEach("
                     "function (e) { e.removeAttribute('required'); });")
    press(b, "profile")
    assert "メールアドレス1を空白のまま" in error_text(b), text(b)
    # The refused form comes back as it was filled in.
    assert b.find_element(By.NAME, "mail1").get_attribute("value") == ""
    assert sb.entry(m["dn"], "kenpoMail1")["kenpoMail1"] == ["new-" + m["mail"]]
    # The home screen greets the new nickname.
    go(b, portal, "/%s/home" % SID)
    assert "ようこそはなこさん" in text(b)


def test_profile_session_slides_and_serves_two_tabs(browser, portal, sb, hashes):
    """The login is kenpod's profile session: it serves two tabs at once,
    each page keeps it alive, it ends after session_idle without use, and
    logging out ends it."""
    b = browser
    m = member(sb, hashes)
    with sb.kenpod_settings_changed(society={"session_idle": "6s"}):
        key_login(b, portal, sb, m)
        first = b.current_window_handle
        go(b, portal, "/%s/profile" % SID)
        b.switch_to.new_window("tab")
        second = b.current_window_handle
        go(b, portal, "/%s/profile" % SID)
        fill(b, "nickname", "たぶ2")
        press(b, "profile")
        assert "プロフィールを登録しました。" in text(b), text(b)
        # The first tab's form was shown before: it still saves.
        b.switch_to.window(first)
        b.find_element(By.CSS_SELECTOR, "input[name=notify_generic]").click()
        press(b, "profile")
        assert "プロフィールを登録しました。" in text(b), text(b)
        e = sb.entry(m["dn"], "kenpoNickname", "kenpoNotifyGeneric")
        assert e["kenpoNickname"] == ["たぶ2"] and e["kenpoNotifyGeneric"] == ["FALSE"]
        # Pages keep the session alive past session_idle ...
        for _ in range(4):
            time.sleep(2)
            go(b, portal, "/%s/home" % SID)
            assert path(b) == "/%s/home" % SID, text(b)
        assert "ようこそたぶ2さん" in text(b)
        # ... and without use it ends, in every tab.
        time.sleep(8)
        b.switch_to.window(second)
        go(b, portal, "/%s/profile" % SID)
        assert path(b) == "/%s/login" % SID, text(b)
        assert "一定時間操作がなかったか" in text(b), text(b)
        shot(b, "login-session-ended")
        b.close()
        b.switch_to.window(first)
        go(b, portal, "/%s/home" % SID)
        assert path(b) == "/%s/login" % SID
    # Logging out ends the session at kenpod: its ticket is gone (the
    # one that timed out may still wait for the directory's clean-up).
    key_login(b, portal, sb, m, n=2)
    before = tickets(sb, m)
    press(b, "logout")
    assert tickets(sb, m) == before - 1


def tickets(sb, m):
    """The profile sessions of a member in the directory."""
    out = sb.ldapsearch("ou=tokens," + ks.SOCIETY_BASE,
                        "(&(kenpoTokenKind=ticket)(kenpoTokenMember=%s))" % m["dn"], "dn")
    return out.count("dn: ")


# ---- language, text size, phone ------------------------------------------------------------

def test_english_switch_text_size_and_phone(browser, portal, sb, hashes):
    b = browser
    go(b, portal, "/%s/login" % SID)
    press(b, "prefs", "English")
    assert h1(b) == "Log in"
    assert b.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    shot(b, "login-en")
    press(b, "prefs", "L")
    assert "size-l" in b.find_element(By.TAG_NAME, "html").get_attribute("class")
    press(b, "prefs", "日本語")
    assert h1(b) == "ログイン"
    press(b, "prefs", "中")
    b.set_window_size(390, 844)
    go(b, portal, "/%s/login" % SID)
    # Usable on a phone: nothing wider than the screen, labels on every field.
    wide = b.execute_script(
        "return Array.from(document.querySelectorAll('body *')).filter(function (e) {"
        " return e.getBoundingClientRect().right > document.documentElement.clientWidth + 1; })"
        ".map(function (e) { return e.tagName + '.' + e.className + ':' +"
        " Math.round(e.getBoundingClientRect().right); });")
    assert b.execute_script("return document.documentElement.scrollWidth") <= \
        b.execute_script("return window.innerWidth"), wide
    for name in ("login", "password"):
        assert b.find_element(By.CSS_SELECTOR, "label[for=%s]" % name)
    shot(b, "login-phone")
    b.set_window_size(1000, 1300)
    # Without JavaScript the show-password box stays hidden and the form works;
    # with it, the box appears.
    assert b.find_element(By.CSS_SELECTOR, "p.showpw").is_displayed()
