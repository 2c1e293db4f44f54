"""Sign in with a provider (issue 17) against real parts: the built server, the real OpenID
Connect provider `oidc-provider-mock` (PyPI) running locally, and small fakes written for
these tests (`oauth_fakes.py`: GitHub's endpoints, and an issuer whose ID tokens can be
spoiled). Each flow is driven with `requests`, following redirects by hand the way a browser
would: start -> provider -> callback -> the web app's fragment -> POST exchange."""
import datetime
import urllib.parse
import uuid

import pytest
import requests

import oidc_provider_mock
from oauth_fakes import FakeGitHub, FakeIssuer
from switchboard_fixture import Switchboard


@pytest.fixture(scope="module")
def world():
    with oidc_provider_mock.run_server_in_thread() as mock, \
            oidc_provider_mock.run_server_in_thread(access_token_max_age=datetime.timedelta(seconds=-600)) as expired:
        github, fake = FakeGitHub(), FakeIssuer()
        env = {
            "OAUTH_PROVIDERS": "mock,github,fake,expired",
            "OAUTH_MOCK_ISSUER": f"http://localhost:{mock.server_port}",
            "OAUTH_MOCK_CLIENT_ID": "switchboard", "OAUTH_MOCK_CLIENT_SECRET": "mock-secret",
            "OAUTH_MOCK_DISPLAY_NAME": "Mock IdP",
            "OAUTH_EXPIRED_ISSUER": f"http://localhost:{expired.server_port}",
            "OAUTH_EXPIRED_CLIENT_ID": "switchboard", "OAUTH_EXPIRED_CLIENT_SECRET": "mock-secret",
            "OAUTH_GITHUB_PRESET": "github",
            "OAUTH_GITHUB_CLIENT_ID": github.client_id, "OAUTH_GITHUB_CLIENT_SECRET": github.client_secret,
            "OAUTH_GITHUB_AUTHORIZE_URL": github.url + "/login/oauth/authorize",
            "OAUTH_GITHUB_TOKEN_URL": github.url + "/login/oauth/access_token",
            "OAUTH_GITHUB_API_URL": github.url,
            "OAUTH_FAKE_ISSUER": fake.url,
            "OAUTH_FAKE_CLIENT_ID": fake.client_id, "OAUTH_FAKE_CLIENT_SECRET": fake.client_secret,
            # the start rate-limit test poses as its own client behind a proxy
            "TRUSTED_PROXIES": "127.0.0.1,::1",
        }
        server = Switchboard(**env)
        try:
            yield {"server": server, "mock": f"http://localhost:{mock.server_port}", "github": github, "fake": fake}
        finally:
            server.stop()
            github.stop()
            fake.stop()


# ---------- driving a flow ----------

def start(server, browser: requests.Session, provider: str) -> str:
    r = browser.get(f"{server.url}/api/auth/oauth/{provider}/start", allow_redirects=False)
    assert r.status_code == 302, r.text
    return r.headers["Location"]


def mock_consent(location: str, sub: str | None = None, deny: bool = False) -> str:
    """Answers the mock's authorization form as a person would (Authorize or Deny)."""
    r = requests.post(location, data={"action": "deny"} if deny else {"sub": sub}, allow_redirects=False, timeout=30)
    assert r.status_code in (302, 303), r.text
    return r.headers["Location"]


def fake_consent(location: str) -> str:
    r = requests.get(location, allow_redirects=False, timeout=30)
    assert r.status_code == 302, r.text
    return r.headers["Location"]


def callback(browser: requests.Session, location: str) -> str:
    """Follows the provider's redirect to our callback; returns where it sends the web app."""
    r = browser.get(location, allow_redirects=False, timeout=60)
    assert r.status_code == 302, r.text
    assert r.headers.get("Cache-Control") == "no-store"
    return r.headers["Location"]


def exchange(server, browser: requests.Session, app_location: str) -> requests.Response:
    assert app_location.startswith("/#/oauth/"), app_location
    return browser.post(f"{server.url}/api/auth/oauth/exchange", json={"code": app_location.removeprefix("/#/oauth/")}, timeout=30)


def set_mock_user(world, sub: str, **claims) -> None:
    r = requests.put(f"{world['mock']}/users/{urllib.parse.quote(sub)}", json=claims, timeout=10)
    assert r.status_code == 204, r.text


