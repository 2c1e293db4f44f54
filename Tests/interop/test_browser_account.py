"""Deleting one's account from the settings screen (issue 18): a wrong password is refused on
the form; the last owner of a shared room is told to hand it over; after our own confirm
dialog the account is deleted, the page logs out with a notice, the old login fails, and the
messages stay in the room under "Deleted user"."""
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
    driver = make_driver(DESKTOP)
    try:
        driver.get(server.url + "/")
        login(driver, me["user"]["username"], PASSWORD)
        driver.get(server.url + "/#/settings")
        # A wrong password: refused on the form, nothing deleted.
        form = delete_with(driver, "not my password")
        text_of(driver, "form#delete-account-form .form-error", "password is wrong")
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
    finally:
        driver.quit()
