"""Generate the production layout's secrets into its env file (docker/.env), once, before the first start.

    python scripts/production_secrets.py [--env-file docker/.env] [--example docker/.env.example]

The env file is created from the example when it does not exist. Every value still set to a
placeholder (``change-me…``) or empty is replaced by a fresh random one; values already set are
kept, so running it again changes nothing (rotate a secret by blanking it first). Nothing is
printed but the names of the variables written. The file is written with mode 0600.

- ``AIRFLOW_FERNET_KEY``: a Fernet key (encrypts the connections stored in Airflow's database);
- ``AIRFLOW_JWT_SECRET``: 64 random bytes, URL-safe base64 (86 characters): the HMAC key of the
  API's and the execution API's tokens (PyJWT warns below 64 bytes for HS512);
- ``AIRFLOW_API_SECRET_KEY`` and every other ``change-me`` (database, Redis, S3 passwords):
  32 random bytes, URL-safe base64.

There is no default user password: the Airflow users are created with the commands of
docs/PRODUCTION.md (*Users and roles*), each with a password its owner types.
"""
from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

PLACEHOLDER = "change-me"
ROOT = Path(__file__).resolve().parent.parent


def fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def jwt_secret() -> str:
    return secrets.token_urlsafe(64)


def generic_secret() -> str:
    return secrets.token_urlsafe(32)


GENERATORS = {"AIRFLOW_FERNET_KEY": fernet_key, "AIRFLOW_JWT_SECRET": jwt_secret}


def fill_secrets(text: str) -> tuple[str, list[str]]:
    """``text`` of an env file with every placeholder or empty secret replaced; the names replaced."""
    lines, written = [], []
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        key = name.strip()
        if sep and key and not key.startswith("#") and (value.strip().startswith(PLACEHOLDER) or
                                                        (not value.strip() and key in GENERATORS)):
            line = f"{key}={GENERATORS.get(key, generic_secret)()}"
            written.append(key)
        lines.append(line)
    return "\n".join(lines) + "\n", written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env-file", type=Path, default=ROOT / "docker" / ".env")
    parser.add_argument("--example", type=Path, default=ROOT / "docker" / ".env.example")
    args = parser.parse_args(argv)
    source = args.env_file if args.env_file.exists() else args.example
    text, written = fill_secrets(source.read_text())
    fd = os.open(args.env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(args.env_file, 0o600)
    print(f"{args.env_file}: {len(written)} secret(s) generated" + (f": {', '.join(written)}" if written else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
