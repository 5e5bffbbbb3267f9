<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="ja_JP" sourcelanguage="en">
<context>
    <name>AccountScreen</name>
    <message>
        <location filename="../../kiosk/ui/screens/entry.py" line="+224"/>
        <source>Nothing typed yet</source>
        <translation>まだ入力されていません</translation>
    </message>
    <message>
        <location line="+7"/>
        <source>Enter your account ID</source>
        <translation>アカウントIDを入力してください</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Type the university account ID this request is for, then touch OK.</source>
        <translation>お手続きをする大学のアカウントIDを入力し、「OK」を押してください。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Account ID</source>
        <translation>アカウントID</translation>
    </message>
</context>
<context>
    <name>BusyIndicator</name>
    <message>
        <location filename="../../kiosk/ui/widgets.py" line="+551"/>
        <source>Please wait…</source>
        <translation>お待ちください…</translation>
    </message>
</context>
<context>
    <name>CardInfoQuestionScreen</name>
    <message>
        <location filename="../../kiosk/ui/screens/entry.py" line="+295"/>
        <source>Is your card-information PIN the same as the PIN you just entered?</source>
        <translation>券面事項入力補助用の暗証番号は、いま入力した暗証番号と同じですか？</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>To store the name on your card with the link, the kiosk reads the card information, which has its own 4-digit PIN. If it is the same, you do not need to enter it again.</source>
        <translation>ひも付けにカードのお名前を記録するため、券面事項入力補助用の情報を読み取ります。こちらには専用の暗証番号（数字4桁）があります。同じ暗証番号であれば、もう一度入力する必要はありません。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Yes, it is the same</source>
        <translation>はい、同じです</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>No, it is different</source>
        <translation>いいえ、違います</translation>
    </message>
</context>
<context>
    <name>DeviceGrantScreen</name>
    <message>
        <location line="-227"/>
        <source>Or open this address on your phone: %1</source>
        <translation>または、スマートフォンで次のアドレスを開いてください：%1</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Sign in with your university account</source>
        <translation>大学のアカウントでサインインしてください</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Preparing the sign-in code…</source>
        <translation>サインイン用のコードを準備しています…</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Scan this QR code with your phone and sign in with your university account.</source>
        <translation>スマートフォンでこのQRコードを読み取り、大学のアカウントでサインインしてください。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Your phone will show this code. Check that it is the same:</source>
        <translation>スマートフォンにこのコードが表示されます。同じコードであることを確認してください：</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Sign-in code</source>
        <translation>サインイン用コード</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>QR code to sign in on your phone</source>
        <translation>スマートフォンでサインインするためのQRコード</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Waiting for you to sign in on your phone…</source>
        <translation>スマートフォンでのサインインをお待ちしています…</translation>
    </message>
</context>
<context>
    <name>DoneScreen</name>
    <message>
        <location filename="../../kiosk/ui/screens/done.py" line="+92"/>
        <source>Finish</source>
        <translation>終了</translation>
    </message>
    <message>
        <location line="+74"/>
        <source>yyyy-MM-dd HH:mm</source>
        <translation>yyyy年M月d日 H:mm</translation>
    </message>
    <message>
        <location line="-8"/>
        <source>Your voucher code</source>
        <translation>引換コード</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Staff approved your request. The kiosk is offline, so it keeps the request and sends it to the university&apos;s server when the connection is back.</source>
        <translation>係員がお申し込みを承認しました。この端末は現在オフラインのため、お申し込みを端末に保管し、接続が回復したら大学のサーバーへ送信します。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Write it down or photograph it now: it is shown only once, and it disappears when you take your card.</source>
        <translation>いますぐ書き留めるか、写真を撮ってください。表示は一度だけで、カードを取ると消えます。</translation>
    </message>
    <message>
        <location line="-11"/>
        <source>Later, open the voucher page on your phone or computer (%1), enter this code and your account ID, and finish there.</source>
        <translation>後ほど、スマートフォンかパソコンで引換ページ（%1）を開き、このコードとアカウントIDを入力して、お手続きを完了してください。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Later, open the university&apos;s voucher page on your phone or computer, enter this code and your account ID, and finish there. The help desk can tell you where to find it.</source>
        <translation>後ほど、スマートフォンかパソコンで大学の引換ページを開き、このコードとアカウントIDを入力して、お手続きを完了してください。ページの場所は窓口でご案内します。</translation>
    </message>
    <message>
        <location line="-27"/>
        <source>Your new password is set</source>
        <translation>新しいパスワードを設定しました</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Use it from now on to sign in. You will receive a notice of this change.</source>
        <translation>今後はこのパスワードでサインインしてください。この変更についてはお知らせが届きます。</translation>
    </message>
    <message>
        <location line="+45"/>
        <source>Your MFA enrolment code</source>
        <translation>多要素認証の登録コード</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Your registered sign-in methods were cleared. Use this code on the university&apos;s MFA registration page to register a new one.</source>
        <translation>登録されていたサインイン方法を削除しました。大学の多要素認証登録ページでこのコードを使い、新しい方法を登録してください。</translation>
    </message>
    <message>
        <location line="+3"/>
        <location line="+29"/>
        <source>Write it down or photograph it now: it is shown only once.</source>
        <translation>いますぐ書き留めるか、写真を撮ってください。表示は一度だけです。</translation>
    </message>
    <message>
        <location line="-34"/>
        <source>Your registered sign-in methods were cleared, but the code can no longer be shown. Please ask a staff member.</source>
        <translation>登録されていたサインイン方法は削除しましたが、コードはもう表示できません。係員にお尋ねください。</translation>
    </message>
    <message>
        <location line="-8"/>
        <source>Valid until %1</source>
        <translation>有効期限：%1</translation>
    </message>
    <message>
        <location line="+20"/>
        <source>Register your authenticator app</source>
        <translation>認証アプリを登録してください</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Your registered sign-in methods were cleared. Open your authenticator app, choose to add an account, and scan this QR code with it. If the app cannot scan, type in this key instead.</source>
        <translation>登録されていたサインイン方法を削除しました。認証アプリを開いてアカウントの追加を選び、このQRコードを読み取ってください。読み取れない場合は、代わりにこのキーを入力してください。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>The QR code and the key are shown only once. Do not photograph them or show them to anyone.</source>
        <translation>QRコードとキーの表示は一度だけです。写真に撮ったり、ほかの人に見せたりしないでください。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Then sign in once with the six-digit code the app shows, before the time above, so that the new sign-in method is kept.</source>
        <translation>そのあと、上記の時刻までに、アプリに表示される6桁のコードで一度サインインしてください。これで新しいサインイン方法が有効になります。</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Your salvage ticket</source>
        <translation>データ取り出し用チケット</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>It sets up forwarding of your cloud mail.</source>
        <translation>クラウドメールの転送を設定できます。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>It gives you access to back up your cloud mail and cloud drive data.</source>
        <translation>クラウドメールとクラウドドライブのデータをバックアップできます。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>It gives you access to your cloud data (%1).</source>
        <translation>クラウドのデータ（%1）を利用できます。</translation>
    </message>
    <message>
        <location line="-6"/>
        <source>The ticket can no longer be shown. Please ask a staff member.</source>
        <translation>チケットはもう表示できません。係員にお尋ねください。</translation>
    </message>
    <message>
        <location line="-66"/>
        <source>The link is deleted</source>
        <translation>ひも付けを削除しました</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>This card is no longer linked to your account. You can link a card again at any time with &quot;Link my card&quot;.</source>
        <translation>このカードとアカウントのひも付けはなくなりました。「アカウントとカードのひも付け」から、いつでもひも付けし直せます。</translation>
    </message>
    <message>
        <location line="+5"/>
        <location line="+77"/>
        <source>Your card is linked</source>
        <translation>カードはひも付けされています</translation>
    </message>
    <message>
        <location line="-2"/>
        <source>yyyy-MM-dd</source>
        <translation>yyyy年M月d日</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Linked for %1 since %2.</source>
        <translation>%1 様のカードとして %2 からひも付けされています。</translation>
    </message>
    <message>
        <location line="-4"/>
        <source>Your card is not linked</source>
        <translation>カードはひも付けされていません</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>No card is linked to this account. Choose &quot;Link my card&quot; to link one.</source>
        <translation>このアカウントにひも付けされたカードはありません。ひも付けするには「アカウントとカードのひも付け」を選んでください。</translation>
    </message>
    <message>
        <location line="-72"/>
        <source>From now on you can use your My Number Card to reset your password, re-register MFA or salvage your data.</source>
        <translation>今後はマイナンバーカードで、パスワードの再設定、多要素認証の再登録、データの取り出しができます。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Done</source>
        <translation>完了しました</translation>
    </message>
    <message>
        <location line="+0"/>
        <source>Your request is complete.</source>
        <translation>お手続きが完了しました。</translation>
    </message>
    <message>
        <location line="-42"/>
        <source>Code: %1</source>
        <translation>コード：%1</translation>
    </message>
    <message>
        <location line="+11"/>
        <source>Take your card</source>
        <translation>カードをお取りください</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The kiosk finishes when you take your card off the reader.</source>
        <translation>カードを読み取り機から取ると終了します。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Do not forget your card</source>
        <translation>カードのお取り忘れにご注意ください</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Press Finish when you are done.</source>
        <translation>終わりましたら「終了」を押してください。</translation>
    </message>
