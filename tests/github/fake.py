"""A stateful fake of GitHub's Actions secrets API, as GitHub's OpenAPI
description (api.github.com.json) describes it; tests/it/github.rs puts
Prism in front of it, which validates every request and response against
that description. Each sealed value is opened with real libsodium (PyNaCl)
with the scope's private key, as GitHub does, and kept in clear for the
test to read at GET /_fake/secrets (not through Prism).

Usage: fake.py PORT TOKEN"""
import base64
import os
import re
import sys
import time

from nacl.public import PrivateKey, SealedBox

# tests/prism/fake_server.py: what every vendor fake shares.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "prism"))
from fake_server import Handler, serve  # noqa: E402

port, token = int(sys.argv[1]), sys.argv[2]
keys = {}  # scope -> (key_id, PrivateKey)
secrets = {}  # (scope, name) -> {"value", "created_at", "updated_at", "visibility"}
SCOPE = re.compile(r"^(/repos/[^/]+/[^/]+/actions|/repos/[^/]+/[^/]+/environments/[^/]+|/orgs/[^/]+/actions)/secrets/([^/]+)$")


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def scope_key(scope):
    if scope not in keys:
        keys[scope] = (str(len(keys) + 568250167242549743), PrivateKey.generate())
    return keys[scope]


class Fake(Handler):
    def route(self):
        if self.path == "/_fake/secrets":
            return self.reply(200, {f"{s}/{n}": v["value"] for (s, n), v in secrets.items()})
        if self.headers.get("authorization") != f"Bearer {token}":
            return self.reply(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
        match = SCOPE.match(self.path)
        if not match:
            return self.reply(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
        scope, name = match.groups()
        if name == "public-key" and self.command == "GET":
            key_id, private = scope_key(scope)
            return self.reply(200, {"key_id": key_id, "key": base64.b64encode(bytes(private.public_key)).decode()})
        held = secrets.get((scope, name))
        if self.command == "GET":
            if held is None:
                return self.reply(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
            body = {"name": name, "created_at": held["created_at"], "updated_at": held["updated_at"]}
            if scope.startswith("/orgs/"):
                body["visibility"] = held["visibility"]
            return self.reply(200, body)
        if self.command == "PUT":
            body = self.json()
            key_id, private = scope_key(scope)
            if body.get("key_id") != key_id:
                return self.reply(422, {"message": "Bad key_id", "documentation_url": "https://docs.github.com/rest"})
            value = SealedBox(private).decrypt(base64.b64decode(body["encrypted_value"])).decode()
            stamp = now()
            created = held is None
            secrets[(scope, name)] = {
                "value": value,
                "created_at": stamp if created else held["created_at"],
                "updated_at": stamp,
                "visibility": body.get("visibility", "private"),
            }
            return self.reply(201, {}) if created else self.reply(204)
        if self.command == "DELETE":
            if held is None:
                return self.reply(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
            del secrets[(scope, name)]
            return self.reply(204)
        return self.reply(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})



serve(port, Fake)
