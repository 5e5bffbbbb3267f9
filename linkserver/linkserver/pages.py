"""The pages a user opens on their own phone or computer.

- ``/device``: the sign-in during pre-link (RFC 8628's verification URI);
- ``/voucher``: finishing an operation that staff approved at a kiosk while it was offline (the
  kiosk's QR code opens it with the voucher in the address's fragment, never sent to a server).

In Japanese or English: the language asked for in the address or the form (``lang``), else the
first of the two the browser prefers (``Accept-Language``), else Japanese. Each page links to the
other language. Everything a page says comes from ``TEXTS``; what the user typed is escaped, and
a password is never written back into a page.
"""

from __future__ import annotations

import html
import textwrap
from urllib.parse import parse_qs, urlencode, urlsplit

LANGUAGES = ("ja", "en")
DEFAULT_LANGUAGE = "ja"

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Sign in to link your card",
        "heading": "Link your My Number Card",
        "intro": "Sign in with your university account to confirm it is yours. The kiosk continues by "
                 "itself.",
        "code": "Code shown on the kiosk",
        "account": "Account ID",
        "password": "Password",
        "approve": "Sign in and link",
        "deny": "This was not me",
        "other": "日本語",
        "unreadable": "The form could not be read.",
        "wrong": "The code, account ID or password is wrong. Check the code on the kiosk and try again.",
        "expired": "This code is not valid any more. Start again at the kiosk.",
        "approved": "Signed in. Go back to the kiosk to continue.",
        "denied": "The request was refused. You can close this page.",
        "v_title": "Finish your request",
        "v_heading": "Finish a request approved at the help desk",
        "v_intro": "Enter the voucher code the kiosk showed you and your account ID. For a password "
                   "reset, also choose your new password here.",
        "v_code": "Voucher code",
        "v_account": "Account ID",
        "v_password": "New password (only for a password reset)",
        "v_policy": "12 to 64 characters, with at least 3 of: capital letters, small letters, digits, "
                    "symbols.",
        "v_submit": "Finish",
        "v_invalid": "This voucher is not valid for this account: it may be mistyped, used already or "
                     "expired. If the kiosk was offline, it may not have reached the university yet: "
                     "try again later.",
        "v_needs_password": "This voucher is for a password reset: enter your new password.",
        "v_weak": "The new password does not meet the rules below the field.",
        "v_password_set": "Your new password is set. You can sign in with it now.",
        "v_enrolment": "Your sign-in methods were cleared. Register a new one with this code:",
        "v_authenticator": "Your sign-in methods were cleared. Add this key to your authenticator app "
                           "(it is shown only once):",
        "v_open_app": "Open in the authenticator app on this device",
        "v_mfa_unavailable": "The server that keeps the sign-in methods did not answer, so nothing was "
                             "changed and the voucher still works. Please try again in a few minutes.",
        "v_ticket": "Your salvage ticket:",
        "v_until": "Valid until %s (UTC).",
    },
    "ja": {
        "title": "カードのひも付けのためのサインイン",
        "heading": "マイナンバーカードのひも付け",
        "intro": "大学のアカウントでサインインして、ご本人のアカウントであることを確認してください。"
                 "端末の手続きはそのまま進みます。",
        "code": "端末に表示されたコード",
        "account": "アカウントID",
        "password": "パスワード",
        "approve": "サインインしてひも付ける",
        "deny": "心当たりがありません（取り消す）",
        "other": "English",
        "unreadable": "入力内容を読み取れませんでした。",
        "wrong": "コード、アカウントID、またはパスワードが違います。端末に表示されたコードを確かめて、"
                 "もう一度入力してください。",
        "expired": "このコードは有効期限が切れています。端末で最初からやり直してください。",
        "approved": "サインインしました。端末に戻って手続きを続けてください。",
        "denied": "お申し込みを取り消しました。このページは閉じてかまいません。",
        "v_title": "お手続きの完了",
        "v_heading": "窓口で承認されたお手続きの完了",
        "v_intro": "端末に表示された引換コードとアカウントIDを入力してください。パスワードの再設定の場合は、"
                   "ここで新しいパスワードも決めてください。",
        "v_code": "引換コード",
        "v_account": "アカウントID",
        "v_password": "新しいパスワード（パスワードの再設定の場合のみ）",
        "v_policy": "12〜64文字で、英大文字・英小文字・数字・記号のうち3種類以上を含めてください。",
        "v_submit": "完了する",
        "v_invalid": "この引換コードはこのアカウントでは使えません。入力の誤り、使用済み、または期限切れの"
                     "可能性があります。端末がオフラインだった場合は、まだ大学に届いていないことがあります。"
                     "時間をおいてもう一度お試しください。",
        "v_needs_password": "パスワードの再設定の引換コードです。新しいパスワードを入力してください。",
        "v_weak": "新しいパスワードが入力欄の下のルールを満たしていません。",
        "v_password_set": "新しいパスワードを設定しました。このパスワードでサインインできます。",
        "v_enrolment": "登録されていた認証方法を削除しました。次のコードで新しい方法を登録してください：",
        "v_authenticator": "登録されていた認証方法を削除しました。次のキーを認証アプリに追加してください"
                           "（表示は一度だけです）：",
        "v_open_app": "この端末の認証アプリで開く",
        "v_mfa_unavailable": "認証方法を管理するサーバーから応答がなかったため、何も変更されていません。"
                             "引換コードは引き続き使えます。数分後にもう一度お試しください。",
        "v_ticket": "データ取り出しのチケット：",
        "v_until": "有効期限：%s（協定世界時）",
    },
}