</context>
<context>
    <name>EntryScreen</name>
    <message>
        <location filename="../../kiosk/ui/screens/entry.py" line="-240"/>
        <source>Cancel</source>
        <translation>中止</translation>
    </message>
</context>
<context>
    <name>ErrorScreen</name>
    <message>
        <location filename="../../kiosk/ui/screens/error.py" line="+49"/>
        <source>What to do</source>
        <translation>対処方法</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/fallback.py" line="+62"/>
        <location filename="../../kiosk/ui/screens/error.py" line="+1"/>
        <source>OK</source>
        <translation>OK</translation>
    </message>
    <message>
        <location line="-2"/>
        <location filename="../../kiosk/ui/screens/error.py" line="+12"/>
        <source>Code for staff: %1 (at: %2)</source>
        <translation>係員用コード：%1（発生箇所：%2）</translation>
    </message>
    <message>
        <location filename="../../kiosk/ui/screens/error.py" line="+2"/>
        <source>Code for staff: %1</source>
        <translation>係員用コード：%1</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Take your card with you.</source>
        <translation>カードをお持ち帰りください。</translation>
    </message>
</context>
<context>
    <name>ErrorWords</name>
    <message>
        <location filename="../../kiosk/ui/errors.py" line="+38"/>
        <source>No card reader</source>
        <translation>カード読み取り機がありません</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The kiosk cannot find its card reader.</source>
        <translation>端末がカード読み取り機を見つけられません。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Please call a staff member. Staff: connect the card reader and check that the smart card service is running.</source>
        <translation>係員をお呼びください。係員の方へ：カード読み取り機を接続し、スマートカードのサービスが動いていることを確認してください。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>The card reader stopped working</source>
        <translation>カード読み取り機が動作しなくなりました</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The kiosk lost contact with its card reader.</source>
        <translation>端末とカード読み取り機の接続が切れました。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Please call a staff member. Staff: check the reader&apos;s cable, then start again.</source>
        <translation>係員をお呼びください。係員の方へ：読み取り機のケーブルを確認してから、最初からやり直してください。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>This card reader cannot be used</source>
        <translation>このカード読み取り機は使用できません</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The card reader does not support the commands this card needs.</source>
        <translation>このカード読み取り機は、カードに必要な命令に対応していません。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Please call a staff member. Staff: connect a supported card reader.</source>
        <translation>係員をお呼びください。係員の方へ：対応しているカード読み取り機を接続してください。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>No card on the reader</source>
        <translation>カードが置かれていません</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The kiosk could not find a card on the reader.</source>
        <translation>読み取り機の上にカードが見つかりませんでした。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Place your My Number Card on the reader and leave it there until the end.</source>
        <translation>マイナンバーカードを読み取り機に置き、終わるまでそのままにしてください。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>The card was taken off the reader</source>
        <translation>カードが読み取り機から離れました</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Your card has to stay on the reader for the whole procedure.</source>
        <translation>お手続きの間は、カードを読み取り機に置いたままにしておく必要があります。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Start again, place your card on the reader and leave it there until the kiosk asks you to take it.</source>
        <translation>最初からやり直し、カードを読み取り機に置いて、取るよう案内されるまでそのままにしてください。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>The card was interrupted</source>
        <translation>カードの処理が中断されました</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The card was reset while it was in use, so the PIN has to be entered again.</source>
        <translation>使用中にカードがリセットされたため、暗証番号をもう一度入力する必要があります。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Start again and enter your PIN once more. Leave the card on the reader.</source>
        <translation>最初からやり直し、暗証番号をもう一度入力してください。カードは読み取り機に置いたままにしてください。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>The card could not be read</source>
        <translation>カードを読み取れませんでした</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The card did not answer as expected.</source>
        <translation>カードから正しい応答がありませんでした。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Take the card off the reader, place it flat on the reader again and start again. If this happens again, please call a staff member.</source>
        <translation>カードを読み取り機からいったん取り、平らに置き直して、最初からやり直してください。再び起きる場合は、係員をお呼びください。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>This is not a My Number Card</source>
        <translation>マイナンバーカードではありません</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The card on the reader is not a My Number Card, or it has no certificate for identification.</source>
        <translation>置かれたカードはマイナンバーカードではないか、本人確認用の電子証明書が入っていません。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Take this card off the reader and place your My Number Card instead.</source>
        <translation>このカードを取り、代わりにマイナンバーカードを置いてください。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>This card cannot be used to link an account</source>
        <translation>このカードではアカウントとのひも付けができません</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Linking reads the name printed on the card from the card information application on the card, and this card does not have one (a Basic Resident Registry Card, for example).</source>
        <translation>ひも付けでは、カードの券面事項入力補助アプリケーションから券面の氏名を読み取りますが、このカードにはそのアプリケーションがありません（住民基本台帳カードなど）。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Link with your My Number Card instead. If this is your My Number Card, please call a staff member.</source>
        <translation>マイナンバーカードでひも付けをしてください。このカードがマイナンバーカードの場合は、係員をお呼びください。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>This card cannot be used here</source>
        <translation>このカードはこの端末では使用できません</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The card uses a kind of key that this service does not accept yet.</source>
        <translation>このカードは、本サービスがまだ対応していない種類の鍵を使っています。</translation>
    </message>
    <message>
        <location line="+2"/>
        <location line="+223"/>
        <source>Please call a staff member.</source>
        <translation>係員をお呼びください。</translation>
    </message>
    <message>
        <location line="-220"/>
        <source>The PIN could not be checked</source>
        <translation>暗証番号を確認できませんでした</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The PIN for identification is 4 digits.</source>
        <translation>本人確認用の暗証番号は数字4桁です。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Enter the 4-digit PIN you chose for identification when you received the card.</source>
        <translation>カードを受け取ったときに設定した、本人確認用の数字4桁の暗証番号を入力してください。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Wrong PIN</source>
        <translation>暗証番号が違います</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The card did not accept this PIN.</source>
        <translation>入力された暗証番号はカードに受け付けられませんでした。</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Only one try left</source>
        <translation>残り1回です</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>A wrong PIN now would lock the card.</source>
        <translation>次に間違えると暗証番号がロックされます。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>If you are not sure of your PIN, stop here and have it reset at your municipal office.</source>
        <translation>暗証番号に自信がない場合は、ここで中止し、お住まいの市区町村の窓口で再設定してください。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>The PIN is locked</source>
        <translation>暗証番号がロックされています</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The PIN was entered wrongly too many times, so the card has locked it.</source>
        <translation>暗証番号を続けて間違えたため、カードがロックしました。</translation>
    </message>
    <message>
        <location line="-11"/>
        <source>Check your PIN and enter it again. Too many wrong PINs lock the PIN, and it then has to be reset before the card can be used here.</source>
        <translation>暗証番号を確かめて、もう一度入力してください。続けて間違えると暗証番号がロックされ、再設定するまでこの端末でカードを使えなくなります。</translation>
    </message>
    <message>
        <location line="+13"/>
        <source>Have the PIN reset at your municipal office (bring this card and an identity document). If you know your signature certificate&apos;s password, you can also reset it at a convenience store, after applying with J-LIS&apos;s smartphone app. Then come back to this desk.</source>
        <translation>お住まいの市区町村の窓口で暗証番号を再設定してください（このカードと本人確認書類をお持ちください）。署名用電子証明書のパスワードがお分かりの場合は、スマートフォンの「JPKI暗証番号リセット」アプリ（J-LIS）で申請したうえで、コンビニでも再設定できます。そのあと、改めてこの窓口にお越しください。</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>The card&apos;s certificate has expired</source>
        <translation>カードの電子証明書の有効期限が切れています</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The electronic certificate on your card is past its expiry date. It has to be renewed every few years, separately from the card.</source>
        <translation>カードの電子証明書は有効期限を過ぎています。電子証明書はカードとは別に、数年ごとに更新が必要です。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Renew the certificate at your municipal office (bring the card), then come back to this desk.</source>
        <translation>お住まいの市区町村の窓口で電子証明書を更新し（カードをお持ちください）、改めてこの窓口にお越しください。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>The card&apos;s certificate is not valid yet</source>
        <translation>カードの電子証明書はまだ有効になっていません</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The electronic certificate on your card has not started its validity yet. This can happen just after it was issued or renewed.</source>
        <translation>カードの電子証明書の有効期間がまだ始まっていません。発行や更新の直後に起こることがあります。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Please try again later. If this continues, call a staff member (the kiosk&apos;s clock may be wrong).</source>
        <translation>しばらくしてからもう一度お試しください。続く場合は係員をお呼びください（端末の時計がずれている可能性があります）。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>The card&apos;s certificate has been revoked</source>
        <translation>カードの電子証明書は失効しています</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The electronic certificate on your card is no longer valid: it was revoked, for example because the card was reported lost or the certificate was reissued.</source>
        <translation>カードの電子証明書は、紛失の届出や再発行などにより失効しているため、使用できません。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Contact your municipal office to have a new certificate issued.</source>
        <translation>お住まいの市区町村の窓口で、電子証明書の新規発行を受けてください。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>The card cannot be checked right now</source>
        <translation>現在カードを確認できません</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Whether the card&apos;s certificate is still valid cannot be confirmed at the moment.</source>
        <translation>カードの電子証明書が有効かどうかを、いまは確認できません。</translation>
    </message>
    <message>
        <location line="+2"/>
        <location line="+59"/>
        <source>Please try again later, or call a staff member.</source>
        <translation>しばらくしてからもう一度お試しいただくか、係員をお呼びください。</translation>
    </message>
    <message>
        <location line="-56"/>
        <source>The card could not be confirmed</source>
        <translation>カードを確認できませんでした</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The card&apos;s certificate or signature could not be confirmed as those of a genuine My Number Card (code: %1).</source>
        <translation>カードの電子証明書または署名が、正規のマイナンバーカードのものと確認できませんでした（コード：%1）。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Take the card off the reader, place it again and start again. If this happens again, please call a staff member.</source>
        <translation>カードを読み取り機からいったん取って置き直し、最初からやり直してください。再び起きる場合は、係員をお呼びください。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>This card is not linked to this account</source>
        <translation>このカードはこのアカウントにひも付けされていません</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Your card was read correctly, but it is not linked to the account ID you entered.</source>
        <translation>カードは正しく読み取れましたが、入力されたアカウントIDにはひも付けされていません。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Check the account ID and start again. If you have never linked your card to your account, choose &quot;Link my card&quot; first.</source>
        <translation>アカウントIDを確かめて、最初からやり直してください。カードをアカウントにひも付けしたことがない場合は、先に「アカウントとカードのひも付け」を選んでください。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>This account ID is not valid</source>
        <translation>このアカウントIDは正しくありません</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The account ID does not have the university&apos;s account ID format.</source>
        <translation>入力されたアカウントIDは、大学のアカウントIDの形式ではありません。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Check your account ID and enter it again.</source>
        <translation>アカウントIDを確かめて、もう一度入力してください。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>The university&apos;s server cannot be reached</source>
        <translation>大学のサーバーに接続できません</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The kiosk lost its connection to the university&apos;s server, so your request could not be completed.</source>
        <translation>大学のサーバーとの接続が切れたため、お手続きを完了できませんでした。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Start again: while the server is away, a staff member can approve a password reset, MFA re-registration or data salvage here, and you get a voucher code to finish on your phone once the server is back. Or come back later.</source>
        <translation>最初からやり直してください。サーバーに接続できない間も、パスワードの再設定・多要素認証の再登録・データの取り出しは、この窓口で係員が承認できます。引換コードをお渡ししますので、サーバーの復旧後にスマートフォンでお手続きを完了してください。または、後ほどお越しください。</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>The kiosk is offline</source>
        <translation>この端末は現在オフラインです</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The university&apos;s server cannot be reached, and this kiosk is not set up to check cards by itself.</source>
        <translation>大学のサーバーに接続できず、この端末は単独でカードを確認する設定になっていません。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Please come back later, or ask a staff member for help.</source>
        <translation>後ほどお越しいただくか、係員にお尋ねください。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>This cannot be done while offline</source>
        <translation>オフラインの間はこのお手続きはできません</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The university&apos;s server cannot be reached, and this request needs it. While offline, the kiosk can only help with a password reset, MFA re-registration or data salvage.</source>
        <translation>このお手続きには大学のサーバーが必要ですが、現在接続できません。オフラインの間にできるのは、パスワードの再設定・多要素認証の再登録・データの取り出しだけです。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Please come back later, when the kiosk is online again.</source>
        <translation>端末がオンラインに戻ってから、改めてお越しください。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>The request could not be saved</source>
        <translation>お申し込みを保存できませんでした</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The kiosk is offline and could not keep your request for the university&apos;s server (code: %1).</source>
        <translation>端末はオフラインで、大学のサーバーへ送るお申し込みを保存できませんでした（コード：%1）。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Please come back later, or call a staff member.</source>
        <translation>後ほどお越しいただくか、係員をお呼びください。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>The kiosk has no server</source>
        <translation>サーバーが設定されていません</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>No university server is set up for this kiosk.</source>
        <translation>この端末には大学のサーバーが設定されていません。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Please call a staff member. Staff: check the kiosk&apos;s configuration.</source>
        <translation>係員をお呼びください。係員の方へ：端末の設定を確認してください。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>The server&apos;s answer could not be used</source>
        <translation>サーバーの応答を処理できませんでした</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The university&apos;s server answered in a way the kiosk does not understand (code: %1).</source>
        <translation>大学のサーバーから、端末が理解できない応答がありました（コード：%1）。</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>The server refused the request</source>
        <translation>サーバーがお申し込みを受け付けませんでした</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The university&apos;s server refused this kiosk&apos;s request (code: %1).</source>
        <translation>大学のサーバーが、この端末からのお申し込みを受け付けませんでした（コード：%1）。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Please call a staff member and show them the code. Staff: check the kiosk&apos;s registration with the server.</source>
        <translation>係員をお呼びいただき、コードをお見せください。係員の方へ：サーバーへの端末の登録を確認してください。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>The card check has to be done again</source>
        <translation>カードの確認をやり直す必要があります</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The check of your card is no longer valid for this request: it took too long, or it was already used (code: %1).</source>
        <translation>時間がかかりすぎたか、すでに使用済みのため、カードの確認結果はこのお手続きに使えません（コード：%1）。</translation>
    </message>
    <message>
        <location line="+2"/>
        <location line="+11"/>
        <source>Please start again.</source>
        <translation>最初からやり直してください。</translation>
    </message>
    <message>
        <location line="-8"/>
        <source>This request was already decided</source>
        <translation>このお申し込みはすでに判断済みです</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>A staff member already approved or refused this request.</source>
        <translation>このお申し込みは、係員がすでに承認または却下しています。</translation>
    </message>
    <message>
        <location line="+1"/>
        <location line="+103"/>
        <source>Please ask the staff member at the desk.</source>
        <translation>窓口の係員にお尋ねください。</translation>
    </message>
    <message>
        <location line="-100"/>
        <source>The request was closed</source>
        <translation>申請は終了しました</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The request was closed before it was finished, because it waited too long (code: %1). Nothing was changed.</source>
        <translation>待ち時間が長すぎたため、申請は完了する前に終了しました（コード: %1）。何も変更されていません。</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Too many attempts</source>
        <translation>試行回数が多すぎます</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>There have been too many requests for this account or from this kiosk in a short time.</source>
        <translation>短い時間に、このアカウントまたはこの端末からのお申し込みが多すぎました。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Please wait a few minutes, then start again.</source>
        <translation>数分お待ちいただいてから、最初からやり直してください。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>The password was not accepted</source>
        <translation>パスワードが受け付けられませんでした</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The new password does not meet the university&apos;s password rules.</source>
        <translation>新しいパスワードが大学のパスワードのルールを満たしていません。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Start again and choose a password that meets every rule shown on the password screen.</source>
        <translation>最初からやり直し、パスワード画面に表示されるすべてのルールを満たすパスワードを選んでください。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Data salvage is not available for this account</source>
        <translation>このアカウントではデータの取り出しはご利用いただけません</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Salvage is only for former members, within a limited period after they left the university.</source>
        <translation>データの取り出しは、大学を離れた方が、離れてから一定の期間内に限りご利用いただけます。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>If you think this is wrong, please ask a staff member.</source>
        <translation>誤りだと思われる場合は、係員にお尋ねください。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>This account is already linked to a card</source>
        <translation>このアカウントはすでにカードとひも付けされています</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>An account can be linked to only one card.</source>
        <translation>1つのアカウントにひも付けできるカードは1枚だけです。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>To link a new card, first delete the existing link with &quot;Delete my link&quot;, then link again.</source>
        <translation>新しいカードをひも付けするには、まず「ひも付けの削除」で今のひも付けを削除してから、改めてひも付けしてください。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>This card is already linked to another account</source>
        <translation>このカードはすでに別のアカウントにひも付けされています</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>A card can be linked to only one account.</source>
        <translation>1枚のカードにひも付けできるアカウントは1つだけです。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Use the account this card is linked to, or delete that link first with &quot;Delete my link&quot;.</source>
        <translation>このカードがひも付けされているアカウントをお使いいただくか、先に「ひも付けの削除」でそのひも付けを削除してください。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>There is no link to delete</source>
        <translation>削除するひも付けがありません</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>This account is not linked to any card.</source>
        <translation>このアカウントはどのカードともひも付けされていません。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Nothing needs to be done. You can link a card with &quot;Link my card&quot;.</source>
        <translation>お手続きは必要ありません。「アカウントとカードのひも付け」からカードをひも付けできます。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>This account cannot be used</source>
        <translation>このアカウントは使用できません</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The university&apos;s directory has no usable account for this request.</source>
        <translation>大学のアカウント台帳に、このお申し込みに使えるアカウントがありません。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Please ask a staff member for help.</source>
        <translation>係員にお尋ねください。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>The university&apos;s server is busy</source>
        <translation>大学のサーバーが混み合っています</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Many requests reached the server at the same moment, so nothing was changed.</source>
        <translation>同時に多くの要求がサーバーに届いたため、何も変更されていません。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Please wait a moment, then start again.</source>
        <translation>少しお待ちいただいてから、もう一度始めてください。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>The university&apos;s account directory did not answer</source>
        <translation>大学のアカウント台帳から応答がありません</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The directory that holds your account did not answer in time, so nothing was changed.</source>
        <translation>アカウントを管理するシステムが時間内に応答しなかったため、何も変更されていません。</translation>
    </message>
    <message>
        <location line="+2"/>
        <location line="+7"/>
        <source>Please wait a few minutes, then start again. If this happens again, please ask a staff member.</source>
        <translation>数分お待ちいただいてから、もう一度最初からお手続きください。繰り返し起こる場合は、係員にお尋ねください。</translation>
    </message>
    <message>
        <location line="-3"/>
        <source>The university&apos;s sign-in method server did not answer</source>
        <translation>大学のサインイン方法を管理するサーバーから応答がありません</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The server that keeps your sign-in methods did not answer in time, so nothing was changed.</source>
        <translation>サインイン方法を管理するサーバーが時間内に応答しなかったため、何も変更されていません。</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>The sign-in code expired</source>
        <translation>サインイン用コードの有効期限が切れました</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The sign-in on your phone was not completed in time.</source>
        <translation>スマートフォンでのサインインが時間内に完了しませんでした。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Start &quot;Link my card&quot; again and sign in on your phone right away.</source>
        <translation>もう一度「アカウントとカードのひも付け」を始め、すぐにスマートフォンでサインインしてください。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>The sign-in was not completed</source>
        <translation>サインインが完了しませんでした</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The sign-in on your phone was refused or cancelled.</source>
        <translation>スマートフォンでのサインインが拒否されたか、取り消されました。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Start again and sign in with your own university account.</source>
        <translation>最初からやり直し、ご自身の大学のアカウントでサインインしてください。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>The sign-in could not be used</source>
        <translation>サインインを確認できませんでした</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The sign-in on your phone was for another account, or it is no longer valid.</source>
        <translation>スマートフォンでのサインインが別のアカウントのものか、すでに無効になっています。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Start again and sign in with the same account ID you entered here.</source>
        <translation>最初からやり直し、ここで入力したものと同じアカウントIDでサインインしてください。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>The offline request was refused</source>
        <translation>オフライン中のお申し込みは受け付けられませんでした</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The university&apos;s server did not accept the request this kiosk kept while offline (code: %1).</source>
        <translation>この端末がオフライン中に保管したお申し込みを、大学のサーバーが受け付けませんでした（コード：%1）。</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>The voucher code cannot be used</source>
        <translation>この引換コードは使用できません</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The voucher is unknown, already used, expired, or for another account.</source>
        <translation>引換コードが存在しないか、使用済み、期限切れ、または別のアカウントのものです。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Check the code you wrote down, or come to the help desk.</source>
        <translation>書き留めたコードを確かめるか、窓口にお越しください。</translation>
    </message>
    <message>
        <location line="+3"/>
        <location line="+5"/>
        <location line="+5"/>
        <location line="+5"/>
        <location line="+10"/>
        <source>The request was not approved</source>
        <translation>お申し込みは承認されませんでした</translation>
    </message>
    <message>
        <location line="-24"/>
        <source>The staff member did not approve this request.</source>
        <translation>係員がこのお申し込みを承認しませんでした。</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>The staff member could not match you with the photo on the card.</source>
        <translation>係員は、カードの顔写真とご本人を照合できませんでした。</translation>
    </message>
    <message>
        <location line="+1"/>
        <location line="+20"/>
        <source>Please talk to the staff member at the desk.</source>
        <translation>窓口の係員にご相談ください。</translation>
    </message>
    <message>
        <location line="-16"/>
        <source>The card is damaged or looks altered, so it cannot be used here.</source>
        <translation>カードが破損しているか、改変されているおそれがあるため、ここでは使えません。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Please ask the staff member at the desk what to do next.</source>
        <translation>この後の手続きを窓口の係員にお尋ねください。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Only the card&apos;s own holder can make this request.</source>
        <translation>このお申し込みは、カードの名義人ご本人しかできません。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The holder must come to the desk with their card.</source>
        <translation>名義人ご本人がカードを持って窓口にお越しください。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>The request was not approved yet</source>
        <translation>お申し込みはまだ承認されていません</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The staff member needs another document before approving.</source>
        <translation>承認の前に、係員が別の書類を確認する必要があります。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Please ask the staff member which document to bring.</source>
        <translation>必要な書類を窓口の係員にお尋ねください。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>The staff member will explain the reason at the desk.</source>
        <translation>理由は窓口で係員がご説明します。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>No staff decision in time</source>
        <translation>時間内に係員の判断がありませんでした</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Your request waited too long for a staff member.</source>
        <translation>係員の確認を待つ時間が長くなりすぎました。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Please call a staff member, then start again.</source>
        <translation>係員をお呼びのうえ、最初からやり直してください。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Cancelled</source>
        <translation>中止しました</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The request was cancelled. Nothing was changed.</source>
        <translation>お手続きを中止しました。何も変更されていません。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>You can start again at any time.</source>
        <translation>いつでも最初からやり直せます。</translation>
    </message>
    <message>
        <location line="+3"/>
        <location line="+54"/>
        <source>The request could not be completed</source>
        <translation>お手続きを完了できませんでした</translation>
    </message>
    <message>
        <location line="-53"/>
        <source>The university&apos;s server could not complete the request (code: %1).</source>
        <translation>大学のサーバーがお手続きを完了できませんでした（コード：%1）。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Please call a staff member and show them the code.</source>
        <translation>係員をお呼びいただき、コードをお見せください。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Staff ID not accepted</source>
        <translation>職員IDが受け付けられませんでした</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>A staff ID is 1 to 64 characters, and the offline PIN is needed too.</source>
        <translation>職員IDは1〜64文字で、オフライン用暗証番号も必要です。</translation>
    </message>
    <message>
        <location line="+2"/>
        <location line="+6"/>
        <source>Staff: enter your staff ID and your offline PIN again.</source>
        <translation>係員の方へ：職員IDとオフライン用暗証番号をもう一度入力してください。</translation>
    </message>
    <message>
        <location line="-3"/>
        <source>Staff ID or offline PIN not accepted</source>
        <translation>職員IDまたはオフライン用暗証番号が受け付けられませんでした</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>No one on this kiosk&apos;s staff roster has this staff ID and offline PIN. Nothing was recorded.</source>
        <translation>この端末の職員名簿に、この職員IDとオフライン用暗証番号の組み合わせはありません。何も記録されていません。</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Offline approval paused</source>
        <translation>オフライン承認を一時停止しています</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Too many wrong staff IDs or offline PINs were entered. Nothing was recorded.</source>
        <translation>誤った職員IDまたはオフライン用暗証番号が続けて入力されました。何も記録されていません。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Staff: wait five minutes, then try again.</source>
        <translation>係員の方へ：5分待ってから、もう一度お試しください。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>No staff roster on this kiosk</source>
        <translation>この端末に職員名簿がありません</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>This kiosk has never received the list of staff who may approve offline, so no one can approve here while the server is away. Nothing was recorded.</source>
        <translation>この端末はオフライン承認ができる職員の名簿をまだ受け取っていないため、サーバーに接続できない間はここで承認できません。何も記録されていません。</translation>
    </message>
    <message>
        <location line="+3"/>
        <location line="+7"/>
        <source>Please come back when the kiosk is online again, or ask at the help desk.</source>
        <translation>端末がオンラインに戻ってから改めてお越しいただくか、窓口でお尋ねください。</translation>
    </message>
    <message>
        <location line="-3"/>
        <source>The staff roster is too old</source>
        <translation>職員名簿が古すぎます</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The list of staff who may approve offline was last received from the server too long ago to be trusted. Nothing was recorded.</source>
        <translation>オフライン承認ができる職員の名簿をサーバーから最後に受け取ってから時間が経ちすぎているため、使用できません。何も記録されていません。</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>The kiosk could not show the next screen</source>
        <translation>次の画面を表示できませんでした</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>A fault in the kiosk ended your session. A request that was still waiting has been withdrawn.</source>
        <translation>端末の不具合のため、お手続きを終了しました。処理を待っていた申請は取り下げました。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Please call a staff member and show them the code below. You can then start again.</source>
        <translation>係員をお呼びいただき、下のコードをお見せください。その後、最初からやり直すことができます。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Something went wrong</source>
        <translation>問題が発生しました</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The kiosk ran into a problem. Staff have been notified.</source>
        <translation>端末で問題が発生しました。係員に通知されています。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Please start again, or ask a staff member for help.</source>
        <translation>最初からやり直すか、係員にお尋ねください。</translation>
    </message>
    <message>
        <location line="+7"/>
        <source>The kiosk stopped with the error code %1.</source>
        <translation>エラーコード %1 で処理が止まりました。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Please call a staff member and show them this code.</source>
        <translation>係員をお呼びいただき、このコードをお見せください。</translation>
    </message>
    <message numerus="yes">
        <location line="+154"/>
        <source>%n tries left before the card locks the PIN.</source>
        <translation>
            <numerusform>あと%n回間違えると、カードの暗証番号がロックされます。</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>IdleWarning</name>
    <message numerus="yes">
        <location filename="../../kiosk/ui/idle.py" line="+183"/>
        <source>The screen will be cleared in %n seconds for your privacy.</source>
        <extracomment>How long before the wipe the warning shows, for allowances of twice this or more. The button&apos;s height: as large as the screens&apos; bottom-row buttons. The panel&apos;s width, unless the window is narrower. The panel wakes at least this often (a clock that jumped is noticed within it). The backdrop that dims the screen beneath (black at about 60 %). The warning appeared (the seconds it shows). The countdown shows a new number of seconds (also emitted when it appears). The warning was hidden (more time, other input, or the session ended). The person asked for more time.</extracomment>
        <translation>
            <numerusform>個人情報を守るため、あと%n秒で画面の内容を消去します。</numerusform>
        </translation>
    </message>
    <message>
        <location line="+46"/>
        <source>Do you need more time?</source>
        <translation>まだご利用になりますか？</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>To go on, touch More time. What you have entered is kept.</source>
        <translation>続けるには「時間を延長する」を押してください。入力した内容はそのまま残ります。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>More time</source>
        <translation>時間を延長する</translation>
    </message>
