"""A stateful fake of Datadog's Key Management (API v2), as Datadog's own
description (datadog.json, from the datadog-api-client package's
.generator/schemas/v2/openapi.yaml) describes it; tests/it/datadog.rs puts
Prism in front of it, which validates every request and response against
that description.

What it keeps of Datadog's behaviour is what a client can tell apart: the
DD-API-KEY and DD-APPLICATION-KEY headers; management needs the admin's
application key; `GET /api/v2/api_keys/{id}` answers the key itself; the
list filters by name and pages; `/api/v2/validate` takes any live API key
and names it; a deleted key no longer validates. GET /_fake/keys (not
through Prism) lists every key by id and name.

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
# id -> attributes; the admin's own key is not one of them.
keys = {}
ONE = re.compile(r"^/api/v2/api_keys/([^/]+)$")


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def forbidden():
    return 403, {"errors": ["Forbidden"]}


def partial(key_id):
    attributes = {k: v for k, v in keys[key_id].items() if k != "key"}
    return {"type": "api_keys", "id": key_id, "attributes": attributes}


class Fake(Handler):
    def route(self):
        url = urlsplit(self.path)
        if url.path == "/_fake/keys":
            with lock:
                return self.reply(200, {key_id: key["name"] for key_id, key in keys.items()})
        with lock:
            return self.reply(*self.act(url.path, parse_qs(url.query)))

    def act(self, path, query):
        api_key = self.headers.get("dd-api-key")
        known = next((key_id for key_id, key in keys.items() if key["key"] == api_key), None)
        if path == "/api/v2/validate" and self.command == "GET":
            if api_key != admin_api and known is None:
                # This endpoint answers JSON:API error objects, the others strings.
                return 403, {"errors": [{"status": "403", "title": "Forbidden", "detail": "invalid API key"}]}
            keys.get(known, {})["date_last_used"] = now()
            return 200, {"data": {"type": "validate_v2", "id": ORG, "attributes": {
                "valid": True, "api_key_id": known or "admin", "api_key_scopes": []}}}
        if (api_key != admin_api and known is None) or self.headers.get("dd-application-key") != admin_app:
            return forbidden()
        if path == "/api/v2/api_keys" and self.command == "POST":
            body = self.json() or {}
            name = body["data"]["attributes"]["name"]
            key_id, value, stamp = str(uuid.uuid4()), secrets.token_hex(16), now()
            keys[key_id] = {"name": name, "key": value, "last4": value[-4:], "created_at": stamp,
                            "modified_at": stamp, "date_last_used": None}
            return 201, {"data": {"type": "api_keys", "id": key_id, "attributes": keys[key_id]}}
        if path == "/api/v2/api_keys" and self.command == "GET":
            wanted = query.get("filter", [""])[0]
            size = int(query.get("page[size]", ["10"])[0])
            number = int(query.get("page[number]", ["0"])[0])
            found = [key_id for key_id in sorted(keys) if wanted in keys[key_id]["name"]]
            page = found[number * size:(number + 1) * size]
            return 200, {"data": [partial(key_id) for key_id in page],
                         "meta": {"max_allowed": 50, "page": {"total_filtered_count": len(found)}}}
        one = ONE.match(path)
        if one and one.group(1) in keys:
            if self.command == "GET":
                return 200, {"data": {"type": "api_keys", "id": one.group(1), "attributes": keys[one.group(1)]}}
            if self.command == "DELETE":
                del keys[one.group(1)]
                return 204, None
        return 404, {"errors": ["Not found"]}



serve(port, Fake)
