"""A scripted browser for the sign-in tests: no real browser, but a browser's rules where the OAuth flows depend on them.

`Browser().authorize(url, username, password, redirect_prefix, decision="approve")` opens an authorization URL of the
Skillport worker and walks it hop by hop (redirects are never followed blindly): it fills in the identity provider's
login form (any form with a password field: tests/standins/idp.mjs, forge.py's GitHub), presses the IdP's consent
button if it shows one, then on Skillport's own consent page (a POST form with hidden `pending` and `csrf` and
`decision` buttons) submits `decision` ("approve" / "deny"; None stops on that page). It stops before loading any URL
that starts with `redirect_prefix` (the MCP client's redirect URI) and returns the query there (code, state, iss,
error...), every hop as (status, url), and, when it stops on a page instead (an error page, the consent page with
decision=None, a login form refusing the password), that page's HTML and status.

The browser keeps its own cookie jar across calls (so an IdP or Skillport session carries over, as in a real
browser), with RFC 6265bis rules: host-only vs Domain cookies, Path, expiry and Max-Age, Secure (loopback http counts
as a secure context, as browsers treat http://localhost and 127.0.0.1), the `__Secure-` and `__Host-` prefixes (a
cookie breaking them is dropped, as a browser drops it), and SameSite (Strict only on same-site requests, where the
initiator and every URL of the redirect chain count; Lax, the default, also on cross-site top-level GETs; None needs
Secure). Navigations send Sec-Fetch-* headers, and form posts an Origin header, as browsers do.
"""

from __future__ import annotations

import ipaddress
import time
import urllib.parse
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import NamedTuple

try:
    import httpx2 as httpx  # what the `mcp` package brings
except ImportError:  # pragma: no cover
    import httpx

REDIRECTS = (301, 302, 303, 307, 308)
ALLOW_WORDS = ("allow", "authorize", "authorise", "approve", "accept", "continue", "confirm", "grant", "yes")
DENY_WORDS = ("deny", "cancel", "abort", "reject", "decline", "no")


class Hop(NamedTuple):
    status: int
    url: str


@dataclass
class Result:
    query: dict[str, str]
    hops: list[Hop]
    page: str | None = None
    status: int | None = None
    url: str | None = None  # the client redirect it stopped before, or the page it stopped on

    @property
    def code(self) -> str | None:
        return self.query.get("code")

    @property
    def error(self) -> str | None:
        return self.query.get("error")


# -- sites and secure contexts ---------------------------------------------------------------------------------------

def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_secure_context(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname or ""))


def origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def site(url: str) -> tuple[str, str]:
    """(scheme, registrable domain): an IP or single label is its own site; a name's last two labels (no PSL)."""
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        ipaddress.ip_address(host)
        return parts.scheme, host
    except ValueError:
        return parts.scheme, ".".join(host.split(".")[-2:])


# -- cookies ---------------------------------------------------------------------------------------------------------

@dataclass
class Cookie:
    name: str
    value: str
    domain: str  # the host for a host-only cookie
    host_only: bool
    path: str
    secure: bool
    http_only: bool
    same_site: str  # "strict", "lax" or "none"
    expires: float | None
    created: float = field(default_factory=time.time)


def _expiry(value: str) -> float | None:
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        try:
            return time.mktime(time.strptime(value.strip(), "%a, %d-%b-%Y %H:%M:%S GMT")) - time.timezone
        except ValueError:
            return None


def _default_path(url: str) -> str:
    path = urllib.parse.urlsplit(url).path
    return path[: path.rindex("/")] if path.startswith("/") and path.count("/") > 1 else "/"


def _path_matches(cookie_path: str, request_path: str) -> bool:
    return (request_path == cookie_path or request_path.startswith(cookie_path)
            and (cookie_path.endswith("/") or request_path[len(cookie_path)] == "/"))