</context>
<context>
    <name>KioskWindow</name>
    <message>
        <location filename="../../kiosk/ui/window.py" line="+327"/>
        <location line="+1"/>
        <source>My Number Card kiosk</source>
        <extracomment>The staff unlock: a long press in the window&apos;s top-left corner, or this key chord. Every view after it was rendered (for tests and the developer panel). The window closed for good (staff unlock, or closed outside kiosk mode). A screen could not be shown (the state&apos;s name): the fallback page shows, the flow is told. The warning before the idle wipe appeared (the seconds it shows), and when it went away. The language the kiosk returns to when nobody is at the counter.</extracomment>
        <translation>マイナンバーカード本人確認端末</translation>
    </message>
</context>
<context>
    <name>LanguageSwitch</name>
    <message>
        <location filename="../../kiosk/ui/widgets.py" line="-235"/>
        <source>Language</source>
        <extracomment>Colours, each at least 7:1 against ``PAPER`` (WCAG AAA); see ``contrast_ratio``.</extracomment>
        <translation>言語</translation>
    </message>
</context>
<context>
    <name>LastTryScreen</name>
    <message>
        <location filename="../../kiosk/ui/screens/entry.py" line="+412"/>
        <source>Only one PIN try is left</source>
        <translation>暗証番号の入力は残り1回です</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>If this PIN is wrong, it will be blocked and the card cannot be used here until the PIN is reset at your municipal office or a convenience store.</source>
        <translation>この暗証番号が違っていると、暗証番号がロックされ、市区町村の窓口かコンビニで再設定するまで、この端末でカードを使えなくなります。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Do you want to use your last try?</source>
        <translation>最後の1回を使って確認しますか？</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Go back</source>
        <translation>戻る</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Use my last try</source>
        <translation>最後の1回を使う</translation>
    </message>
