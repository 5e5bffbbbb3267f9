"""``kiosk keygen``: the kiosk's key pair made once (0600, never replaced), whose public key the
server registers, after which the kiosk's own client signs in with the private key."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.linkage import LinkageClient
from linkserver.cli import main as server_main
from tests.helpers.linkage_client import config_for
from tests.linkserver.helpers import LiveServer


def test_a_new_key_pair_is_registered_and_signs_the_kiosk_in(
        server: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = tmp_path / "kiosk-key.pem"
    assert main(["keygen", "--key", str(key), "--kiosk-id", "kiosk-komaba-07"]) == 0
    said = capsys.readouterr().out
    public = tmp_path / "kiosk-key.pub.pem"
    assert key.stat().st_mode & 0o777 == 0o600 and public.read_text("ascii") in said
    assert "register-kiosk --config F --client-id kiosk-komaba-07 --public-key kiosk-key.pub.pem" in said
    assert "PRIVATE" not in said  # the private key never reaches the screen
    assert server_main(["register-kiosk", "--config", str(server.setup.config_path), "--client-id",
                        "kiosk-komaba-07", "--public-key", str(public)]) == 0
    config = replace(config_for(server), client_id="kiosk-komaba-07", key_path=key)
    with LinkageClient(config) as client:
        assert len(client.challenge().nonce) == 32


def test_an_existing_key_is_never_replaced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = tmp_path / "kiosk-key.pem"
    assert main(["keygen", "--key", str(key)]) == 0
    before = key.read_bytes()
    assert main(["keygen", "--key", str(key)]) == 1
    assert "exists: a kiosk's key is made once" in capsys.readouterr().err
    assert key.read_bytes() == before
    assert main(["keygen", "--key", str(tmp_path / "no" / "such" / "folder" / "k.pem")]) == 2
    assert "cannot be written" in capsys.readouterr().err
