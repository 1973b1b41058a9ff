"""A stateful fake of Twilio SendGrid's API keys and scopes, as SendGrid's
own description (sendgrid.json, from github.com/twilio/sendgrid-oai)
describes them; tests/it/sendgrid.rs puts Prism in front of it, which
validates every request and response against that description.

What it keeps of SendGrid's behaviour is what a client can tell apart: a key
is a bearer token whose secret is returned once, at creation; managing keys
needs the `api_keys.*` scopes; a key gets no scope its creator lacks (none
given: all of the creator's, "full access"); 100 keys at most; a deleted key
no longer authenticates. GET /_fake/keys (not through Prism) lists every key
with its scopes, for the tests.

Usage: fake.py PORT ADMIN_KEY"""
import os
import re
import secrets
import sys
from threading import Lock
from urllib.parse import urlsplit

# tests/prism/fake_server.py: what every vendor fake shares.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "prism"))
from fake_server import Handler, serve  # noqa: E402

port, admin = int(sys.argv[1]), sys.argv[2]
ADMIN_SCOPES = ["api_keys.create", "api_keys.read", "api_keys.update", "api_keys.delete", "mail.send",
                "alerts.create", "alerts.read", "user.profile.read"]
lock = Lock()
# id -> {"name", "scopes", "secret"}; the admin key is not listed, as one made in the web app.
keys = {}
ONE = re.compile(r"^/v3/api_keys/([^/]+)$")


def error(status, message, field=None):
    return status, {"errors": [{"field": field, "message": message}]}


class Fake(Handler):
    def caller_scopes(self):
        token = (self.headers.get("authorization") or "").removeprefix("Bearer ")
        if token == admin:
            return ADMIN_SCOPES
        return next((k["scopes"] for k in keys.values() if k["secret"] == token), None)

    def route(self):
        path = urlsplit(self.path).path
        if path == "/_fake/keys":
            with lock:
                return self.reply(200, {i: {"name": k["name"], "scopes": k["scopes"]} for i, k in keys.items()})
        with lock:
            return self.reply(*self.act(path))

    def act(self, path):
        scopes = self.caller_scopes()
        if scopes is None:
            return error(401, "authorization required")
        if path == "/v3/scopes" and self.command == "GET":
            return 200, {"scopes": scopes}
        needed = {"POST": "api_keys.create", "GET": "api_keys.read", "DELETE": "api_keys.delete"}.get(self.command)
        if needed not in scopes:
            return error(403, "access forbidden")
        if path == "/v3/api_keys" and self.command == "POST":
            body = self.json() or {}
            if not isinstance(body.get("name"), str):
                return error(400, "missing required argument", "name")
            wanted = body.get("scopes", scopes)
            if not set(wanted) <= set(scopes):
                return error(400, "cannot grant a scope the key making it lacks", "scopes")
            if len(keys) >= 100:
                return error(403, "the maximum of 100 API keys is reached")
            key_id = secrets.token_urlsafe(16)[:22]
            secret = f"SG.{key_id}.{secrets.token_urlsafe(32)[:43]}"
            keys[key_id] = {"name": body["name"], "scopes": list(wanted), "secret": secret}
            return 201, {"api_key": secret, "api_key_id": key_id, "name": body["name"], "scopes": list(wanted)}
        if path == "/v3/api_keys" and self.command == "GET":
            return 200, {"result": [{"name": k["name"], "api_key_id": i} for i, k in keys.items()]}
        one = ONE.match(path)
        if one and one.group(1) in keys:
            key_id = one.group(1)
            if self.command == "GET":
                key = keys[key_id]
                return 200, {"result": [{"name": key["name"], "api_key_id": key_id, "scopes": key["scopes"]}]}
            if self.command == "DELETE":
                del keys[key_id]
                return 204, None
        if one:
            return error(404, "unable to find API Key")
        return error(404, "not found")



serve(port, Fake)