</context>
<context>
    <name>NewPasswordScreen</name>
    <message>
        <location filename="../../kiosk/ui/screens/password.py" line="+284"/>
        <source>Choose your new password</source>
        <translation>新しいパスワードを決めてください</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Only you choose it: nobody else sees it, and the kiosk does not keep it. Each rule below turns to &quot;done&quot; as you type.</source>
        <translation>パスワードはご本人だけが決めます。ほかの人には見えず、端末にも残りません。入力に合わせて、下のルールが「達成」に変わります。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>New password</source>
        <translation>新しいパスワード</translation>
    </message>
    <message>
        <location line="+16"/>
        <source>The characters you type are hidden.</source>
        <translation>入力した文字は表示されません。</translation>
    </message>
    <message>
        <location line="-13"/>
        <source>Cancel</source>
        <translation>中止</translation>
    </message>
    <message>
        <location line="-2"/>
        <source>Show password</source>
        <translation>パスワードを表示</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Set password</source>
        <translation>パスワードを設定</translation>
    </message>
    <message>
        <location line="+11"/>
        <source>The characters you type are shown.</source>
        <translation>入力した文字は表示されています。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>On: your password is shown on the screen.</source>
        <translation>オン：パスワードが画面に表示されています。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Off: your password is hidden.</source>
        <translation>オフ：パスワードは隠されています。</translation>
    </message>
    <message>
        <location line="+20"/>
        <source>The university&apos;s account directory did not answer, so your password was not changed. Your request is still approved: please wait a moment, then type your new password again and press &quot;Set password&quot;.</source>
        <translation>大学のアカウントのディレクトリが応答しなかったため、パスワードは変更されていません。申請は承認されたままです。少し待ってから、新しいパスワードをもう一度入力して「パスワードを設定」を押してください。</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>You have used this password before. Choose one you have not used.</source>
        <translation>このパスワードは以前に使われています。使ったことのないパスワードを選んでください。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The password was changed too recently to change it again now. Please ask a staff member.</source>
        <translation>パスワードは最近変更されたばかりのため、今は変更できません。係員にお声がけください。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>The password is shorter than the directory allows.</source>
        <translation>パスワードが、アカウント管理システムで認められている長さより短いです。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The password is too easy to guess.</source>
        <translation>パスワードが推測されやすすぎます。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>It does not meet the university&apos;s password rules.</source>
        <translation>大学のパスワード規則を満たしていません。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>The university&apos;s account directory did not accept this password.</source>
        <translation>大学のアカウント管理システムがこのパスワードを受け付けませんでした。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>(The directory says: %1)</source>
        <translation>（システムからのメッセージ：%1）</translation>
    </message>
    <message>
        <location line="+20"/>
        <source>done</source>
        <translation>達成</translation>
    </message>
    <message>
        <location line="+0"/>
        <source>not yet</source>
        <translation>未達成</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>%1 to %2 characters</source>
        <translation>%1〜%2文字</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>At least %1 of: capital letters, small letters, digits, symbols</source>
        <translation>英大文字・英小文字・数字・記号のうち%1種類以上</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Only letters, digits, symbols and spaces from this keyboard (no Japanese characters)</source>
        <translation>このキーボードの英字・数字・記号・スペースのみ（日本語の文字は使えません）</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>The password breaks another rule of the university (%1).</source>
        <translation>パスワードが大学のほかのルールを満たしていません（%1）。</translation>
    </message>