#: Styles and scripts are files the server serves (``static/``): a page has no inline code, so its
#: content security policy allows only the server's own files.
PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<link rel="stylesheet" href="/static/pages.css"></head>
<body>{body}</body></html>"""


def pick_language(asked: str | None, accept_language: str | None) -> str:
    """``asked`` if it is one of ours, else the first of ours in ``Accept-Language`` by weight."""
    if asked in LANGUAGES:
        return asked
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and weight > 0:
            ranked.append((-weight, position, primary))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


def _page(lang: str, body: str, title: str | None = None) -> str:
    return PAGE.format(lang=lang, title=html.escape(title or TEXTS[lang]["title"]), body=body)


def _switch(lang: str, path: str, keep: dict[str, str]) -> str:
    """A link to the same page in the other language, keeping ``keep`` (the code it was opened with)."""
    other = "en" if lang == "ja" else "ja"
    query = urlencode({**{k: v for k, v in keep.items() if v}, "lang": other})
    return (f'<p class="language"><a href="{path}?{html.escape(query)}" lang="{other}" hreflang="{other}">'
            f'{html.escape(TEXTS[lang]["other"])}</a></p>')


def _form_page(lang: str, path: str, keep: dict[str, str], texts: tuple[str, str, str],
               problem: str | None, fields: str) -> str:
    """A page with a form posting to ``path``: the language link, heading, intro, the problem, ``fields``.

    ``texts`` names the title, heading and intro in ``TEXTS``; ``fields`` is already escaped HTML.
    """
    title, heading, intro = (TEXTS[lang][key] for key in texts)
    error = f'<p class="error" role="alert">{html.escape(TEXTS[lang][problem])}</p>' if problem else ""
    body = f"""{_switch(lang, path, keep)}<h1>{html.escape(heading)}</h1>
<p>{html.escape(intro)}</p>
{error}<form method="post" action="{path}">
<input type="hidden" name="lang" value="{lang}">
{fields}</form>"""
    return _page(lang, body, title)


def sign_in_html(lang: str, user_code: str, problem: str | None = None) -> str:
    """The form: the code (filled in from the address), the account ID and the password."""
    words = {key: html.escape(value) for key, value in TEXTS[lang].items()}
    fields = f"""<label for="user_code">{words["code"]}</label>
<input id="user_code" name="user_code" value="{html.escape(user_code)}" autocomplete="off" required>
<label for="account_id">{words["account"]}</label>
<input id="account_id" name="account_id" inputmode="numeric" autocomplete="username" required>
<label for="password">{words["password"]}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button name="action" value="approve">{words["approve"]}</button>
<button name="action" value="deny" formnovalidate>{words["deny"]}</button>"""
    return _form_page(lang, "/device", {"user_code": user_code}, ("title", "heading", "intro"), problem,
                      fields)


def done_html(lang: str, outcome: str) -> str:
    """The page after the form: signed in (``approved``) or refused (``denied``)."""
    return _page(lang, f'<h1 role="status">{html.escape(TEXTS[lang][outcome])}</h1>')


def voucher_html(lang: str, code: str, problem: str | None = None) -> str:
    """The voucher form: the code, the account ID, a new password.

    The kiosk's QR code carries the voucher in the address's fragment (``#code=...``), which a
    browser never sends: no server, proxy or log sees it before the user submits the form. The
    page's script (``static/voucher.js``) fills the code in from it.
    """
    words = {key: html.escape(value) for key, value in TEXTS[lang].items()}
    fields = f"""<label for="code">{words["v_code"]}</label>
<input id="code" name="code" value="{html.escape(code)}" autocomplete="off"
 autocapitalize="characters" required>
<label for="account_id">{words["v_account"]}</label>
<input id="account_id" name="account_id" inputmode="numeric" autocomplete="username" required>
<label for="new_password">{words["v_password"]}</label>
<input id="new_password" name="new_password" type="password" autocomplete="new-password"
 aria-describedby="policy">
<p id="policy">{words["v_policy"]}</p>
<button>{words["v_submit"]}</button>
<script src="/static/voucher.js"></script>"""
    return _form_page(lang, "/voucher", {"code": code}, ("v_title", "v_heading", "v_intro"), problem, fields)


def voucher_done_html(lang: str, kind: str, result: dict[str, object]) -> str:
    """What the redeemed voucher gave: the password set, an enrolment code or a salvage ticket."""
    words = TEXTS[lang]
    if kind == "password_reset":
        body = f'<h1 role="status">{html.escape(words["v_password_set"])}</h1>'
    else:
        caption, value = ((words["v_enrolment"], result.get("enrolment_code")) if kind == "mfa_reset"
                          else (words["v_ticket"], result.get("ticket")))
        uri = result.get("enrolment_uri")
        link = ""
        if kind == "mfa_reset" and isinstance(uri, str):
            secret = parse_qs(urlsplit(uri).query).get("secret", [""])[0]
            caption, value = words["v_authenticator"], " ".join(textwrap.wrap(secret, 4))
            link = f'<p><a href="{html.escape(uri)}">{html.escape(words["v_open_app"])}</a></p>'
        until = str(result.get("expires_at", ""))[:16].replace("T", " ")
        body = (f'<h1 role="status">{html.escape(caption)}</h1>'
                f'<p class="code" id="result">{html.escape(str(value))}</p>{link}'
                f'<p>{html.escape(words["v_until"] % until)}</p>')
    return _page(lang, body, words["v_title"])
