"""A benchmark server's state: the demo's keys, configuration and data, the bench's lifted limits and
the kiosks' registered clients.

It imports nothing but ``linkserver`` (and cryptography), so the benchmark can also run it as a
script with an earlier commit's ``linkserver`` first on ``PYTHONPATH``, to prepare the state that
commit's server expects (its own migrations, its own configuration):

    python bench/linkserver_prepare.py STATE HIERARCHY PORT KIOSKS [DATABASE_URL]

prints {"config": ..., "kiosks": [[client_id, key_path], ...]} as JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_private_key

from linkserver.admin import register_client
from linkserver.anchor import open_database
from linkserver.config import Settings, load_settings
from linkserver.demo import prepare_demo
from linkserver.tokens import generate_ec_private_key_pem

#: Requests per minute and verifications per hour high enough never to bind during the bench.
BENCH_LIMITS = {"kiosk_requests_per_minute": 1_000_000_000, "account_verifications_per_hour": 1_000_000_000}


def write_bench_limits(config: Path) -> None:
    """Append the bench's ``[limits]`` table to the demo configuration and check it still loads."""
    table = "".join(f"{name} = {value}\n" for name, value in BENCH_LIMITS.items())
    with config.open("a", encoding="utf-8") as out:
        out.write(f"\n[limits]\n{table}")
    limits = load_settings(config).limits
    for name, value in BENCH_LIMITS.items():
        if getattr(limits, name) != value:
            raise RuntimeError(f"limits.{name} did not take effect")


def make_kiosks(state: Path, settings: Settings, count: int) -> list[tuple[str, Path]]:
    """Register ``count`` kiosk clients, each with its own key, before the server starts."""
    db = open_database(settings)
    kiosks = []
    try:
        for number in range(1, count + 1):
            client_id = f"bench-kiosk-{number:02d}"
            key_path = state / f"{client_id}.pem"
            pem = generate_ec_private_key_pem()
            key_path.write_bytes(pem)
            key_path.chmod(0o600)
            public = load_pem_private_key(pem, password=None).public_key().public_bytes(
                Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
            register_client(db, client_id, public)
            kiosks.append((client_id, key_path))
    finally:
        db.dispose()
    return kiosks


def prepare(state: Path, hierarchy: Path, port: int, kiosks: int,
            database_url: str | None) -> tuple[Path, list[tuple[str, Path]]]:
    """The demo in ``state`` for a server on ``port``, with no limit in the way and ``kiosks`` clients:
    its configuration file and the clients' IDs and key files."""
    setup = prepare_demo(state, hierarchy, issuer=f"http://127.0.0.1:{port}", database_url=database_url)
    write_bench_limits(setup.config_path)
    return setup.config_path, make_kiosks(state, setup.settings, kiosks)


def main(argv: list[str]) -> int:
    if len(argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    config, registered = prepare(Path(argv[0]), Path(argv[1]), int(argv[2]), int(argv[3]),
                                 argv[4] if len(argv) == 5 else None)
    print(json.dumps({"config": str(config), "kiosks": [[client, str(key)] for client, key in registered]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