</context>
<context>
    <name>OfflineApprovalScreen</name>
    <message>
        <location filename="../../kiosk/ui/screens/waiting.py" line="+216"/>
        <source>The kiosk is offline</source>
        <translation>この端末は現在オフラインです</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Your card has been checked here at the kiosk. The university&apos;s server cannot be reached just now, so a staff member approves your request here. It is kept safely on this kiosk and sent to the server when the connection is back; you then finish it on your phone or computer with a voucher code.</source>
        <translation>カードはこの端末で確認しました。いまは大学のサーバーに接続できないため、この窓口で係員がお申し込みを承認します。お申し込みはこの端末に安全に保管し、接続が回復したらサーバーへ送信します。その後、引換コードを使って、スマートフォンかパソコンでお手続きを完了してください。</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>For staff: compare the person with the photo on the card, then enter your staff ID and your offline PIN, and approve.</source>
        <translation>係員の方へ：ご本人とカードの顔写真を照合してから、職員IDとオフライン用暗証番号を入力して承認してください。</translation>
    </message>
    <message>
        <location line="+2"/>
        <location line="+1"/>
        <source>Staff ID</source>
        <translation>職員ID</translation>
    </message>
    <message>
        <location line="+1"/>
        <location line="+1"/>
        <source>Offline PIN</source>
        <translation>オフライン用暗証番号</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Cancel</source>
        <translation>中止</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Approve as staff</source>
        <translation>係員として承認</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>Account: %1</source>
        <translation>アカウント：%1</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>The staff roster on this kiosk is %1 hours old.</source>
        <translation>この端末の職員名簿は%1時間前のものです。</translation>
    </message>
