"""Deleting one's account from the settings screen (issue 18): a wrong password is refused on
the form, in one error line; the last owner of a shared room is told to hand it over; after
our own confirm dialog the account is deleted, the page and another open tab of it log out
saying the account was deleted (not "no longer a member"), the old login fails, and the
messages stay in the room under "Deleted user". The other party of a direct message then sees
the conversation as with "Deleted user", its composer off with a note saying why."""
import uuid

import pytest
import requests
from selenium.webdriver.common.by import By

from browser_support import DESKTOP, find, login, make_driver, require_browser, screenshot, text_of, wait

PASSWORD = "correct horse battery"


def delete_with(driver, password):
    form = find(driver, "form#delete-account-form")
    box = form.find_element(By.NAME, "password")
    box.clear()
    box.send_keys(password)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    find(driver, "dialog[open] #dialog-confirm").click()
    return form


def error_lines(driver, form_css):
    """The error lines shown in a form (its general line and its fields' lines)."""
    return [el.text for el in driver.find_elements(By.CSS_SELECTOR, f"{form_css} .form-error, {form_css} .field-error") if el.is_displayed() and el.text]


def test_delete_my_account_from_settings(server):
    require_browser()
    tag = uuid.uuid4().hex[:5]
    owner, me = server.new_user(f"own{tag}"), server.new_user(f"del{tag}")
    room = server.api("POST", "/rooms", token=owner["accessToken"], json={"name": f"bye-{tag}", "kind": "public"}).json()
    assert server.api("POST", f"/rooms/{room['id']}/join", token=me["accessToken"]).status_code == 200
    mine = server.api("POST", "/rooms", token=me["accessToken"], json={"name": f"mine-{tag}", "kind": "public"}).json()
    assert server.api("POST", f"/rooms/{mine['id']}/join", token=owner["accessToken"]).status_code == 200
    r = server.api("POST", f"/rooms/{room['id']}/messages", token=me["accessToken"], json={"body": "remember me", "clientMsgId": uuid.uuid4().hex})
    assert r.status_code == 201, r.text
    direct = server.api("POST", "/direct", token=owner["accessToken"], json={"userId": me["user"]["id"]}).json()
    r = server.api("POST", f"/rooms/{direct['id']}/messages", token=me["accessToken"], json={"body": "see you", "clientMsgId": uuid.uuid4().hex})
    assert r.status_code == 201, r.text
    driver = make_driver(DESKTOP)
    peer = make_driver(DESKTOP)  # the other party, with our direct message open
    try:
        peer.get(server.url + "/")
        login(peer, owner["user"]["username"], PASSWORD)
        peer.get(server.url + f"/#/rooms/{direct['id']}")
        text_of(peer, "#room-title", me["user"]["displayName"])
        assert find(peer, "#composer-input").is_enabled()
        driver.get(server.url + "/")
        login(driver, me["user"]["username"], PASSWORD)
        settings_tab = driver.current_window_handle
        # A second tab of the same browser, open on the shared room.
        driver.switch_to.new_window("tab")
        driver.get(server.url + f"/#/rooms/{room['id']}")
        find(driver, "#composer-input")
        find(driver, "#connection[data-state=connected]")
        other_tab = driver.current_window_handle
        driver.switch_to.window(settings_tab)
        driver.get(server.url + "/#/settings")
        # A wrong password: refused on the form in one line, nothing deleted.
        form = delete_with(driver, "not my password")
        text_of(driver, "form#delete-account-form .field-error", "password is wrong")
        assert error_lines(driver, "form#delete-account-form") == ["The password is wrong."]
        # Still the last owner of a room with another member: told to hand it over.
        form = delete_with(driver, PASSWORD)
        text_of(driver, "form#delete-account-form .form-error", "last owner")
        screenshot(driver, "account-delete-last-owner")
        assert server.api("GET", "/me", token=me["accessToken"]).status_code == 200
        # Hand the room over, then delete.
        r = server.api("PUT", f"/rooms/{mine['id']}/members/{owner['user']['id']}/role", token=me["accessToken"], json={"role": "owner"})
        assert r.status_code == 200, r.text
        delete_with(driver, PASSWORD)
        find(driver, "form#login-form")
        text_of(driver, ".flash", "Your account was deleted")
        screenshot(driver, "account-deleted")
        # The other tab: on the login screen too, saying why, not that I left a room.
        driver.switch_to.window(other_tab)
        find(driver, "form#login-form")
        text_of(driver, ".flash", "Your account was deleted")
        assert not [el.text for el in driver.find_elements(By.CSS_SELECTOR, "#notice") if el.is_displayed()]
        assert "no longer a member" not in driver.find_element(By.TAG_NAME, "body").text
        driver.close()
        driver.switch_to.window(settings_tab)
        assert server.api("GET", "/me", token=me["accessToken"]).status_code == 401
        assert server.api("POST", "/auth/login", json={"login": me["user"]["username"], "password": PASSWORD}).status_code == 401
        history = server.api("GET", f"/rooms/{room['id']}/messages", token=owner["accessToken"]).json()["messages"]
        kept = [m for m in history if m["body"] == "remember me"]
        assert kept and kept[0]["author"]["displayName"] == "Deleted user"
        # The confirmation went to the old address.
        def confirmation_mailed(_):
            mails = requests.get(server.url + "/dev/mailbox.json", timeout=5).json()
            items = mails.get("messages", mails) if isinstance(mails, dict) else mails
            return any(f"{me['user']['username']}@example.com" in str(m.get("to")) and "deleted" in m.get("subject", "").lower() for m in items)
        wait(driver).until(confirmation_mailed, "no confirmation mail")
        # The other party of our direct message: at once, and after a reload, it is with
        # "Deleted user" and cannot be written in.
        for reloaded in (False, True):
            if reloaded:
                peer.refresh()
            text_of(peer, f"#room-list li[data-room-id='{direct['id']}'] .room-name", "Deleted user")
            text_of(peer, "#room-title", "Deleted user")
            wait(peer).until(lambda d: not d.find_element(By.ID, "composer-input").is_enabled(), "the composer stayed on")
            assert not find(peer, "#send-button").is_enabled()
            text_of(peer, "#composer-note", "account was deleted")
            text_of(peer, "#messages li.message .body", "see you")
            assert not [b for b in peer.find_elements(By.CSS_SELECTOR, "#messages .action-reply") if b.is_displayed()]
        screenshot(peer, "account-deleted-direct-message")
    finally:
        driver.quit()
        peer.quit()
