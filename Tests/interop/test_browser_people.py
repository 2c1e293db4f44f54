"""Starting a direct message by searching people by name (issue 18): the "Message someone"
screen lists, as one types, the people whose username or display name starts with the text
among those I share a room with (GET /api/users), never a stranger unless their exact
username is typed; choosing one opens the conversation. The field and its list are a combobox
as the WAI-ARIA Authoring Practices' combobox pattern (list autocomplete) describes:
role=combobox with aria-controls, aria-expanded and aria-activedescendant on the input, a
role=listbox of role=option items, ArrowDown/ArrowUp to move, Enter to take, Escape to close."""
import uuid

import pytest
from selenium.webdriver.common.by import By
from selenium_axe_python import Axe
from selenium.webdriver.common.keys import Keys

from browser_support import DESKTOP, find, login, make_driver, require_browser, screenshot, wait

PASSWORD = "correct horse battery"


def suggestions(driver):
    return [el.get_attribute("data-username") for el in driver.find_elements(By.CSS_SELECTOR, "#direct-suggestions [role=option]") if el.is_displayed()]


def active_option(driver, box):
    """The username of the option the combobox points at (aria-activedescendant), or None."""
    active = box.get_attribute("aria-activedescendant")
    if not active:
        return None
    option = driver.find_element(By.ID, active)
    assert option.get_attribute("role") == "option" and option.get_attribute("aria-selected") == "true"
    return option.get_attribute("data-username")


def test_people_found_by_name_and_a_conversation_started(server):
    require_browser()
    tag = uuid.uuid4().hex[:4]
    me = server.new_user(f"pm{tag}")
    friend = server.new_user(f"fr{tag}")
    second = server.new_user(f"fr{tag}y")  # sorts after the friend (hex digits < "y")
    stranger = server.new_user(f"fr{tag}x")
    room = server.api("POST", "/rooms", token=me["accessToken"], json={"name": f"people-{tag}", "kind": "public"}).json()
    for user in (friend, second):
        assert server.api("POST", f"/rooms/{room['id']}/join", token=user["accessToken"]).status_code == 200
    names = [friend["user"]["username"], second["user"]["username"]]
    # REST: a prefix finds the room mates only; the exact username finds the stranger too.
    found = server.api("GET", f"/users?q=fr{tag}", token=me["accessToken"]).json()["users"]
    assert [u["username"] for u in found] == names
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
        assert box.get_attribute("role") == "combobox"
        assert box.get_attribute("aria-autocomplete") == "list"
        assert box.get_attribute("aria-controls") == "direct-suggestions"
        assert box.get_attribute("aria-expanded") == "false"
        assert driver.find_element(By.ID, "direct-suggestions").get_attribute("role") == "listbox"
        box.send_keys(f"@fr{tag}")
        wait(driver).until(lambda d: suggestions(d) == names, "the room mates were not suggested alone")
        assert box.get_attribute("aria-expanded") == "true"
        assert active_option(driver, box) is None  # nothing is chosen until the arrows move
        screenshot(driver, "people-suggestions")
        # The keyboard: down, down, up (wrapping at the ends), Escape closes and keeps the text.
        box.send_keys(Keys.ARROW_DOWN)
        assert active_option(driver, box) == names[0]
        box.send_keys(Keys.ARROW_DOWN)
        assert active_option(driver, box) == names[1]
        box.send_keys(Keys.ARROW_DOWN)
        assert active_option(driver, box) == names[0]
        box.send_keys(Keys.ARROW_UP)
        assert active_option(driver, box) == names[1]
        # The open combobox passes axe-core (no critical or serious violation).
        axe = Axe(driver)
        axe.inject()
        blocking = [v["id"] for v in axe.run()["violations"] if v.get("impact") in ("critical", "serious")]
        assert not blocking, blocking
        box.send_keys(Keys.ESCAPE)
        wait(driver).until(lambda d: not suggestions(d), "Escape did not close the list")
        assert box.get_attribute("aria-expanded") == "false"
        assert not box.get_attribute("aria-activedescendant")
        assert box.get_attribute("value") == f"@fr{tag}"
        assert "#/direct" in driver.current_url
        # ArrowDown opens it again on the first; Enter takes the active one and starts the conversation.
        box.send_keys(Keys.ARROW_DOWN)
        wait(driver).until(lambda d: suggestions(d) == names, "ArrowDown did not open the list")
        assert active_option(driver, box) == names[0]
        box.send_keys(Keys.ENTER)
        wait(driver).until(lambda d: "#/rooms/" in d.current_url, "no conversation opened")
        direct_id = int(driver.current_url.rsplit("/", 1)[1])
        rooms = server.api("GET", "/rooms", token=me["accessToken"]).json()["rooms"]
        direct = next(r for r in rooms if r["id"] == direct_id)
        assert direct["kind"] == "direct" and direct["peer"]["username"] == names[0]
    finally:
        driver.quit()