</context>
<context>
    <name>OnScreenKeyboard</name>
    <message>
        <location filename="../../kiosk/ui/keypads.py" line="+312"/>
        <source>On-screen keyboard</source>
        <extracomment>Symbols an account ID may contain in other formats, with the words a screen reader says.</extracomment>
        <translation>画面キーボード</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>digit %1</source>
        <translation>数字 %1</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Show letters</source>
        <translation>英字を表示</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Show digits</source>
        <translation>数字を表示</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Small letters</source>
        <translation>小文字</translation>
    </message>
    <message>
        <location line="+0"/>
        <source>Capital letters</source>
        <translation>大文字</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Full stop</source>
        <translation>ピリオド</translation>
    </message>
    <message>
        <location line="+0"/>
        <source>Hyphen</source>
        <translation>ハイフン</translation>
    </message>
    <message>
        <location line="+0"/>
        <source>Underscore</source>
        <translation>アンダースコア</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>At sign</source>
        <translation>アットマーク</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Clear</source>
        <translation>クリア</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Clear everything typed</source>
        <translation>入力をすべて消す</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Back space</source>
        <translation>1文字消す</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Delete the last character</source>
        <translation>最後の1文字を消す</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>OK</source>
        <translation>OK</translation>
    </message>
</context>
<context>
    <name>Operation</name>
    <message>
        <location filename="../../kiosk/ui/screens/entry.py" line="-452"/>
        <source>Reset my password</source>
        <extracomment>The start screen&apos;s operations, in the order shown.</extracomment>
        <translation>パスワードの再設定</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Re-register multi-factor authentication</source>
        <translation>多要素認証の再登録</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Salvage my cloud data (former members)</source>
        <translation>クラウドデータの取り出し（大学を離れた方）</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Link my card to my account</source>
        <translation>アカウントとカードのひも付け</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Check my card link</source>
        <translation>ひも付けの確認</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Delete my card link</source>
        <translation>ひも付けの削除</translation>
    </message>
