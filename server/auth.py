"""Sign-in, sessions, CSRF, API tokens and role checks.

Two ways in: API clients send ``Authorization: Bearer <token>``; browsers sign in at
``/login`` with the same token as password and get a session cookie (HttpOnly,
SameSite=Lax, Secure when the deployment says it is behind https). Writes made with
a session cookie need the session's CSRF token (a form field ``csrf_token`` or the
``X-CSRF-Token`` header); Bearer requests do not, since a browser never adds that
header on its own.

Reads are open unless ``READ_REQUIRES_LOGIN`` is set; then every request except the
sign-in page and static files needs a user (401 JSON for API clients, a redirect to
``/login`` for browsers).

Failed sign-ins (form or Bearer) are counted per user name (the name a token carries)
and per client address, per app. Past ``LOGIN_MAX_FAILURES`` within ``LOGIN_WINDOW_S``
seconds a *wrong* token from that address or for that name is answered 429 instead of
401; a *correct* token is always accepted, so nobody is locked out by someone else's
failures (a colleague's typos, a shared proxy address, an attacker trying a name). The
tokens carry 256 random bits: the limit slows a flood, guessing is hopeless anyway.

Sessions carry a random id; signing out revokes it in the registry (a copied cookie no
longer works on any app server of the registry, nor after a restart), as do disabling
the user and re-issuing their token. See docs/security.md.
"""

from __future__ import annotations

import functools
import hmac
import logging
import secrets
import threading
import time
from collections import deque
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from geo.errors import HehuError, ReadOnlyRegistryError
from geo.users import ROLES, User, authenticate, get_user, revoke_session, session_revoked
from server.context import lang, registry

bp = Blueprint("auth", __name__)
#: Sign-ins and refusals, for the operator. Never given a token: names and addresses only.
log = logging.getLogger("hehu.auth")
#: Sign-ins, sign-outs, refusals and permission changes: the office's security log
#: (``SECURITY_LOG`` names its file, see server/security.py).
security_log = logging.getLogger("hehu.security")

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class Unauthorized(HehuError):
    status = 401
    code = "unauthorized"


class Forbidden(HehuError):
    status = 403
    code = "forbidden"


class TooManyAttempts(HehuError):
    status = 429
    code = "too-many-attempts"


def role_params(name: str, role: str) -> dict[str, str]:
    """``{name}_zh`` and ``{name}_en`` for a message: the role's Chinese title, its id."""
    from geo.i18n import message

    return {f"{name}_zh": message(f"auth.role.{role}", "zh"), f"{name}_en": role}


class AuthState:
    """Per-app sign-in state: failed attempts by name and by address, verified tokens,
    and the session ids this app saw revoked (a cache: the registry's store holds every
    revocation, for all app servers and across restarts, see :meth:`is_revoked`)."""

    def __init__(self, max_failures: int, window_s: float, session_lifetime_s: float = 12 * 3600):
        self.max_failures = max_failures
        self.window_s = window_s
        self.session_lifetime_s = session_lifetime_s
        self.failures: dict[str, deque] = {}
        self.verified: dict[str, bool] = {}
        self.revoked: dict[str, float] = {}
        self.lock = threading.Lock()

    def revoke(self, sid: str) -> None:
        now = time.time()
        with self.lock:
            self.revoked[sid] = now + self.session_lifetime_s
            if len(self.revoked) > 1000:  # forget revocations of sessions expired anyway
                self.revoked = {k: t for k, t in self.revoked.items() if t > now}

    def is_revoked(self, sid: str | None, registry=None) -> bool:
        """Whether the session ``sid`` was signed out here or, asking ``registry``'s
        store, by any app server on the registry (a revoked id is remembered here)."""
        with self.lock:
            if sid is None or sid in self.revoked:
                return True
        if registry is not None and session_revoked(registry, sid):
            with self.lock:
                self.revoked[sid] = time.time() + self.session_lifetime_s
            return True
        return False

    def _recent(self, client: str, now: float) -> deque:
        q = self.failures.setdefault(client, deque())
        while q and q[0] < now - self.window_s:
            q.popleft()
        return q

    def blocked(self, client: str) -> float:
        """Seconds until ``client`` may try again (0 when not blocked)."""
        now = time.monotonic()
        with self.lock:
            q = self._recent(client, now)
            if len(q) < self.max_failures:
                return 0.0
            return max(1.0, q[0] + self.window_s - now)

    def failed(self, client: str) -> None:
        now = time.monotonic()
        with self.lock:
            self._recent(client, now).append(now)
            if len(self.failures) > 10_000:  # forget idle addresses
                self.failures = {k: v for k, v in self.failures.items() if v}


