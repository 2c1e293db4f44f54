"""Helpers for the browser tests: headless Chromium through Selenium (Debian's chromium
and chromium-driver), screenshots, console-error checks, and the app's common steps."""
import os
import pathlib
import re
import shutil
import uuid

import pytest

from relay_fixture import REPO_ROOT

try:
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # pragma: no cover - reported as a skip below
    webdriver = None

SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
DESKTOP = (1280, 860)
PHONE = (390, 844)


def chromium_paths():
    driver = shutil.which("chromedriver")
    browser = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), shutil.which("google-chrome")) if p), None)
    return driver, browser


def require_browser():
    """Skips (loudly) when Selenium or Chromium is not installed; under CI=true, fails."""
    driver, browser = chromium_paths()
    missing = []
    if webdriver is None:
        missing.append("selenium (pip install -r Tests/interop/requirements.txt)")
    if not driver:
        missing.append("chromedriver (apt-get install chromium-driver)")
    if not browser:
        missing.append("chromium (apt-get install chromium)")
    if missing:
        message = "browser tests need " + ", ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def make_driver(size=DESKTOP):
    driver_path, browser_path = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = browser_path
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--no-first-run", "--disable-extensions", "--lang=en-US", f"--window-size={size[0]},{size[1]}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(20)
    # An exact viewport (a phone is emulated as a touch-less mobile screen of that width).
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": size[0] < 600,
    })
    return driver


def screenshot(driver, name: str) -> pathlib.Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def console_errors(driver, allowed=()):
    """The SEVERE console entries since the last call, minus the `allowed` regexes."""
    entries = driver.get_log("browser")
    return [e for e in entries if e.get("level") == "SEVERE" and not any(re.search(p, e.get("message", "")) for p in allowed)]


def assert_no_console_errors(driver, allowed=()):
    errors = console_errors(driver, allowed)
    assert not errors, "console errors:\n" + "\n".join(e["message"] for e in errors)


def wait(driver, timeout=10):
    return WebDriverWait(driver, timeout, poll_frequency=0.05, ignored_exceptions=(StaleElementReferenceException,))


def find(driver, css, timeout=10):
    """The first visible element matching `css`, waiting for it."""
    def visible(d):
        for el in d.find_elements(By.CSS_SELECTOR, css):
            if el.is_displayed():
                return el
        return False
    return wait(driver, timeout).until(visible, f"no visible {css}")


def gone(driver, css, timeout=10):
    wait(driver, timeout).until(lambda d: not any(el.is_displayed() for el in d.find_elements(By.CSS_SELECTOR, css)), f"{css} still shown")


def text_of(driver, css, contains: str, timeout=10):
    return wait(driver, timeout).until(
        lambda d: next((el for el in d.find_elements(By.CSS_SELECTOR, css) if contains in el.text), False),
        f"no {css} containing {contains!r}",
    )


def fill(form, **values):
    for name, value in values.items():
        field = form.find_element(By.NAME, name)
        field.clear()
        field.send_keys(value)


def submit(driver, form_id: str, **values):
    form = find(driver, f"form#{form_id}")
    fill(form, **values)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    return form


def unique_name(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


# ---- the app's common steps ----

def open_mailed_link(driver, server, email: str, path: str):
    """Opens the development mailbox page and clicks the newest `path` link mailed to `email`."""
    newest = server.mail_link(email, path)  # waits until the outbox has delivered it
    driver.get(server.url + "/dev/mailbox")
    links = [
        a
        for article in driver.find_elements(By.CSS_SELECTOR, "article")
        if email in article.text
        for a in article.find_elements(By.CSS_SELECTOR, f"a[href*='{path}?token=']")
        if a.get_attribute("href").endswith(newest)
    ]
    assert links, f"no {path} link for {email} on /dev/mailbox"
    links[0].click()


def register_and_verify(driver, server, username: str, email: str, password: str, display: str, shot_prefix=None):
    driver.get(server.url + "/")
    find(driver, "#register-link").click()
    submit(driver, "register-form", email=email, username=username, displayName=display, password=password)
    find(driver, "#check-email-text")
    if shot_prefix:
        screenshot(driver, f"{shot_prefix}-check-email")
    find(driver, "#dev-mailbox-link").click()
    wait(driver).until(lambda d: "/dev/mailbox" in d.current_url)
    open_mailed_link(driver, server, email, "/verify-email")
    find(driver, "#verify-status[data-state=verified]")
    # The token left the address bar.
    assert "token=" not in driver.current_url
    if shot_prefix:
        screenshot(driver, f"{shot_prefix}-verified")
    find(driver, "#verified-continue").click()
    find(driver, "form#login-form")


def login(driver, login_name: str, password: str):
    submit(driver, "login-form", login=login_name, password=password)
    find(driver, "#room-list")
    find(driver, "#connection[data-state=connected]")


def promote_admin(server, username: str):
    """`switchboard admin promote <username>` with the built binary on the test server's own
    database (its DATA_DIR's SQLite file, or INTEROP_DATABASE_URL's PostgreSQL)."""
    import subprocess
    from relay_fixture import bin_dir
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    env.update({"DATA_DIR": server.data_dir, "MIGRATIONS_DIR": str(REPO_ROOT / "Migrations"), "LOG_LEVEL": "warning"})
    if os.environ.get("INTEROP_DATABASE_URL"):
        env["DATABASE_URL"] = os.environ["INTEROP_DATABASE_URL"]
    done = subprocess.run([str(bin_dir() / "switchboard"), "admin", "promote", username], capture_output=True, text=True,
                          env=env, cwd=REPO_ROOT, timeout=120)
    assert done.returncode == 0, done.stderr


def logout(driver):
    find(driver, "#logout-button").click()
    find(driver, "form#login-form")


def send_message(driver, text: str):
    box = find(driver, "#composer-input")
    box.send_keys(text)
    box.send_keys(Keys.ENTER)
    # Settled: no longer pending, and stored (it has a message id).
    wait(driver).until(
        lambda d: any(text == el.text for el in d.find_elements(By.CSS_SELECTOR, "#messages li.message[data-message-id] .body")),
        f"message {text!r} not settled",
    )


def wait_message(driver, text: str, timeout=10):
    return wait(driver, timeout).until(
        lambda d: next((el for el in d.find_elements(By.CSS_SELECTOR, "#messages li.message .body") if el.text == text), False),
        f"message {text!r} did not appear",
    )


def badge_of(driver, room_id: int):
    items = driver.find_elements(By.CSS_SELECTOR, f"#room-list li[data-room-id='{room_id}'] .badge")
    return items[0].text if items else None


# ---- stopping and starting the server under a running browser ----

def stop_server_process(server):
    """Stops the server process (SIGTERM), keeping its port and data directory; returns its environment."""
    import subprocess  # noqa: F401  (the process object is the fixture's)
    with open(f"/proc/{server.process.pid}/environ", "rb") as f:
        environment = dict(item.split(b"=", 1) for item in f.read().split(b"\0") if b"=" in item)
    server.process.terminate()
    server.process.wait(timeout=15)
    return {k.decode(): v.decode() for k, v in environment.items()}


def start_server_process(server, environment):
    """Starts the server again with the same environment (port, data directory, secrets)."""
    import subprocess
    from relay_fixture import bin_dir
    server.process = subprocess.Popen([str(bin_dir() / "switchboard")], cwd=REPO_ROOT, env=environment,
                                      stdout=server.log, stderr=subprocess.STDOUT)
    server._wait_ready()
