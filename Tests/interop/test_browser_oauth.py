"""Sign in with a provider in the browser (issue 17): the login screen's button, the trip to
the provider (the GitHub fake of oauth_fakes.py, which approves at once) and back, the app
exchanging the one-time code for a session, settings listing the identity, and a declined
sign-in explained on the login screen. Headless Chromium through Selenium."""
import uuid

import pytest

from browser_support import DESKTOP, assert_no_console_errors, find, make_driver, require_browser, text_of, wait
from oauth_fakes import FakeGitHub
from switchboard_fixture import Switchboard


@pytest.fixture(scope="module")
def world():
    require_browser()
    github = FakeGitHub()
    server = Switchboard(**{
        "OAUTH_PROVIDERS": "github",
        "OAUTH_GITHUB_PRESET": "github",
        "OAUTH_GITHUB_CLIENT_ID": github.client_id, "OAUTH_GITHUB_CLIENT_SECRET": github.client_secret,
        "OAUTH_GITHUB_AUTHORIZE_URL": github.url + "/login/oauth/authorize",
        "OAUTH_GITHUB_TOKEN_URL": github.url + "/login/oauth/access_token",
        "OAUTH_GITHUB_API_URL": github.url,
    })
    try:
        yield server, github
    finally:
        server.stop()
        github.stop()


@pytest.fixture
def driver():
    require_browser()
    d = make_driver(DESKTOP)
    yield d
    d.quit()


def test_continue_with_github_signs_in_and_settings_lists_it(world, driver):
    server, github = world
    login = f"octo{uuid.uuid4().hex[:8]}"
    github.user = {"id": 9_000_000 + uuid.uuid4().int % 1_000_000, "login": login, "name": "Octo Browser"}
    github.emails = [{"email": f"{login}@example.com", "primary": True, "verified": True}]
    driver.get(server.url + "/#/login")
    button = find(driver, "a#oauth-github")
    assert button.text == "Continue with GitHub"
    button.click()
    wait(driver, 20).until(lambda d: d.current_url.endswith("#/rooms"), "not signed in")
    assert "oauth/" not in driver.current_url  # the one-time code left the address bar
    text_of(driver, "#nav-settings", "Octo Browser")
    find(driver, "#nav-settings").click()
    item = text_of(driver, "#identities li", "GitHub")
    assert f"{login}@example.com" in item.text
    # The only way in: unlinking is explained, not attempted.
    item.find_element("css selector", "button").click()
    text_of(driver, "#identities-status", "only way to sign in")
    assert_no_console_errors(driver)


def test_a_declined_sign_in_is_explained_on_the_login_screen(world, driver):
    server, github = world
    github.deny = True
    try:
        driver.get(server.url + "/#/login")
        find(driver, "a#oauth-github").click()
        text_of(driver, ".flash", "cancelled at the provider", timeout=20)
        assert driver.current_url.endswith("#/login")
    finally:
        github.deny = False
    assert_no_console_errors(driver)
