"""What every console page shares: the language, the parts, pages and redirects, the posted form,
cookies, and the signed-in member."""

from __future__ import annotations

import ipaddress
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from linkserver.api.forms import read_form
from linkserver.console.queue import ConsoleQueue
from linkserver.console.sessions import ConsoleSessions, ConsoleUser
from linkserver.console.texts import DEFAULT_LANGUAGE, LANGUAGES, TEXTS
from linkserver.db import Database
from linkserver.staff import StaffDirectory, StaffInfo
from linkserver.tokens import AuthError
from linkserver.wakeups import Wakeups

HERE = Path(__file__).parent
SESSION_COOKIE = "console_session"
FORM_COOKIE = "console_form"
LANGUAGE_COOKIE = "console_lang"
PATH = "/console"
MAX_FIELD = 256
#: The live queue looks at the database this often when nothing in this process woke it (seconds),
#: and keeps a quiet connection open with a comment this often.
LIVE_RECHECK = 1.0
LIVE_PING = 15

_templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))


@dataclass
class ConsoleParts:
    staff: StaffDirectory
    sessions: ConsoleSessions
    queue: ConsoleQueue
    wakeups: Wakeups

    @property
    def db(self) -> Database:
        return self.staff.db


def language(request: Request) -> str:
    asked = request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
    if asked in LANGUAGES:
        return asked
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE


def secure_cookies(request: Request) -> bool:
    """Secure cookies everywhere but plain HTTP to a loopback address (a desk PC's own test)."""
    if request.url.scheme == "https":
        return True
    host = request.url.hostname or ""
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host != "localhost"


def set_cookie(response: Response, request: Request, name: str, value: str) -> None:
    response.set_cookie(name, value, path=PATH, httponly=True, samesite="strict",
                        secure=secure_cookies(request))


def page(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    lang = language(request)
    words = TEXTS[lang]
    other = "en" if lang == "ja" else "ja"
    body = _templates.get_template(template).render(t=words, lang=lang, other=other, path=request.url.path,
                                                    **values)
    response = HTMLResponse(body, status_code=status)
    if request.query_params.get("lang") in LANGUAGES:
        set_cookie(response, request, LANGUAGE_COOKIE, lang)
    return response


def redirect(to: str) -> RedirectResponse:
    return RedirectResponse(PATH + to, status_code=303)


async def form(request: Request) -> dict[str, str]:
    """The posted form's fields, each cut to a sane length; a body that is no form gives nothing,
    which the checks that follow refuse (its CSRF token is missing)."""
    try:
        data = await read_form(request)
    except AuthError:
        return {}
    return {key: value[:MAX_FIELD] for key, value in data.items()}


def current_user(request: Request, parts: ConsoleParts, touch: bool = True) -> ConsoleUser | None:
    return parts.sessions.find(request.cookies.get(SESSION_COOKIE), touch)




def signed_in(request: Request, parts: ConsoleParts) -> tuple[ConsoleUser, StaffInfo] | Response:
    """The signed-in member of a page's request, or the redirect to the sign-in."""
    user = current_user(request, parts)
    if user is None or not user.signed_in:
        return redirect("/sign-in")
    return user, parts.staff.info(user.staff_id)


def signed_in_as(request: Request, parts: ConsoleParts, roles: Collection[str],
                 refusal: str) -> tuple[ConsoleUser, StaffInfo] | Response:
    """The signed-in member if their role is one of ``roles``; else the sign-in's redirect, or a
    403 page saying ``refusal``'s words."""
    found = signed_in(request, parts)
    if isinstance(found, Response):
        return found
    user, member = found
    if member.role not in roles:
        return refuse(request, 403, user, member, refusal)
    return found


def refuse(request: Request, status: int, user: ConsoleUser, member: StaffInfo,
           words_key: str) -> HTMLResponse:
    """A page saying, in the member's language, why the request was not done."""
    return page(request, "message.html", status, member=member, csrf=user.csrf,
                message=TEXTS[language(request)][words_key])
