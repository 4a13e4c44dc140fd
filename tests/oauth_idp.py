"""A tiny OAuth2 identity provider on loopback, for tests: tokens, refresh, revocation.

Pure Python with no Odoo import. It speaks just enough of the protocols the
mail stack uses:

- ``GET /authorize``: the consent screen, consented at once: redirects to
  ``redirect_uri`` with a one-time ``code`` and the caller's ``state``;
- ``POST /token``: ``authorization_code`` and ``refresh_token`` grants, answered
  as Microsoft's endpoint does (``access_token``, ``refresh_token``, ``id_token``,
  ``expires_in``) or with ``400 invalid_grant`` and an ``error_description``;
- ``POST /introspect``: RFC 7662 token introspection, used by Dovecot's ``oauth2``
  passdb to validate the bearer tokens of XOAUTH2 logins.

The test drives it directly: :meth:`OAuthProvider.grant` issues tokens for a
user, :meth:`expire` ages an access token, :meth:`revoke` withdraws consent.
"""

import base64
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

REVOKED_MESSAGE = (
    "AADSTS70000: The provided grant has expired due to it being revoked, "
    "a fresh auth token is needed."
)


def _id_token(email):
    """An unsigned JWT carrying ``email``, as Odoo only reads its payload."""

    def part(value):
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part({'email': email})}.sig"


class OAuthProvider:
    """The provider's state, behind a threaded HTTP server on 127.0.0.1."""

    def __init__(self, lifetime=3600):
        self.lifetime = lifetime
        self.lock = threading.Lock()
        self.access = {}  # access token -> (user, expires at)
        self.refresh = {}  # refresh token -> user
        self.codes = {}  # authorization code -> user
        self.next_consent = None  # the user the next /authorize visit consents as
        self.calls = []  # (endpoint, grant type or token), in order
        self.server = None
        self.thread = None

    # -- lifecycle -----------------------------------------------------
    def start(self):
        provider = self

        class Handler(_Handler):
            idp = provider

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(timeout=5)
            self.server = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    # -- what the test does ------------------------------------------------
    def grant(self, user):
        """Consent for ``user``: return ``(refresh_token, access_token, expires_at)``."""
        with self.lock:
            refresh = secrets.token_urlsafe(24)
            self.refresh[refresh] = user
        access, expires_at = self._issue(user)
        return refresh, access, expires_at

    def consent_as(self, user):
        """The next ``/authorize`` visit consents as ``user``."""
        with self.lock:
            self.next_consent = user

    def expire(self, access_token):
        with self.lock:
            user, _expires = self.access[access_token]
            self.access[access_token] = (user, 0)

    def revoke(self, user):
        """Withdraw every grant of ``user``: its refresh and access tokens stop working."""
        with self.lock:
            self.refresh = {k: u for k, u in self.refresh.items() if u != user}
            self.access = {k: v for k, v in self.access.items() if v[0] != user}

    def count(self, endpoint):
        return sum(1 for name, _detail in self.calls if name == endpoint)

    # -- what the endpoints do ------------------------------------------------
    def _issue(self, user):
        access = secrets.token_urlsafe(24)
        expires_at = int(time.time()) + self.lifetime
        with self.lock:
            self.access[access] = (user, expires_at)
        return access, expires_at

    def _token_answer(self, user, refresh):
        access, _expires_at = self._issue(user)
        return 200, {
            "token_type": "Bearer",
            "access_token": access,
            "refresh_token": refresh,
            "id_token": _id_token(user),
            "expires_in": self.lifetime,
        }

    def token(self, form):
        grant = form.get("grant_type")
        self.calls.append(("token", grant))
        with self.lock:
            if grant == "refresh_token":
                user = self.refresh.get(form.get("refresh_token"))
                refresh = form.get("refresh_token")
            elif grant == "authorization_code":
                user = self.codes.pop(form.get("code"), None)
                refresh = secrets.token_urlsafe(24)
                if user:
                    self.refresh[refresh] = user
            else:
                return 400, {"error": "unsupported_grant_type"}
        if not user:
            return 400, {"error": "invalid_grant", "error_description": REVOKED_MESSAGE}
        return self._token_answer(user, refresh)

    def introspect(self, form):
        token = form.get("token", "")
        self.calls.append(("introspect", token[:6]))
        with self.lock:
            user, expires_at = self.access.get(token, (None, 0))
        if not user or expires_at <= time.time():
            return 200, {"active": False}
        return 200, {"active": True, "username": user, "exp": expires_at}

    def authorize(self, query):
        self.calls.append(("authorize", query.get("client_id")))
        with self.lock:
            user, self.next_consent = self.next_consent, None
            code = secrets.token_urlsafe(16)
            if user:
                self.codes[code] = user
        params = (
            {"code": code, "state": query.get("state", "")}
            if user
            else {
                "error": "access_denied",
                "error_description": "No user consented.",
                "state": query.get("state", ""),
            }
        )
        return query.get("redirect_uri", "") + "?" + urlencode(params)


class _Handler(BaseHTTPRequestHandler):
    idp = None

    def log_message(self, format, *args):  # noqa: A002 - the signature of the base class
        pass  # quiet: tests read the provider's calls instead

    def _form(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        return {k: v[0] for k, v in parse_qs(body).items()}

    def _answer(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        path = urlsplit(self.path).path.rstrip("/").rsplit("/", 1)[-1]
        form = self._form()
        if path == "token":
            self._answer(*self.idp.token(form))
        elif path == "introspect":
            self._answer(*self.idp.introspect(form))
        else:
            self._answer(404, {"error": "not_found"})

    def do_GET(self):
        parts = urlsplit(self.path)
        if parts.path.rstrip("/").rsplit("/", 1)[-1] != "authorize":
            self._answer(404, {"error": "not_found"})
            return
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.send_response(302)
        self.send_header("Location", self.idp.authorize(query))
        self.send_header("Content-Length", "0")
        self.end_headers()
