"""What {{name}} knows of where it stores keys, as plain functions: `python
-m unittest` runs them natively (test_store.py), where the rekey imports do
not exist. The API this template speaks (change it to yours):

- `PUT {base-url}{path}` with the admin token and the key as the body
  stores it (writing the same value again is harmless);
- `GET {base-url}{path}` answers what is stored;
- `DELETE {base-url}{path}` removes it (404: nothing there).

`check` compares what is stored with the key inside the sandbox, so no
secret goes back to the host; `restore` puts the previous key back in a
rollback, or removes the value when there was none.
"""
from dataclasses import dataclass

from contract import InvalidConfig


@dataclass
class Place:
    url: str
    admin: str


def settings(config, admin_secrets) -> Place:
    """Where the key goes, from the call's pairs."""
    get = lambda pairs, key: next((p.value for p in pairs if p.key == key), None)  # noqa: E731
    base, path = get(config, "base-url"), get(config, "path")
    if not base or not path:
        raise InvalidConfig("base-url and path are required")
    if not path.startswith("/"):
        raise InvalidConfig(f"path `{path}` must start with /")
    # A placeholder, `{{secret:admin-token}}`, which the host fills in on the
    # way out: the plugin never holds the real token.
    admin = get(admin_secrets, "admin-token")
    if not admin:
        raise InvalidConfig("the admin-token secret is required")
    return Place(url=base.rstrip("/") + path, admin=admin)


def verdict(place: Place, stored: bytes | None, secret: str) -> tuple:
    """Whether `stored` (None: nothing there) is `secret`, told without it."""
    if stored is None:
        return False, f"nothing is stored at {place.url}"
    if stored == secret.encode():
        return True, f"{place.url} holds the key"
    return False, f"{place.url} holds another value"