</context>
<context>
    <name>PasswordKeyboard</name>
    <message>
        <location filename="../../kiosk/ui/screens/password.py" line="-201"/>
        <source>On-screen keyboard for the password</source>
        <translation>パスワード用の画面キーボード</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Capital %1</source>
        <translation>大文字の %1</translation>
    </message>
    <message>
        <location line="+7"/>
        <source>Shift</source>
        <translation>シフト</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Shift: the next letter is a capital</source>
        <translation>シフト：次の1文字が大文字になります</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>abc</source>
        <translation>abc</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Show letters</source>
        <translation>英字を表示</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Show symbols</source>
        <translation>記号を表示</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Space</source>
        <translation>スペース</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Back space</source>
        <translation>1文字消す</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Delete the last character</source>
        <translation>最後の1文字を消す</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Exclamation mark</source>
        <translation>感嘆符</translation>
    </message>
    <message>
        <location line="+0"/>
        <source>Quotation mark</source>
        <translation>二重引用符</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Number sign</source>
        <translation>シャープ</translation>
    </message>
    <message>
        <location line="+0"/>
        <source>Dollar sign</source>
        <translation>ドル記号</translation>
    </message>
    <message>
        <location line="+0"/>
        <source>Percent sign</source>
        <translation>パーセント</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Ampersand</source>
        <translation>アンパサンド</translation>
    </message>
    <message>
        <location line="+0"/>
        <source>Apostrophe</source>
        <translation>アポストロフィ</translation>
    </message>
    <message>
        <location line="+0"/>
        <source>Left parenthesis</source>
        <translation>左かっこ</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Right parenthesis</source>
        <translation>右かっこ</translation>
    </message>
    <message>
        <location line="+0"/>
        <source>Asterisk</source>
        <translation>アスタリスク</translation>
    </message>
    <message>
        <location line="+0"/>
        <source>Plus sign</source>
        <translation>プラス</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Comma</source>
        <translation>カンマ</translation>
    </message>
    <message>
        <location line="+0"/>
        <source>Hyphen</source>
        <translation>ハイフン</translation>
    </message>
    <message>
        <location line="+0"/>
        <source>Full stop</source>
        <translation>ピリオド</translation>
    </message>
    <message>
        <location line="+0"/>
        <source>Slash</source>
        <translation>スラッシュ</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Colon</source>
        <translation>コロン</translation>
    </message>
    <message>
        <location line="+0"/>
        <source>Semicolon</source>
        <translation>セミコロン</translation>
    </message>
    <message>
        <location line="+0"/>
        <source>Less-than sign</source>
        <translation>小なり記号</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Equals sign</source>
        <translation>イコール</translation>
    </message>
    <message>
        <location line="+0"/>
        <source>Greater-than sign</source>
        <translation>大なり記号</translation>
    </message>
    <message>
        <location line="+0"/>
        <source>Question mark</source>
        <translation>疑問符</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>At sign</source>
        <translation>アットマーク</translation>
    </message>
    <message>
        <location line="+0"/>
        <source>Left square bracket</source>
        <translation>左角かっこ</translation>
    </message>
    <message>
        <location line="+0"/>
        <source>Backslash</source>
        <translation>バックスラッシュ</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Right square bracket</source>
        <translation>右角かっこ</translation>
    </message>
    <message>
        <location line="+0"/>
        <source>Circumflex</source>
        <translation>キャレット</translation>
    </message>
    <message>
        <location line="+0"/>
        <source>Underscore</source>
        <translation>アンダースコア</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Grave accent</source>
        <translation>バッククォート</translation>
    </message>
    <message>
        <location line="+0"/>
        <source>Left curly bracket</source>
        <translation>左波かっこ</translation>
    </message>
    <message>
        <location line="+0"/>
        <source>Vertical bar</source>
        <translation>縦棒</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Right curly bracket</source>
        <translation>右波かっこ</translation>
    </message>
    <message>
        <location line="+0"/>
        <source>Tilde</source>
        <translation>チルダ</translation>
    </message>
</context>
<context>
    <name>PinPad</name>
    <message numerus="yes">
        <location filename="../../kiosk/ui/keypads.py" line="-227"/>
        <source>%n of %1 digits entered</source>
        <translation>
            <numerusform>%1桁中%n桁を入力済み</numerusform>
        </translation>
    </message>
    <message>
        <location line="+9"/>
        <source>PIN pad</source>
        <translation>暗証番号の入力キー</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>digit %1</source>
        <translation>数字 %1</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Clear</source>
        <translation>クリア</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Clear all digits</source>
        <translation>すべて消す</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Back space</source>
        <translation>訂正</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Delete the last digit</source>
        <translation>最後の1桁を消す</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>OK</source>
        <translation>OK</translation>
    </message>
</context>
<context>
    <name>PinScreen</name>
    <message>
        <location filename="../../kiosk/ui/screens/entry.py" line="+371"/>
        <source>Enter the 4-digit PIN for the card information</source>
        <translation>券面事項入力補助用の暗証番号（数字4桁）を入力してください</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>This is your card&apos;s second 4-digit PIN, the one for the card information. The kiosk reads only your name with it. Only dots are shown.</source>
        <translation>カードのもう1つの数字4桁の暗証番号（券面事項入力補助用）です。端末が読み取るのはお名前だけです。入力した数字は●で表示されます。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Enter your card&apos;s 4-digit PIN</source>
        <translation>暗証番号（数字4桁）を入力してください</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>The 4-digit PIN for user authentication. Only dots are shown, and the PIN goes to your card only.</source>
        <translation>利用者証明用電子証明書の暗証番号（数字4桁）です。入力した数字は●で表示され、暗証番号はカードにだけ送られます。</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>This is your last try</source>
        <translation>これが最後の1回です</translation>
    </message>
    <message numerus="yes">
        <location line="+2"/>
        <source>%n tries left</source>
        <translation>
            <numerusform>残り%n回</numerusform>
        </translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Only one try is left: a wrong PIN will block this PIN, and it will then have to be reset at your municipal office or a convenience store.</source>
        <translation>残り1回です。間違えると暗証番号がロックされ、市区町村の窓口かコンビニでの再設定が必要になります。</translation>
    </message>