def mock_sign_in(world, browser: requests.Session, sub: str) -> str:
    """A whole sign-in at the mock up to the web app's location."""
    return callback(browser, mock_consent(start(world["server"], browser, "mock"), sub))


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def mock_user(world, prefix: str) -> str:
    """A new subject at the mock with a verified address of its own."""
    sub = unique(prefix)
    set_mock_user(world, sub, email=f"{sub}@example.com", email_verified=True)
    return sub


# ---------- sign-in ----------

def test_providers_are_listed_for_the_login_screen(world):
    r = requests.get(world["server"].url + "/api/auth/oauth/providers", timeout=10)
    assert r.status_code == 200
    providers = r.json()["providers"]
    assert [p["name"] for p in providers] == ["mock", "github", "fake", "expired"]
    assert providers[0] == {"name": "mock", "displayName": "Mock IdP", "startURL": "/api/auth/oauth/mock/start"}
    assert providers[1]["displayName"] == "GitHub"


def test_start_sends_pkce_state_and_nonce_and_binds_the_browser(world):
    browser = requests.Session()
    location = start(world["server"], browser, "mock")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    assert location.startswith(world["mock"] + "/oauth2/authorize?")
    assert query["response_type"] == "code" and query["client_id"] == "switchboard"
    assert query["redirect_uri"] == world["server"].url + "/api/auth/oauth/mock/callback"
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 43 and len(query["nonce"]) >= 22
    assert set(query["scope"].split()) == {"openid", "email", "profile"}
    cookie = next(c for c in browser.cookies if c.name == "sb_oauth")
    assert cookie.path == "/api/auth/oauth" and cookie.has_nonstandard_attr("HttpOnly")


def test_oidc_first_sign_in_creates_a_verified_account_with_a_normal_session(world):
    server = world["server"]
    sub = unique("ada")
    set_mock_user(world, sub, email=f"{sub}@example.com", email_verified=True, preferred_username=sub, name="Ada Lovelace")
    browser = requests.Session()
    r = exchange(server, browser, mock_sign_in(world, browser, sub))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"]["email"] == f"{sub}@example.com" and body["user"]["emailVerified"] is True
    assert body["user"]["username"] == sub and body["user"]["displayName"] == "Ada Lovelace"
    assert "refreshToken" not in body or body["refreshToken"] is None
    assert any(c.name == "sb_refresh" for c in browser.cookies)
    # The session is the same kind as a password login's: refresh rotates, logout revokes.
    me = server.api("GET", "/me", token=body["accessToken"])
    assert me.status_code == 200 and me.json()["id"] == body["user"]["id"]
    refreshed = browser.post(server.url + "/api/auth/refresh", timeout=30)
    assert refreshed.status_code == 200, refreshed.text
    access = refreshed.json()["accessToken"]
    assert server.api("POST", "/auth/logout", token=access).status_code == 204
    assert server.api("GET", "/me", token=access).json()["error"]["code"] == "session_revoked"
    # Signing in again finds the same account.
    again = requests.Session()
    r2 = exchange(server, again, mock_sign_in(world, again, sub))
    assert r2.status_code == 200 and r2.json()["user"]["id"] == body["user"]["id"]
    # The account has no usable password.
    login = server.api("POST", "/auth/login", json={"login": sub, "password": "!no-password"})
    assert login.status_code == 401 and login.json()["error"]["code"] == "invalid_credentials"


def test_unverified_provider_email_creates_no_account(world):
    """Pre-hijacking: an attacker signs in with the victim's address, unverified at the
    provider. No account is created (so none is left carrying the attacker's identity for the
    victim to take over with "forgot password"), no mail goes out, and the victim can still
    register the address."""
    server = world["server"]
    sub = unique("una")
    victim = f"victim-{sub}@example.com"
    set_mock_user(world, sub, email=victim, email_verified=False)
    browser = requests.Session()
    assert mock_sign_in(world, browser, sub) == "/#/oauth-error/provider_email_unverified"
    # a claim that is absent counts as unverified too
    absent = unique("unb")
    set_mock_user(world, absent, email=f"{absent}@example.com")
    assert mock_sign_in(world, requests.Session(), absent) == "/#/oauth-error/provider_email_unverified"
    # no account holds the address: forgot-password has nobody to mail, registration works
    r = server.api("POST", "/auth/register", json={"email": victim, "username": f"v{sub}", "password": "correct horse battery", "displayName": "V"})
    assert r.status_code == 202, r.text
    # and the attacker's identity still signs nobody in
    assert mock_sign_in(world, requests.Session(), sub) == "/#/oauth-error/provider_email_unverified"