class CookieJar:
    """Cookies as a browser keeps them; `rejected` lists the Set-Cookie lines it refused, with why."""

    def __init__(self):
        self.cookies: dict[tuple[str, str, str], Cookie] = {}
        self.rejected: list[tuple[str, str]] = []

    def store(self, url: str, line: str, now: float | None = None):
        now = time.time() if now is None else now
        host = (urllib.parse.urlsplit(url).hostname or "").lower()
        pair, *attributes = line.split(";")
        if "=" not in pair:
            return self.rejected.append((line, "no name=value"))
        name, value = (part.strip() for part in pair.split("=", 1))
        if not name:
            return self.rejected.append((line, "empty name"))
        attrs: dict[str, str | None] = {}
        for attribute in attributes:
            key, _, val = attribute.partition("=")
            attrs[key.strip().lower()] = val.strip()
        expires = None
        if attrs.get("max-age") not in (None, ""):
            try:
                expires = now + int(attrs["max-age"])
            except ValueError:
                pass
        elif attrs.get("expires"):
            expires = _expiry(attrs["expires"])
        domain = (attrs.get("domain") or "").lstrip(".").lower()
        if domain and not (host == domain or host.endswith("." + domain) and not _is_ip(host)):
            return self.rejected.append((line, f"Domain={domain} does not match {host}"))
        path = attrs.get("path") or ""
        if not path.startswith("/"):
            path = _default_path(url)
        secure = "secure" in attrs
        if secure and not is_secure_context(url):
            return self.rejected.append((line, "Secure from an insecure origin"))
        same_site = (attrs.get("samesite") or "lax").lower()
        if same_site not in ("strict", "lax", "none"):
            same_site = "lax"
        if same_site == "none" and not secure:
            return self.rejected.append((line, "SameSite=None without Secure"))
        if name.startswith("__Secure-") and not secure:
            return self.rejected.append((line, "__Secure- prefix without Secure"))
        if name.startswith("__Host-") and (not secure or domain or path != "/"):
            return self.rejected.append((line, "__Host- prefix needs Secure, Path=/ and no Domain"))
        key = (domain or host, path, name)
        old = self.cookies.pop(key, None)
        if expires is not None and expires <= now:
            return  # a deletion
        self.cookies[key] = Cookie(name, value, domain or host, not domain, path, secure, "httponly" in attrs,
                                   same_site, expires, old.created if old else now)

    def header(self, url: str, same_site: bool, top_level_get: bool, now: float | None = None) -> str | None:
        """The Cookie header for a request to `url`, or None."""
        now = time.time() if now is None else now
        parts = urllib.parse.urlsplit(url)
        host, path = (parts.hostname or "").lower(), parts.path or "/"
        chosen = []
        for key, cookie in list(self.cookies.items()):
            if cookie.expires is not None and cookie.expires <= now:
                del self.cookies[key]
                continue
            if not (host == cookie.domain if cookie.host_only else
                    host == cookie.domain or host.endswith("." + cookie.domain)):
                continue
            if not _path_matches(cookie.path, path) or (cookie.secure and not is_secure_context(url)):
                continue
            if cookie.same_site == "strict" and not same_site:
                continue
            if cookie.same_site == "lax" and not (same_site or top_level_get):
                continue
            chosen.append(cookie)
        chosen.sort(key=lambda c: (-len(c.path), c.created))
        return "; ".join(f"{c.name}={c.value}" for c in chosen) or None

    def get(self, name: str) -> Cookie | None:
        return next((c for c in self.cookies.values() if c.name == name), None)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


# -- forms -----------------------------------------------------------------------------------------------------------

@dataclass
class Form:
    method: str
    action: str
    fields: list[dict] = field(default_factory=list)  # {name, type, value, checked}
    buttons: list[dict] = field(default_factory=list)  # {name, value, label}

    def field(self, name: str) -> dict | None:
        return next((f for f in self.fields if f["name"] == name), None)

    def values(self) -> list[tuple[str, str]]:
        out = []
        for f in self.fields:
            if f["name"] and (f["type"] not in ("checkbox", "radio") or f["checked"]):
                out.append((f["name"], f["value"]))
        return out


class FormParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.form: Form | None = None
        self.text_target: dict | None = None  # a <button>, <textarea> or <option> collecting its text
        self.select: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self.form = Form((a.get("method") or "get").lower(), a.get("action", ""))
            self.forms.append(self.form)
        elif self.form is None:
            return
        elif tag == "input":
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "image"):
                self.form.buttons.append({"name": a.get("name", ""), "value": a.get("value", ""),
                                          "label": a.get("value", "")})
            elif kind not in ("button", "reset", "file"):
                self.form.fields.append({"name": a.get("name", ""), "type": kind, "value": a.get("value", ""),
                                         "checked": "checked" in a})
        elif tag == "button" and (a.get("type") or "submit").lower() == "submit":
            self.text_target = {"name": a.get("name", ""), "value": a.get("value", ""), "label": ""}
            self.form.buttons.append(self.text_target)
        elif tag == "textarea":
            self.text_target = {"name": a.get("name", ""), "type": "textarea", "value": "", "checked": False,
                                "textarea": True}
            self.form.fields.append(self.text_target)
        elif tag == "select":
            self.select = {"name": a.get("name", ""), "type": "select", "value": None, "checked": False}
            self.form.fields.append(self.select)
        elif tag == "option" and self.select is not None:
            if self.select["value"] is None or "selected" in a:
                self.select["value"] = a.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self.form = None
        elif tag in ("button", "textarea"):
            self.text_target = None
        elif tag == "select" and self.select is not None:
            self.select["value"] = self.select["value"] or ""
            self.select = None

    def handle_data(self, data):
        if self.text_target is not None:
            key = "value" if self.text_target.get("textarea") else "label"
            self.text_target[key] += data


def parse_forms(page: str) -> list[Form]:
    parser = FormParser()
    parser.feed(page)
    parser.close()
    for form in parser.forms:
        for button in form.buttons:
            button["label"] = " ".join(button["label"].split())
    return parser.forms


def _words(text: str) -> set[str]:
    return set("".join(c if c.isalnum() else " " for c in text.lower()).split())


# -- the browser -----------------------------------------------------------------------------------------------------