</context>
<context>
    <name>PlaceCardScreen</name>
    <message>
        <location line="-91"/>
        <source>The card was taken off before it could be read. Place it again and keep it still.</source>
        <translation>読み取りの途中でカードが離れました。もう一度カードを置き、動かさないでください。</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Place your My Number Card on the reader and leave it there</source>
        <translation>マイナンバーカードを読み取り機に置いてください</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Keep the card on the reader until the kiosk tells you to take it.</source>
        <translation>取るよう案内があるまで、カードは置いたままにしてください。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Reading your card. Please do not move it…</source>
        <translation>カードを読み取っています。動かさないでください…</translation>
    </message>
</context>
<context>
    <name>QrCode</name>
    <message>
        <location filename="../../kiosk/ui/qrcode.py" line="+60"/>
        <location line="+1"/>
        <source>QR code</source>
        <translation>QRコード</translation>
    </message>
</context>
<context>
    <name>ReaderStatus</name>
    <message>
        <location filename="../../kiosk/ui/widgets.py" line="+152"/>
        <source>Card reader status</source>
        <translation>カード読み取り機の状態</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Card reader connected</source>
        <translation>カード読み取り機に接続しています</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>No card reader found. Please call a staff member.</source>
        <translation>カード読み取り機が見つかりません。係員をお呼びください。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>A card is on the reader</source>
        <translation>カードが置かれています</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>No card on the reader</source>
        <translation>カードが置かれていません</translation>
    </message>
</context>
<context>
    <name>StaffUnlockDialog</name>
    <message>
        <location filename="../../kiosk/ui/unlock.py" line="+48"/>
        <source>Staff unlock</source>
        <translation>係員による解除</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Staff only: enter the staff PIN to close the kiosk.</source>
        <translation>係員専用：端末を終了するには、係員用の暗証番号を入力してください。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Staff PIN</source>
        <translation>係員用の暗証番号</translation>
    </message>
    <message>
        <location line="+1"/>
        <location line="+1"/>
        <source>Unlock</source>
        <translation>解除</translation>
    </message>
    <message>
        <location line="+1"/>
        <location line="+1"/>
        <source>Cancel</source>
        <translation>中止</translation>
    </message>
    <message>
        <location line="+9"/>
        <source>Too many wrong PINs. Try again later.</source>
        <translation>暗証番号の誤りが多すぎます。しばらくしてからお試しください。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Wrong PIN.</source>
        <translation>暗証番号が違います。</translation>
    </message>
</context>
<context>
    <name>StaffWaitScreen</name>
    <message>
        <location filename="../../kiosk/ui/screens/waiting.py" line="-150"/>
        <source>A staff member is checking your request</source>
        <translation>係員がお申し込みを確認しています</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Please wait here</source>
        <translation>この場でお待ちください</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Nothing is changed until a staff member approves.</source>
        <translation>係員が承認するまで、何も変更されません。</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>For staff</source>
        <translation>係員の方へ</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Compare the name with the name on the card, and the person with the photo on the card.</source>
        <translation>登録されているお名前とカードのお名前、ご本人とカードの顔写真を照合してください。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Cancel</source>
        <translation>中止</translation>
    </message>
    <message>
        <location line="+7"/>
        <source>Account: %1</source>
        <translation>アカウント：%1</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Name on record: %1</source>
        <translation>登録されているお名前：%1</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>No name on record for this account.</source>
        <translation>このアカウントにはお名前が登録されていません。</translation>
    </message>
</context>
<context>
    <name>StartScreen</name>
    <message>
        <location filename="../../kiosk/ui/screens/entry.py" line="-223"/>
        <source>The kiosk cannot reach the server right now. Password reset, multi-factor re-registration and data salvage still work: staff approve here and you get a voucher to finish on your own device once the connection is back. The other operations are unavailable until then.</source>
        <translation>現在、サーバーに接続できません。パスワードの再設定・多要素認証の再登録・データの取り出しは、この窓口で係員が承認し、引換コードをお渡しします。接続の回復後に、ご自分の端末でお手続きを完了してください。そのほかのお手続きは、接続が回復するまでご利用いただけません。</translation>
    </message>
    <message>
        <location line="+32"/>
        <source>What would you like to do?</source>
        <translation>ご希望のお手続きを選んでください</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Identity check with your My Number Card. Touch one of the buttons.</source>
        <translation>マイナンバーカードで本人確認を行います。ボタンを1つ押してください。</translation>
    </message>
</context>
<context>
    <name>TextSizeToggle</name>
    <message>
        <location filename="../../kiosk/ui/widgets.py" line="-142"/>
        <source>Larger text</source>
        <translation>文字を大きく</translation>
    </message>
</context>
<context>
    <name>UnlinkConfirmScreen</name>
    <message>
        <location filename="../../kiosk/ui/screens/waiting.py" line="+28"/>
        <source>Delete the link?</source>
        <translation>ひも付けを削除しますか？</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Delete the link between this card and this account?</source>
        <translation>このカードとこのアカウントのひも付けを削除しますか？</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>After this, your My Number Card cannot be used for this account until you link it again. A staff member approves the deletion.</source>
        <translation>削除すると、ひも付けし直すまで、このアカウントにマイナンバーカードを使えなくなります。削除は係員が承認します。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Keep the link</source>
        <translation>削除しない</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Delete the link</source>
        <translation>削除する</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>Account: %1</source>
        <translation>アカウント：%1</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Name on record: %1</source>
        <translation>登録されているお名前：%1</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>No name on record for this account.</source>
        <translation>このアカウントにはお名前が登録されていません。</translation>
    </message>
</context>
<context>
    <name>VerifyingScreen</name>
    <message>
        <location line="-111"/>
        <source>Cancel</source>
        <translation>中止</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Please wait</source>
        <translation>お待ちください</translation>
    </message>
    <message>
        <location line="+8"/>
        <source>Checking your card with the university&apos;s server</source>
        <translation>大学のサーバーでカードを確認しています</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>This takes a few seconds. Leave your card on the reader.</source>
        <translation>数秒かかります。カードは置いたままにしてください。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Checking your card here at the kiosk</source>
        <translation>この端末でカードを確認しています</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The university&apos;s server cannot be reached just now, so the kiosk checks your card by itself. Leave your card on the reader.</source>
        <translation>いまは大学のサーバーに接続できないため、端末だけでカードを確認します。カードは置いたままにしてください。</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Working on your request</source>
        <translation>お手続きを進めています</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>This takes a few seconds.</source>
        <translation>数秒かかります。</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Saving your request on this kiosk</source>
        <translation>お申し込みをこの端末に保存しています</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>The kiosk is offline: your request is kept safely here and sent to the university&apos;s server when the connection is back.</source>
        <translation>端末はオフラインです。お申し込みはこの端末に安全に保管し、接続が回復したら大学のサーバーへ送信します。</translation>
    </message>
</context>
<context>
    <name>WaitClock</name>
    <message>
        <location filename="../../kiosk/ui/waitclock.py" line="+77"/>
        <location line="+1"/>
        <source>Waiting for %1</source>
        <extracomment>The clock wakes at least this often (a clock that jumped is shown right within it).</extracomment>
        <translation>経過時間：%1</translation>
    </message>
    <message>
        <location line="+3"/>
        <location line="+1"/>
        <source>Time left: %1</source>
        <translation>残り時間：%1</translation>
    </message>
    <message>
        <location line="+16"/>
        <source>%1 s</source>
        <translation>%1秒</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>%1 min %2 s</source>
        <translation>%1分%2秒</translation>
    </message>
    <message numerus="yes">
        <location line="+4"/>
        <source>%n minutes</source>
        <translation>
            <numerusform>%n分</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <location line="+2"/>
        <source>%n seconds</source>
        <translation>
            <numerusform>%n秒</numerusform>
        </translation>
    </message>
</context>
</TS>
