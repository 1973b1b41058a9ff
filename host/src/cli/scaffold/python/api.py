"""What {{name}} knows of its key API, as plain functions: `python -m
unittest` runs them natively (test_api.py), where the rekey imports do not
exist. The API this template speaks (change it to yours):

- `POST {base-url}{keys-path}` with the admin token, body
  `{"name": "rekey <rotation id>"}`, answers `{"id": "…", "secret": "…"}`;
- `GET {base-url}{verify-path}` with the key as bearer token answers 200
  when the key works, 401 or 403 when it does not;
- `DELETE {base-url}{keys-path}/<id>` with the admin token (404: gone);
- `GET {base-url}{keys-path}` with the admin token lists the keys:
  `[{"id": "…", "name": "…"}]`.
"""
import json
from dataclasses import dataclass

from contract import InvalidConfig, Rejected


@dataclass
class Settings:
    base: str
    keys_path: str
    verify_path: str
    admin: str


def settings(config, admin_secrets) -> Settings:
    """The operator's settings from the call's pairs, with their defaults."""
    get = lambda pairs, key: next((p.value for p in pairs if p.key == key), None)  # noqa: E731
    base = get(config, "base-url")
    if not base:
        raise InvalidConfig("base-url is required")
    # A placeholder, `{{secret:admin-token}}`, which the host fills in on the
    # way out: the plugin never holds the real token.
    admin = get(admin_secrets, "admin-token")
    if not admin:
        raise InvalidConfig("the admin-token secret is required")
    return Settings(
        base=base.rstrip("/"),
        keys_path=get(config, "keys-path") or "/keys",
        verify_path=get(config, "verify-path") or "/me",
        admin=admin,
    )


def parse_created(body: bytes) -> tuple:
    """The key id and secret in a create's answer."""
    created = json.loads(body)
    if not isinstance(created.get("id"), str) or not isinstance(created.get("secret"), str):
        raise Rejected("the create answer has no string `id` and `secret`")
    return created["id"], created["secret"]


def parse_listed(body: bytes) -> list:
    """(key id, name) of each key in a listing; the name holds the rotation id."""
    listed = json.loads(body)
    if not isinstance(listed, list):
        raise Rejected("the listing is not an array")
    return [(key["id"], key.get("name")) for key in listed if isinstance(key.get("id"), str)]