class Browser:
    def __init__(self, timeout: float = 30.0, max_hops: int = 40):
        self.jar = CookieJar()
        self.max_hops = max_hops
        self.client = httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False)

    def close(self):
        self.client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def request(self, method: str, url: str, data: list[tuple[str, str]] | None = None, initiator: str | None = None,
                redirects: list[str] = (), headers: dict | None = None) -> httpx.Response:
        """One navigation request with this browser's cookies and headers. `initiator` is the page that started the
        navigation (None: typed in or opened by an app), `redirects` the URLs it was redirected through so far."""
        chain = ([initiator] if initiator else []) + list(redirects)
        same_site = all(site(u) == site(url) for u in chain)
        fetch_site = ("none" if initiator is None else "same-origin" if all(origin(u) == origin(url) for u in chain)
                      else "same-site" if same_site else "cross-site")
        sent = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "User-Agent": "skillport-test-browser/1",
                "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Sec-Fetch-Site": fetch_site}
        cookie = self.jar.header(url, same_site=same_site, top_level_get=method == "GET")
        if cookie:
            sent["Cookie"] = cookie
        if initiator:  # strict-origin-when-cross-origin
            sent["Referer"] = initiator.split("#")[0] if origin(initiator) == origin(url) else origin(initiator) + "/"
        if method == "POST":
            tainted = any(origin(u) != origin(initiator or url) for u in redirects)
            sent["Origin"] = "null" if tainted or not initiator else origin(initiator)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        sent.update(headers or {})
        body = urllib.parse.urlencode(data or []).encode() if method == "POST" else None
        response = self.client.request(method, url, content=body, headers=sent)
        self.client.cookies.clear()  # the jar above is the only cookie store
        for line in response.headers.get_list("set-cookie"):
            self.jar.store(url, line)
        return response

    def authorize(self, url: str, username: str | None, password: str | None, redirect_prefix: str,
                  decision: str | None = "approve") -> Result:
        hops: list[Hop] = []
        method, data, initiator, redirects = "GET", None, None, []
        logins = consents = idp_consents = 0
        while len(hops) < self.max_hops:
            if url.startswith(redirect_prefix):
                split = urllib.parse.urlsplit(url)
                query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
                for key, value in urllib.parse.parse_qsl(split.fragment, keep_blank_values=True):
                    query.setdefault(key, value)
                return Result(query, hops, url=url)
            response = self.request(method, url, data, initiator, redirects)
            hops.append(Hop(response.status_code, url))
            location = response.headers.get("location")
            if response.status_code in REDIRECTS and location:
                if response.status_code not in (307, 308):  # 307 and 308 keep the method and body
                    method, data = "GET", None
                redirects, url = redirects + [url], urllib.parse.urljoin(url, location)
                continue
            page = response.text
            stop = Result({}, hops, page, response.status_code, url)
            if response.status_code >= 400 or "html" not in response.headers.get("content-type", ""):
                return stop
            forms = parse_forms(page)
            form, button = None, None
            skillport = next((f for f in forms if f.method == "post" and f.field("pending") and f.field("csrf")), None)
            login = next((f for f in forms if any(x["type"] == "password" for x in f.fields)), None)
            if skillport:
                consents += 1
                if decision is None or consents > 1:
                    return stop
                form = skillport
                button = next((b for b in form.buttons if b["name"] == "decision" and b["value"] == decision), None)
                if button is None:
                    raise AssertionError(f"Skillport's consent page has no decision={decision!r} button:\n{page}")
            elif login:
                logins += 1
                if logins > 1 or username is None:
                    return stop  # the IdP refused the password (or none was given): stay on its page
                form = login
                self._fill_login(form, username, password or "")
                button = form.buttons[0] if form.buttons else None
            else:
                idp_consents += 1
                if idp_consents > 3:
                    return stop
                form, button = self._consent_button(forms)
                if form is None:
                    return stop
            fields = form.values() + ([(button["name"], button["value"])] if button and button["name"] else [])
            target = urllib.parse.urljoin(url, form.action or url)
            if form.method == "post":
                method, data = "POST", fields
            else:
                method, data = "GET", None
                target = urllib.parse.urlsplit(target)._replace(query=urllib.parse.urlencode(fields)).geturl()
            initiator, redirects, url = url, [], target
        raise AssertionError(f"more than {self.max_hops} hops: {hops}")

    @staticmethod
    def _fill_login(form: Form, username: str, password: str):
        texts = [f for f in form.fields if f["type"] in ("text", "email", "") and f["name"]]
        preferred = ("username", "login", "email", "user", "identifier")
        user_field = next((f for name in preferred for f in texts if f["name"].lower() == name), texts[0] if texts
                          else None)
        if user_field is None:
            raise AssertionError("a login form without a username field")
        user_field["value"] = username
        next(f for f in form.fields if f["type"] == "password")["value"] = password

    @staticmethod
    def _consent_button(forms: list[Form]) -> tuple[Form | None, dict | None]:
        """The IdP's allow button: a submit whose label, value or form action says allow and nothing says deny."""
        for form in forms:
            for button in form.buttons or [{"name": "", "value": "", "label": ""}]:
                words = _words(" ".join([button["label"], button["value"], form.action.rsplit("/", 1)[-1]]))
                if words & set(ALLOW_WORDS) and not words & set(DENY_WORDS):
                    return form, button
        return None, None
