"""A staff member at the console over real HTTP: a cookie jar, the forms' CSRF tokens, TOTP codes."""

from __future__ import annotations

import datetime as dt
import html
import re

import httpx2
import pyotp

from linkserver.staff import StaffDirectory
from tests.linkserver.helpers import LiveServer

PASSWORD = "console passphrase 1"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
SECRET = re.compile(r'<code class="secret">([A-Z2-7]+)</code>')


def staff_of(live: LiveServer) -> StaffDirectory:
    return live.server.console.staff


def seat_staff(live: LiveServer) -> LiveServer:
    """The demo kiosk at the north counter; hanako at the desk there, jiro at the south one, a
    supervisor (boss) and an auditor (kansa)."""
    staff = staff_of(live)
    staff.add_counter("north", "North counter")
    staff.add_counter("south", "South counter")
    staff.place_kiosk(live.setup.kiosk_id, "north")
    for staff_id, role, counter in (("hanako", "desk", "north"), ("jiro", "desk", "south"),
                                    ("boss", "supervisor", None), ("kansa", "auditor", None)):
        staff.add(staff_id, staff_id.title(), role, PASSWORD)
        if counter:
            staff.assign(staff_id, counter)
    return live


class ConsoleUser:
    """A browser signed in (or signing in) as one member; ``secret`` is their authenticator's key."""

    def __init__(self, live: LiveServer, staff_id: str, password: str = PASSWORD) -> None:
        self.live = live
        self.staff_id = staff_id
        self.password = password
        self.http = httpx2.Client(base_url=live.base, timeout=30, follow_redirects=False)
        self.secret: str | None = None
        self.last_code = ""
        self.csrf = ""

    def get(self, path: str) -> httpx2.Response:
        answer = self.http.get("/console" + path)
        self._note(answer)
        return answer

    def post(self, path: str, **fields: str) -> httpx2.Response:
        answer = self.http.post("/console" + path, data={"csrf": self.csrf, **fields})
        self._note(answer)
        return answer

    def _note(self, answer: httpx2.Response) -> None:
        found = CSRF.search(answer.text)
        if found:
            self.csrf = html.unescape(found.group(1))

    def code(self, steps: int = 0) -> str:
        assert self.secret is not None
        return pyotp.TOTP(self.secret).at(self.live.clock() + dt.timedelta(seconds=30 * steps))

    def password_step(self, password: str | None = None) -> httpx2.Response:
        self.get("/sign-in")
        return self.post("/sign-in", staff_id=self.staff_id, password=password or self.password)

    def sign_in(self) -> httpx2.Response:
        """The whole sign-in; the first one enrols TOTP from the key the page shows."""
        answer = self.password_step()
        assert answer.headers.get("location") == "/console/second-factor", answer.text
        page = self.get("/second-factor")
        enrolling = SECRET.search(page.text)
        if enrolling:
            self.secret = enrolling.group(1)
        self.last_code = self.code()
        answer = self.post("/second-factor", code=self.last_code)
        assert answer.headers.get("location") == "/console/", answer.text
        return self.get("/")

    def decide(self, operation_id: str, decision: str, reason: str | None = None) -> httpx2.Response:
        fields = {"decision": decision, **({"reason": reason} if reason else {})}
        return self.post(f"/operations/{operation_id}/decision", **fields)