def test_github_sign_in_uses_the_verified_primary_email(world):
    server, github = world["server"], world["github"]
    login = unique("octo")
    github.user = {"id": 5_000_000 + int(uuid.uuid4().int % 1_000_000), "login": login, "name": "Octo"}
    github.emails = [
        {"email": f"{login}-old@example.com", "primary": False, "verified": True},
        {"email": f"{login}@example.com", "primary": True, "verified": True},
    ]
    browser = requests.Session()
    location = start(server, browser, "github")
    assert location.startswith(github.url + "/login/oauth/authorize?")
    r = exchange(server, browser, callback(browser, fake_consent(location)))
    assert r.status_code == 200, r.text
    user = r.json()["user"]
    assert user["email"] == f"{login}@example.com" and user["emailVerified"] is True and user["username"] == login


def test_github_unverified_primary_email_is_not_trusted(world):
    server, github = world["server"], world["github"]
    login = unique("octu")
    github.user = {"id": 6_000_000 + int(uuid.uuid4().int % 1_000_000), "login": login, "name": None}
    github.emails = [{"email": f"{login}@example.com", "primary": True, "verified": False}]
    browser = requests.Session()
    location = callback(browser, fake_consent(start(server, browser, "github")))
    assert location == "/#/oauth-error/provider_email_unverified"


def test_denied_consent_returns_to_the_app_with_access_denied(world):
    browser = requests.Session()
    location = mock_consent(start(world["server"], browser, "mock"), deny=True)
    assert "error=access_denied" in location
    assert callback(browser, location) == "/#/oauth-error/access_denied"
    # GitHub's denial carries the state (RFC 6749 §4.1.2.1): checked, then reported as denied.
    github = world["github"]
    github.deny = True
    try:
        location = fake_consent(start(world["server"], browser, "github"))
        assert "error=access_denied" in location and "state=" in location
        assert callback(browser, location) == "/#/oauth-error/access_denied"
        # The same denial from another browser is someone else's state.
        other = fake_consent(start(world["server"], browser, "github"))
        assert callback(requests.Session(), other) == "/#/oauth-error/invalid_state"
    finally:
        github.deny = False


def test_callback_without_state_or_with_a_wrong_one_is_refused(world):
    server = world["server"]
    browser = requests.Session()
    location = mock_consent(start(server, browser, "mock"), mock_user(world, "st"))
    parts = urllib.parse.urlsplit(location)
    query = dict(urllib.parse.parse_qsl(parts.query))
    base = f"{server.url}{parts.path}"
    assert callback(browser, f"{base}?code={query['code']}") == "/#/oauth-error/invalid_state"
    assert callback(browser, f"{base}?code={query['code']}&state=not-the-state") == "/#/oauth-error/invalid_state"


def test_someone_elses_state_is_refused(world):
    """Login CSRF: a victim's browser is sent to the callback with the attacker's code and
    state. The flow is bound to the attacker's browser cookie, so it is refused."""
    attacker, victim = requests.Session(), requests.Session()
    location = mock_consent(start(world["server"], attacker, "mock"), mock_user(world, "atk"))
    assert callback(victim, location) == "/#/oauth-error/invalid_state"


def test_a_foreign_browser_cannot_burn_a_sign_in(world):
    """The binding is checked before anything is used up: another browser presenting
    someone's state, or their one-time code, spends neither; the owner still signs in."""
    server = world["server"]
    owner, stranger = requests.Session(), requests.Session()
    location = mock_consent(start(server, owner, "mock"), mock_user(world, "own"))
    assert callback(stranger, location) == "/#/oauth-error/invalid_state"
    app = callback(owner, location)
    assert app.startswith("/#/oauth/"), app
    foreign = exchange(server, stranger, app)
    assert foreign.status_code == 400 and foreign.json()["error"]["code"] == "oauth_code_invalid"
    assert exchange(server, owner, app).status_code == 200


def test_sign_in_starts_are_rate_limited_per_client_address(world):
    """Each start writes a flow row: one address gets 60 at once (then one a second)."""
    server = world["server"]
    url = server.url + "/api/auth/oauth/mock/start"
    client = {"X-Forwarded-For": f"198.51.100.{uuid.uuid4().int % 200 + 20}"}
    statuses = [requests.get(url, headers=client, allow_redirects=False, timeout=30).status_code for _ in range(62)]
    assert statuses[0] == 302 and statuses[-1] == 429, statuses
    r = requests.get(url, headers=client, allow_redirects=False, timeout=30)
    assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_requests" and "Retry-After" in r.headers
    # another address is not affected
    assert requests.get(url, headers={"X-Forwarded-For": "203.0.113.200"}, allow_redirects=False, timeout=30).status_code == 302


