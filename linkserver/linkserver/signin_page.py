"""The sign-in page the user opens on their phone during pre-link (RFC 8628's verification URI).

In Japanese or English: the language asked for in the address or the form (``lang``), else the
first of the two the phone's browser prefers (``Accept-Language``), else Japanese. Each page links
to the other language. Everything the page shows comes from ``TEXTS``; what the user typed is
escaped, and the password is never written back into the page.
"""

from __future__ import annotations

import html
from urllib.parse import urlencode

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
        "wrong": "The account ID or password is wrong. Try again.",
        "expired": "This code is not valid any more. Start again at the kiosk.",
        "approved": "Signed in. Go back to the kiosk to continue.",
        "denied": "The request was refused. You can close this page.",
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
        "wrong": "アカウントIDまたはパスワードが違います。もう一度入力してください。",
        "expired": "このコードは有効期限が切れています。端末で最初からやり直してください。",
        "approved": "サインインしました。端末に戻って手続きを続けてください。",
        "denied": "お申し込みを取り消しました。このページは閉じてかまいません。",
    },
}

PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body{{font:18px/1.5 system-ui,sans-serif;max-width:28em;margin:2em auto;padding:0 1em}}
label,input,button{{display:block;width:100%;box-sizing:border-box;margin:.4em 0}}
input,button{{font-size:1.1em;padding:.6em}}.error{{color:#a00;font-weight:bold}}
.language{{text-align:right}}</style></head>
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


def _page(lang: str, body: str) -> str:
    return PAGE.format(lang=lang, title=html.escape(TEXTS[lang]["title"]), body=body)


def _switch(lang: str, user_code: str) -> str:
    other = "en" if lang == "ja" else "ja"
    query = urlencode({"user_code": user_code, "lang": other} if user_code else {"lang": other})
    return (f'<p class="language"><a href="/device?{html.escape(query)}" lang="{other}" hreflang="{other}">'
            f'{html.escape(TEXTS[lang]["other"])}</a></p>')


def sign_in_html(lang: str, user_code: str, problem: str | None = None) -> str:
    """The form: the code (filled in from the address), the account ID and the password."""
    words = {key: html.escape(value) for key, value in TEXTS[lang].items()}
    error = f'<p class="error" role="alert">{words[problem]}</p>' if problem else ""
    body = f"""{_switch(lang, user_code)}<h1>{words["heading"]}</h1>
<p>{words["intro"]}</p>
{error}<form method="post" action="/device">
<input type="hidden" name="lang" value="{lang}">
<label for="user_code">{words["code"]}</label>
<input id="user_code" name="user_code" value="{html.escape(user_code)}" autocomplete="off" required>
<label for="account_id">{words["account"]}</label>
<input id="account_id" name="account_id" inputmode="numeric" autocomplete="username" required>
<label for="password">{words["password"]}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button name="action" value="approve">{words["approve"]}</button>
<button name="action" value="deny" formnovalidate>{words["deny"]}</button></form>"""
    return _page(lang, body)


def done_html(lang: str, outcome: str) -> str:
    """The page after the form: signed in (``approved``) or refused (``denied``)."""
    return _page(lang, f'<h1 role="status">{html.escape(TEXTS[lang][outcome])}</h1>')