@bp.record_once
def _setup(state) -> None:
    app = state.app
    cfg = app.config
    cfg.setdefault("LOGIN_MAX_FAILURES", 5)
    cfg.setdefault("LOGIN_WINDOW_S", 300)
    cfg.setdefault("SECURE_COOKIES", False)
    cfg["SESSION_COOKIE_HTTPONLY"] = True
    if not cfg.get("SESSION_COOKIE_SAMESITE"):
        cfg["SESSION_COOKIE_SAMESITE"] = "Lax"
    if cfg.get("SECURE_COOKIES") or cfg.get("PREFERRED_URL_SCHEME") == "https":
        cfg["SESSION_COOKIE_SECURE"] = True
    cfg.setdefault("SESSION_LIFETIME_H", 12)
    cfg["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=float(cfg["SESSION_LIFETIME_H"]))
    app.extensions["hehu_auth"] = AuthState(
        int(cfg["LOGIN_MAX_FAILURES"]), float(cfg["LOGIN_WINDOW_S"]), float(cfg["SESSION_LIFETIME_H"]) * 3600
    )
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["current_user"] = current_user


def _state() -> AuthState:
    return current_app.extensions["hehu_auth"]


def client_address() -> str:
    return request.remote_addr or "unknown"


def _token_name(token: str | None) -> str:
    """The user name a token claims (for counting failures), or ``""``."""
    from geo.users import token_name

    return token_name(token) or ""


def _refuse(token: str | None, key: str, how: str) -> HehuError:
    """Count a failed sign-in against the address and the claimed name; 429 past the limit.

    Only wrong credentials reach this: a correct one is accepted whatever the counts.
    """
    state, address, name = _state(), client_address(), _token_name(token)
    state.failed("addr:" + address)
    if name:
        state.failed("name:" + name)
    security_log.warning("refused %s from %s for name %r on %s %s", how, address, name[:64], request.method, request.path)
    wait = max(state.blocked("addr:" + address), state.blocked("name:" + name) if name else 0.0)
    if wait:
        return TooManyAttempts(
            key="auth.too_many_attempts", params={"seconds": int(wait) + 1}, retry_after=int(wait) + 1
        )
    return Unauthorized(key=key)


# -- who is asking --------------------------------------------------------------------


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip()


def current_user() -> User | None:
    """The user making this request (Bearer token first, then the session), or None.

    A Bearer header with a wrong token is refused (401) and counted as a failed sign-in,
    so a client that sent credentials never silently falls back to anonymous.
    """
    if "hehu_user" in g:
        return g.hehu_user
    user = None
    g.hehu_via = None
    if "Authorization" in request.headers:
        token = _bearer()
        if token is None:
            raise Unauthorized(key="auth.bearer_malformed")
        user = authenticate(registry(), token, cache=_state().verified)
        if user is None:
            raise _refuse(token, "auth.token_unknown", "Bearer token")
        g.hehu_via = "bearer"
    elif session.get("user"):
        found = get_user(registry(), session["user"])
        if (
            found is not None
            and found.active
            and found.fingerprint == session.get("fp")
            and not _state().is_revoked(session.get("sid"), registry())
        ):
            user = found
            g.hehu_via = "session"
        else:  # signed out, disabled, deleted, or the token was re-issued: the session ends
            session.pop("user", None)
            session.pop("fp", None)
            session.pop("sid", None)
    g.hehu_user = user
    return user


def csrf_token() -> str:
    """This session's CSRF token (created on first use)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _check_csrf() -> None:
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    expected = session.get("csrf") or ""
    # Bytes: compare_digest refuses str with non-ASCII characters (a TypeError, a 500).
    if not expected or not hmac.compare_digest(str(sent).encode("utf-8"), str(expected).encode("utf-8")):
        security_log.warning("refused %s %s from %s: missing or wrong CSRF token", request.method, request.path, client_address())
        raise Forbidden(key="auth.csrf")


def require(role: str) -> User:
    """The current user if their role is ``role`` or above; 401/403 otherwise.

    Writes authenticated by the session cookie also need the CSRF token.
    """
    if role not in ROLES:  # pragma: no cover - a programming error
        raise ValueError(role)
    user = current_user()
    if user is None:
        raise Unauthorized(key="auth.sign_in_first")
    if g.get("hehu_via") == "session" and request.method not in SAFE_METHODS:
        _check_csrf()
    if not user.can(role):
        security_log.info(
            "refused %s %s to %s (%s) from %s: needs %s",
            request.method, request.path, user.name, user.role, client_address(), role,
        )
        raise Forbidden(
            key="auth.role_needed",
            params={"user": user.name, **role_params("role", user.role), **role_params("needed", role)},
        )
    return user


def require_role(role: str):
    """View decorator: run the view only for users with ``role`` or above."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            require(role)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def wants_html() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html" and "Authorization" not in request.headers


# -- reads behind sign-in ------------------------------------------------------------------

_OPEN_ENDPOINTS = {"auth.login", "auth.logout", "auth.me", "static"}


@bp.before_app_request
def _reads_need_login():
    if not current_app.config.get("READ_REQUIRES_LOGIN"):
        return None
    endpoint = request.endpoint or ""
    if endpoint in _OPEN_ENDPOINTS or endpoint.endswith(".static"):
        return None
    if current_user() is not None:
        return None
    if wants_html() and request.method in SAFE_METHODS:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    raise Unauthorized(key="auth.reads_need_login")


# -- pages -------------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site, else ``/``.

    Browsers drop tabs and newlines inside a URL and read a backslash as a slash, so
    ``/\t/evil.example`` is ``//evil.example``, another site: any control character or
    backslash refuses the target, and what is left must parse with no scheme and no host.
    """
    if not target or not isinstance(target, str) or len(target) > 2000:
        return "/"
    if "\\" in target or any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with a token (as the password); sets the session cookie."""
    error = None
    status = 200
    if request.method == "POST":
        try:
            _check_csrf()
            token = request.form.get("token", "").strip()
            user = authenticate(registry(), token, cache=_state().verified)
            if user is None:
                raise _refuse(token, "auth.token_wrong", "sign-in")
        except HehuError as exc:
            if not wants_html():
                raise
            error, status = exc.render(lang()), exc.status
        else:
            security_log.info("user %s (%s) signed in from %s", user.name, user.role, client_address())
            csrf = secrets.token_urlsafe(32)
            session.clear()
            session.permanent = True
            session.update({"user": user.name, "fp": user.fingerprint, "csrf": csrf, "sid": secrets.token_urlsafe(18)})
            if not wants_html():
                return jsonify({"user": user.to_dict(), "csrf_token": csrf})
            return redirect(_safe_next(request.args.get("next") or request.form.get("next")))
    html = render_template(
        "auth/login.html", error=error, next=_safe_next(request.args.get("next")), lang=lang()
    )
    return html, status


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """Sign out (POST with the CSRF token; GET shows the button)."""
    if request.method == "POST":
        _check_csrf()
        if session.get("sid"):
            # The cookie is only signed, not stored: a copy of it would keep working for
            # the session's lifetime unless the server forgets this id.
            _state().revoke(session["sid"])
            try:  # in the registry: every app server, and each after a restart, refuses it
                revoke_session(registry(), session["sid"], session.get("user") or "", _state().session_lifetime_s)
            except ReadOnlyRegistryError:  # a read-only registry: this server forgets it on restart
                log.warning("session of %s revoked in this server only (read-only registry)", session.get("user"))
            security_log.info("user %s signed out from %s", session.get("user"), client_address())
        session.clear()
        if not wants_html():
            return jsonify({"user": None})
        return redirect(url_for("auth.login"))
    return render_template("auth/logout.html", user=current_user(), lang=lang())


@bp.route("/auth/me")
def me():
    """Who is signed in, with the CSRF token for cookie-authenticated writes."""
    try:
        user = current_user()
    except HehuError:
        user = None
    body: dict[str, Any] = {"user": None if user is None else user.to_dict(), "roles": list(ROLES)}
    if user is not None and g.get("hehu_via") == "session":
        body["csrf_token"] = csrf_token()
    resp = jsonify(body)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.app_errorhandler(TooManyAttempts)
def _too_many(exc: TooManyAttempts):
    resp = jsonify(exc.to_dict(lang()))
    resp.status_code = exc.status
    resp.headers["Retry-After"] = str(exc.details.get("retry_after", 60))
    return resp
