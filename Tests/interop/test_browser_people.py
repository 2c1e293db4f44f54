"""Starting a direct message by searching people by name (issue 18): the "Message someone"
screen lists, as one types, the people whose username or display name starts with the text
among those I share a room with (GET /api/users), never a stranger unless their exact
username is typed; choosing one opens the conversation."""
import uuid

import pytest
from selenium.webdriver.common.by import By

from browser_support import DESKTOP, find, login, make_driver, require_browser, screenshot, wait

PASSWORD = "correct horse battery"


def suggestions(driver):
    return [el.get_attribute("data-username") for el in driver.find_elements(By.CSS_SELECTOR, "#direct-suggestions button.person") if el.is_displayed()]


def test_people_found_by_name_and_a_conversation_started(server):
    require_browser()
    tag = uuid.uuid4().hex[:4]
    me = server.new_user(f"pm{tag}")
    friend = server.new_user(f"fr{tag}")
    stranger = server.new_user(f"fr{tag}x")
    room = server.api("POST", "/rooms", token=me["accessToken"], json={"name": f"people-{tag}", "kind": "public"}).json()
    assert server.api("POST", f"/rooms/{room['id']}/join", token=friend["accessToken"]).status_code == 200
    # REST: a prefix finds the friend only; the exact username finds the stranger too.
    found = server.api("GET", f"/users?q=fr{tag}", token=me["accessToken"]).json()["users"]
    assert [u["username"] for u in found] == [friend["user"]["username"]]
    assert "email" not in found[0]
    exact = server.api("GET", f"/users?q={stranger['user']['username'].upper()}", token=me["accessToken"]).json()["users"]
    assert [u["username"] for u in exact] == [stranger["user"]["username"]]
    assert server.api("GET", "/users?q=", token=me["accessToken"]).status_code == 422
    assert server.api("GET", "/users?q=fr", token=None).status_code == 401

    driver = make_driver(DESKTOP)
    try:
        driver.get(server.url + "/")
        login(driver, me["user"]["username"], PASSWORD)
        driver.get(server.url + "/#/direct")
        form = find(driver, "form#direct-form")
        box = form.find_element(By.NAME, "username")
        box.send_keys(f"@fr{tag}")
        wait(driver).until(lambda d: suggestions(d) == [friend["user"]["username"]], "the friend was not suggested alone")
        screenshot(driver, "people-suggestions")
        driver.find_element(By.CSS_SELECTOR, f"#direct-suggestions button[data-username='{friend['user']['username']}']").click()
        wait(driver).until(lambda d: "#/rooms/" in d.current_url, "no conversation opened")
        direct_id = int(driver.current_url.rsplit("/", 1)[1])
        rooms = server.api("GET", "/rooms", token=me["accessToken"]).json()["rooms"]
        direct = next(r for r in rooms if r["id"] == direct_id)
        assert direct["kind"] == "direct"
    finally:
        driver.quit()