def test_replayed_callback_and_replayed_code_are_refused(world):
    server = world["server"]
    browser = requests.Session()
    location = mock_consent(start(server, browser, "mock"), mock_user(world, "rep"))
    first = callback(browser, location)
    assert first.startswith("/#/oauth/")
    # The same callback again: its state was used.
    assert callback(browser, location) == "/#/oauth-error/invalid_state"
    # The used code with a fresh state of this browser: the provider refuses the code.
    fresh = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(start(server, browser, "mock")).query))
    old = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    replay = f"{server.url}/api/auth/oauth/mock/callback?code={old['code']}&state={urllib.parse.quote(fresh['state'])}"
    assert callback(browser, replay) == "/#/oauth-error/provider_error"
    # The one-time code the app exchanges works once, and only in this browser.
    assert exchange(server, requests.Session(), first).json()["error"]["code"] == "oauth_code_invalid"


def test_the_exchange_code_is_single_use(world):
    server = world["server"]
    browser = requests.Session()
    app = mock_sign_in(world, browser, mock_user(world, "once"))
    assert exchange(server, browser, app).status_code == 200
    again = exchange(server, browser, app)
    assert again.status_code == 400 and again.json()["error"]["code"] == "oauth_code_invalid"


def test_github_replayed_code_is_refused(world):
    server, github = world["server"], world["github"]
    login = unique("octr")
    github.user = {"id": 7_000_000 + int(uuid.uuid4().int % 1_000_000), "login": login, "name": None}
    github.emails = [{"email": f"{login}@example.com", "primary": True, "verified": True}]
    browser = requests.Session()
    location = fake_consent(start(server, browser, "github"))
    assert callback(browser, location).startswith("/#/oauth/")
    fresh = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(start(server, browser, "github")).query))
    old = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    replay = f"{server.url}/api/auth/oauth/github/callback?code={old['code']}&state={urllib.parse.quote(fresh['state'])}"
    assert callback(browser, replay) == "/#/oauth-error/provider_error"


# ---------- ID token checks ----------

def fake_sign_in(world, **spoil) -> str:
    fake = world["fake"]
    fake.sign_with_other_key, fake.aud, fake.exp_offset = False, None, 300
    for name, value in spoil.items():
        setattr(fake, name, value)
    fake.claims = {"email": f"{unique('fk')}@example.com", "email_verified": True}
    try:
        browser = requests.Session()
        return callback(browser, fake_consent(start(world["server"], browser, "fake") + "&login_hint=" + unique("s")))
    finally:
        fake.sign_with_other_key, fake.aud, fake.exp_offset = False, None, 300


def test_fake_issuer_signs_in_when_nothing_is_spoiled(world):
    assert fake_sign_in(world).startswith("/#/oauth/")


def test_bad_id_token_signature_is_refused(world):
    assert fake_sign_in(world, sign_with_other_key=True) == "/#/oauth-error/invalid_id_token"


def test_id_token_for_another_client_is_refused(world):
    assert fake_sign_in(world, aud="someone-else") == "/#/oauth-error/invalid_id_token"


def test_expired_id_token_is_refused(world):
    assert fake_sign_in(world, exp_offset=-600) == "/#/oauth-error/invalid_id_token"
    # And from the real provider, configured to issue tokens already expired.
    browser = requests.Session()
    location = mock_consent(start(world["server"], browser, "expired"), f"{unique('exp')}@example.com")
    assert callback(browser, location) == "/#/oauth-error/invalid_id_token"


def test_provider_answering_500_or_hanging_is_a_provider_error(world):
    fake = world["fake"]
    try:
        fake.token_mode = "500"
        assert fake_sign_in(world) == "/#/oauth-error/provider_error"
        fake.token_mode = "hang"
        assert fake_sign_in(world) == "/#/oauth-error/provider_error"  # the 10 s request deadline
    finally:
        fake.token_mode = "ok"


# ---------- linking ----------

def test_provider_email_of_an_existing_account_never_links_silently(world):
    server = world["server"]
    owner = server.new_user("own")
    email = owner["user"]["email"]
    sub = unique("squat")
    set_mock_user(world, sub, email=email, email_verified=True)
    browser = requests.Session()
    assert mock_sign_in(world, browser, sub) == "/#/oauth-error/email_in_use"
    listed = server.api("GET", "/me/identities", token=owner["accessToken"]).json()
    assert listed == {"identities": [], "hasPassword": True}


