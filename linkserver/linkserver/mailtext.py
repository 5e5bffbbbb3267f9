"""The words of each notice to an account holder, in Japanese and in English.

A notice says what was done, when (Japan time in the Japanese text, UTC in the English, each with
its zone named), at which counter, and what to do if it was not the holder. It never carries a
password, a code, a ticket or a link: a mail that asks the reader to click to sign in is what a
phishing mail looks like, and the holder is told so.

The server does not know which language a holder reads, so by default one mail carries both,
Japanese first (the language of the institution), then English.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

#: Japan has kept standard time all year since 1952: a fixed offset needs no time-zone database.
JAPAN = dt.timezone(dt.timedelta(hours=9), "JST")
RULE = "-" * 60

#: What happened, by event: (Japanese, English). The English is also the subject's English half.
WHAT = {
    "prelink": ("お客様のアカウントにマイナンバーカードが連携されました",
                "Your My Number Card was linked to your account"),
    "link_status": ("窓口でマイナンバーカードの連携状況が確認されました",
                    "Your card link was checked at a help desk"),
    "unlink": ("マイナンバーカードとお客様のアカウントの連携が解除されました",
               "The link between your My Number Card and your account was deleted"),
    "password_reset": ("窓口でお客様のパスワードが再設定されました",
                       "Your password was reset at a help desk"),
    "mfa_reset": ("お客様の多要素認証の設定が解除されました",
                  "Your multi-factor authentication methods were cleared"),
    "salvage": ("お客様のアカウントにクラウドデータ引き継ぎ用のチケットが発行されました",
                "A cloud-data salvage ticket was issued for your account"),
    "refused": ("窓口でお申し出のあったお客様のアカウントに関する手続きは、お受けできませんでした",
                "A request for your account was refused at a help desk"),
}


@dataclass(frozen=True)
class Notice:
    subject: str
    body: str


def _japanese(event: str, name: str, at: dt.datetime, where: str) -> str:
    local = at.astimezone(JAPAN)
    return (
        f"{name} 様\n\n"
        f"{WHAT[event][0]}。\n\n"
        f"  日時: {local.year}年{local.month}月{local.day}日 {local:%H:%M}（日本時間）\n"
        f"  場所: {where}\n\n"
        "このお手続きにお心当たりがない場合は、すぐに情報システムのヘルプデスクへご連絡ください。\n"
        "このメールには、パスワードやコードなどの秘密の情報は含まれていません。"
        "メールでパスワードやコードをお尋ねしたり、サインイン用のリンクをお送りしたりすることはありません。\n"
        "このメールは送信専用です。ご返信いただいてもお答えできません。\n"
    )


def _english(event: str, name: str, at: dt.datetime, where: str) -> str:
    return (
        f"Dear {name},\n\n"
        f"{WHAT[event][1]}.\n\n"
        f"  When:  {at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC\n"
        f"  Where: {where}\n\n"
        "If this was not you, contact the IT help desk at once.\n"
        "This mail holds no password, code or other secret. We never ask for a password or a code by "
        "mail, and never send a link to sign in.\n"
        "This address does not take replies.\n"
    )


def subject(event: str, language: str = "ja+en") -> str:
    """The subject of ``event``'s notice: both languages joined, Japanese first, or one of them."""
    ja, en = WHAT[event]
    return {"ja": ja, "en": en}.get(language, f"{ja} / {en}")


def notice(event: str, *, name_ja: str, name_en: str, at: dt.datetime, where: str,
           language: str = "ja+en") -> Notice:
    """The notice of ``event``, in ``language`` ("ja+en": both in one mail, Japanese first)."""
    if language == "ja":
        return Notice(subject(event, language), _japanese(event, name_ja, at, where))
    if language == "en":
        return Notice(subject(event, language), _english(event, name_en, at, where))
    body = (_japanese(event, name_ja, at, where) + f"\n{RULE}\n(English follows the Japanese.)\n\n"
            + _english(event, name_en, at, where))
    return Notice(subject(event, language), body)


def handoff_notice(*, account_id: str, mode: str, expires: dt.datetime, operation_id: str,
                   at: dt.datetime) -> Notice:
    """The mail to the data-custody team after a salvage ticket: what to prepare, never the ticket."""
    local = at.astimezone(JAPAN)
    body = (
        "データ管理担当者 各位 / To the data-custody team\n\n"
        "クラウドデータ引き継ぎ用のチケットが発行されました。利用者がチケットを提示した際に対応できるよう、"
        "ご準備をお願いします。チケットそのものはこのメールには含まれていません。\n"
        "A cloud-data salvage ticket was issued. Please be ready for the holder to present it; the "
        "ticket itself is not in this mail.\n\n"
        f"  アカウント / Account:       {account_id}\n"
        f"  方式 / Mode:                {mode}\n"
        f"  有効期限 / Ticket expires:  {expires.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC\n"
        f"  手続き番号 / Operation:     {operation_id}\n"
        f"  発行日時 / Issued:          {local:%Y-%m-%d %H:%M}（日本時間 / JST）\n"
    )
    return Notice(f"データ引き継ぎの依頼 / Salvage hand-off: {account_id}", body)
