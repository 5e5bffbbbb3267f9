"""The pages a user opens on their own phone or computer: the pre-link sign-in (``/device``) and
finishing an operation approved while the kiosk was offline (``/voucher``).

Every request counts against its address's limit; a form that cannot be read is answered with the
page and its words for that, never with an OAuth error.
"""

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from linkserver.api.deps import PUBLIC_LIMIT, ServicesDep, in_pool
from linkserver.api.forms import form_body, read_form
from linkserver.api.responses import documented_json
from linkserver.errors import ApiError, ErrorCode
from linkserver.pages import done_html, pick_language, sign_in_html, voucher_done_html, voucher_html
from linkserver.tokens import AuthError

router = APIRouter(dependencies=[PUBLIC_LIMIT])

#: The sign-in page's fields and their longest values; refusing needs only the user code.
SIGN_IN_FIELDS = {"user_code": 32, "account_id": 64, "password": 1024, "lang": 2}
SIGN_IN_ACTIONS = ("approve", "deny")
SIGN_IN_FORM = form_body({
    **{name: {"type": "string", "maxLength": limit} for name, limit in SIGN_IN_FIELDS.items()},
    "action": {"type": "string", "enum": list(SIGN_IN_ACTIONS), "default": "approve"},
}, ["user_code"])
VOUCHER_FIELDS = {"code": 64, "account_id": 64, "new_password": 1024, "lang": 2}
VOUCHER_FORM = form_body(
    {name: {"type": "string", "maxLength": limit} for name, limit in VOUCHER_FIELDS.items()}, ["code"])
VOUCHER_CODE = re.compile(r"[A-Za-z0-9-]{8,64}")
Lang = Annotated[str, Query(max_length=2)]
UserCode = Annotated[str, Query(max_length=32)]
VoucherCode = Annotated[str, Query(max_length=64)]
#: A page's answers besides itself.
PAGE_ANSWERS = documented_json(413, 422, 429)


def form_answers(refusals: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """A form's answers besides the page: its refusals (the page again, with words) and the JSON ones."""
    pages = {400: "Malformed form", **refusals}
    html: dict[int | str, dict[str, Any]] = {
        status: {"description": words, "content": {"text/html": {}}} for status, words in pages.items()}
    return {**html, **documented_json(413, 429)}


def page_language(request: Request, lang: str | None) -> str:
    return pick_language(lang, request.headers.get("accept-language"))


async def page_form(request: Request) -> tuple[dict[str, str], str]:
    """A form posted from one of the user's pages (empty if unreadable), and the page's language."""
    try:
        form = await read_form(request)
    except AuthError:
        form = {}
    return form, page_language(request, form.get("lang"))


@router.get("/device", response_class=HTMLResponse, responses=PAGE_ANSWERS, tags=["account sign-in"])
def device_page(request: Request, user_code: UserCode = "", lang: Lang = "") -> HTMLResponse:
    return HTMLResponse(sign_in_html(page_language(request, lang), user_code))


@router.post("/device", response_class=HTMLResponse, openapi_extra=SIGN_IN_FORM, tags=["account sign-in"],
             responses=form_answers({403: "Wrong account ID or password, or a code that is not valid"}))
async def device_sign_in(request: Request, found: ServicesDep) -> HTMLResponse:
    form, lang = await page_form(request)
    action = form.get("action", "approve")
    readable = action in SIGN_IN_ACTIONS and "user_code" in form and all(
        len(form.get(name, "")) <= limit for name, limit in SIGN_IN_FIELDS.items())
    if not readable:
        return HTMLResponse(sign_in_html(lang, "", "unreadable"), status_code=400)
    user_code = form["user_code"]
    if action == "deny":
        await in_pool(found.device.deny, user_code)
        return HTMLResponse(done_html(lang, "denied"))
    outcome = await in_pool(found.device.sign_in, user_code, form.get("account_id", ""),
                            form.get("password", ""))
    if outcome == "approved":
        return HTMLResponse(done_html(lang, "approved"))
    return HTMLResponse(sign_in_html(lang, user_code, "wrong" if outcome == "wrong" else "expired"),
                        status_code=403)


@router.get("/voucher", response_class=HTMLResponse, responses=PAGE_ANSWERS, tags=["offline"])
def voucher_page(request: Request, code: VoucherCode = "", lang: Lang = "") -> HTMLResponse:
    return HTMLResponse(voucher_html(page_language(request, lang), code))


@router.post("/voucher", response_class=HTMLResponse, openapi_extra=VOUCHER_FORM, tags=["offline"],
             responses=form_answers({403: "A voucher that is not valid for this account",
                                     422: "A new password is missing or breaks the policy"}))
async def voucher_redeem(request: Request, found: ServicesDep) -> HTMLResponse:
    form, lang = await page_form(request)
    too_long = any(len(form.get(name, "")) > limit for name, limit in VOUCHER_FIELDS.items())
    if "code" not in form or too_long:
        return HTMLResponse(voucher_html(lang, "", "unreadable"), status_code=400)
    code = form["code"].strip()
    account_id = form.get("account_id", "").strip()
    if not VOUCHER_CODE.fullmatch(code) or not found.parts.policy.account_id_ok(account_id):
        return HTMLResponse(voucher_html(lang, code, "v_invalid"), status_code=403)
    try:
        result = await in_pool(found.offline.redeem, code, account_id, form.get("new_password") or None)
    except ApiError as exc:
        if exc.code is ErrorCode.MFA_UNAVAILABLE:
            return HTMLResponse(voucher_html(lang, code, "v_mfa_unavailable"), status_code=503)
        if exc.code is not ErrorCode.PASSWORD_POLICY:
            return HTMLResponse(voucher_html(lang, code, "v_invalid"), status_code=403)
        problems = exc.extra.get("problems")
        missing = isinstance(problems, list) and "missing" in problems
        return HTMLResponse(voucher_html(lang, code, "v_needs_password" if missing else "v_weak"),
                            status_code=422)
    kind = str(result.pop("kind"))
    return HTMLResponse(voucher_done_html(lang, kind, result), headers={"Cache-Control": "no-store"})