def test_linking_from_settings_when_logged_in_then_signing_in_with_it(world):
    server = world["server"]
    owner = server.new_user("lnk")
    sub = unique("lnk")
    set_mock_user(world, sub, email=owner["user"]["email"], email_verified=True)
    browser = requests.Session()
    r = browser.post(f"{server.url}/api/auth/oauth/mock/link", headers={"Authorization": f"Bearer {owner['accessToken']}"}, timeout=30)
    assert r.status_code == 200, r.text
    assert callback(browser, mock_consent(r.json()["authorizationURL"], sub)) == "/#/oauth-linked/mock"
    identities = server.api("GET", "/me/identities", token=owner["accessToken"]).json()["identities"]
    assert [(i["provider"], i["displayName"], i["email"]) for i in identities] == [("mock", "Mock IdP", owner["user"]["email"])]
    # Signing in with the provider now opens the owner's account.
    other = requests.Session()
    signed = exchange(server, other, mock_sign_in(world, other, sub))
    assert signed.status_code == 200 and signed.json()["user"]["id"] == owner["user"]["id"]
    # Another account cannot take the same provider account.
    intruder = server.new_user("int")
    b2 = requests.Session()
    r2 = b2.post(f"{server.url}/api/auth/oauth/mock/link", headers={"Authorization": f"Bearer {intruder['accessToken']}"}, timeout=30)
    assert callback(b2, mock_consent(r2.json()["authorizationURL"], sub)) == "/#/oauth-error/identity_in_use"


def test_link_needs_a_logged_in_user(world):
    r = requests.post(world["server"].url + "/api/auth/oauth/mock/link", timeout=10)
    assert r.status_code == 401


def test_unlink_keeps_one_way_in(world):
    server, github = world["server"], world["github"]
    sub = unique("solo")
    set_mock_user(world, sub, email=f"{sub}@example.com", email_verified=True)
    browser = requests.Session()
    token = exchange(server, browser, mock_sign_in(world, browser, sub)).json()["accessToken"]
    listed = server.api("GET", "/me/identities", token=token).json()
    assert listed["hasPassword"] is False and len(listed["identities"]) == 1
    only = listed["identities"][0]["id"]
    refused = server.api("DELETE", f"/me/identities/{only}", token=token)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "last_sign_in_method"
    # Link GitHub too; then the first can go, and the last one cannot.
    github.user = {"id": 7_000_000 + int(uuid.uuid4().int % 1_000_000), "login": unique("gh"), "name": None}
    github.emails = [{"email": f"{sub}-gh@example.com", "primary": True, "verified": True}]
    r = browser.post(f"{server.url}/api/auth/oauth/github/link", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert callback(browser, fake_consent(r.json()["authorizationURL"])) == "/#/oauth-linked/github"
    identities = server.api("GET", "/me/identities", token=token).json()["identities"]
    assert sorted(i["provider"] for i in identities) == ["github", "mock"]
    assert server.api("DELETE", f"/me/identities/{only}", token=token).status_code == 204
    last = server.api("GET", "/me/identities", token=token).json()["identities"]
    assert [i["provider"] for i in last] == ["github"]
    assert server.api("DELETE", f"/me/identities/{last[0]['id']}", token=token).json()["error"]["code"] == "last_sign_in_method"
    # Someone else's identity id is not found.
    stranger = server.new_user("str")
    assert server.api("DELETE", f"/me/identities/{last[0]['id']}", token=stranger["accessToken"]).status_code == 404


def test_a_password_account_may_unlink_its_only_identity(world):
    server = world["server"]
    owner = server.new_user("pw")
    sub = unique("pw")
    set_mock_user(world, sub, email=f"{sub}@example.com", email_verified=True)
    browser = requests.Session()
    r = browser.post(f"{server.url}/api/auth/oauth/mock/link", headers={"Authorization": f"Bearer {owner['accessToken']}"}, timeout=30)
    assert callback(browser, mock_consent(r.json()["authorizationURL"], sub)) == "/#/oauth-linked/mock"
    identity = server.api("GET", "/me/identities", token=owner["accessToken"]).json()["identities"][0]
    assert server.api("DELETE", f"/me/identities/{identity['id']}", token=owner["accessToken"]).status_code == 204


def test_unknown_provider_is_not_found(world):
    r = requests.get(world["server"].url + "/api/auth/oauth/nope/start", allow_redirects=False, timeout=10)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
