// The voucher page: the kiosk's QR code carries the voucher in the address's fragment
// (#code=...), which a browser never sends; fill the form's code field from it.
const fromFragment = new URLSearchParams(location.hash.slice(1)).get("code");
const field = document.getElementById("code");
if (fromFragment && field && !field.value) {
  field.value = fromFragment;
}
