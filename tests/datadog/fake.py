"""A stateful fake of Datadog's Key Management (API v2), as Datadog's own
description (datadog.json, from the datadog-api-client package's
.generator/schemas/v2/openapi.yaml) describes it; tests/it/datadog.rs puts
Prism in front of it, which validates every request and response against
that description.

What it keeps of Datadog's behaviour is what a client can tell apart: the
DD-API-KEY and DD-APPLICATION-KEY headers (any live key of each); API keys
and the current user's application keys; `GET …/{id}` answers the key
itself (an application key's, not in one-time read mode); the lists filter
by name and page; `/api/v2/validate` takes any live API key and names it; a
deleted key no longer works. GET /_fake/keys (not through Prism) lists every
key by id and name.

POST /_fake/one-time-read puts the organisation in one-time read mode.

Usage: fake.py PORT ADMIN_API_KEY ADMIN_APPLICATION_KEY"""
import os
import re
import secrets
import sys
import time
import uuid
from threading import Lock
from urllib.parse import parse_qs, urlsplit

# tests/prism/fake_server.py: what every vendor fake shares.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "prism"))
from fake_server import Handler, serve  # noqa: E402

port, admin_api, admin_app = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ORG = str(uuid.uuid5(uuid.NAMESPACE_URL, "rekey-test-org"))
lock = Lock()
# kind -> id -> attributes; the admin's own keys are not among them.
keys = {"api_keys": {}, "application_keys": {}}
COLLECTIONS = {"/api/v2/api_keys": "api_keys", "/api/v2/current_user/application_keys": "application_keys"}
ONE = re.compile(r"^(/api/v2/api_keys|/api/v2/current_user/application_keys)/([^/]+)$")
LAST_USED = {"api_keys": "date_last_used", "application_keys": "last_used_at"}
# One-time read mode: an application key's value is never read back.
one_time_read = [False]


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def forbidden():
    return 403, {"errors": ["Forbidden"]}


def full(kind, key_id):
    attributes = dict(keys[kind][key_id])
    if kind == "application_keys" and one_time_read[0]:
        del attributes["key"]
    return {"type": kind, "id": key_id, "attributes": attributes}


def partial(kind, key_id):
    attributes = {k: v for k, v in keys[kind][key_id].items() if k not in ("key", "scopes")}
    return {"type": kind, "id": key_id, "attributes": attributes}


def holder(kind, value):
    return next((key_id for key_id, key in keys[kind].items() if key["key"] == value), None)


class Fake(Handler):
    def route(self):
        url = urlsplit(self.path)
        if url.path == "/_fake/keys":
            with lock:
                return self.reply(200, {i: k["name"] for kind in keys.values() for i, k in kind.items()})
        if url.path == "/_fake/one-time-read":
            one_time_read[0] = True
            return self.reply(200, {"one_time_read": True})
        with lock:
            return self.reply(*self.act(url.path, parse_qs(url.query)))

    def act(self, path, query):
        api_key = self.headers.get("dd-api-key")
        app_key = self.headers.get("dd-application-key")
        api_holder = holder("api_keys", api_key)
        if path == "/api/v2/validate" and self.command == "GET":
            if api_key != admin_api and api_holder is None:
                # This endpoint answers JSON:API error objects, the others strings.
                return 403, {"errors": [{"status": "403", "title": "Forbidden", "detail": "invalid API key"}]}
            if api_holder:
                keys["api_keys"][api_holder]["date_last_used"] = now()
            return 200, {"data": {"type": "validate_v2", "id": ORG, "attributes": {
                "valid": True, "api_key_id": api_holder or "admin", "api_key_scopes": []}}}
        app_holder = holder("application_keys", app_key)
        if (api_key != admin_api and api_holder is None) or (app_key != admin_app and app_holder is None):
            return forbidden()
        if app_holder:
            keys["application_keys"][app_holder]["last_used_at"] = now()
        kind = COLLECTIONS.get(path)
        if kind and self.command == "POST":
            name = self.json()["data"]["attributes"]["name"]
            key_id, value, stamp = str(uuid.uuid4()), secrets.token_hex(20 if kind == "application_keys" else 16), now()
            keys[kind][key_id] = {"name": name, "key": value, "last4": value[-4:], "created_at": stamp,
                                  LAST_USED[kind]: None}
            if kind == "api_keys":
                keys[kind][key_id]["modified_at"] = stamp
            else:
                keys[kind][key_id]["scopes"] = None
            return 201, {"data": {"type": kind, "id": key_id, "attributes": keys[kind][key_id]}}
        if kind and self.command == "GET":
            wanted = query.get("filter", [""])[0]
            size = int(query.get("page[size]", ["10"])[0])
            number = int(query.get("page[number]", ["0"])[0])
            found = [key_id for key_id in sorted(keys[kind]) if wanted in keys[kind][key_id]["name"]]
            page = found[number * size:(number + 1) * size]
            return 200, {"data": [partial(kind, key_id) for key_id in page],
                         "meta": {"page": {"total_filtered_count": len(found)}}}
        one = ONE.match(path)
        if one and one.group(2) in keys[COLLECTIONS[one.group(1)]]:
            kind, key_id = COLLECTIONS[one.group(1)], one.group(2)
            if self.command == "GET":
                return 200, {"data": full(kind, key_id)}
            if self.command == "DELETE":
                del keys[kind][key_id]
                return 204, None
        return 404, {"errors": ["Not found"]}


serve(port, Fake)
