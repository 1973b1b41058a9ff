"""A stateful fake of Twilio's API keys (the 2010-04-01 API), as Twilio's own
description (twilio.json, from github.com/twilio/twilio-oai) describes them;
tests/it/twilio.rs puts Prism in front of it, which validates every request
and response against that description.

What it keeps of Twilio's behaviour is what a client can tell apart: HTTP
Basic with the account SID and auth token, or with a key's SID and secret;
a key's secret returned once, at creation; a standard key refused the Keys
resources; a deleted key no longer authenticates; lists in pages.
GET /_fake/keys (not through Prism) lists every key, for the tests.

Usage: fake.py PORT ACCOUNT_SID AUTH_TOKEN"""
import base64
import os
import re
import secrets
import sys
import time
from threading import Lock
from urllib.parse import parse_qs, urlsplit

# tests/prism/fake_server.py: what every vendor fake shares.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "prism"))
from fake_server import Handler, serve  # noqa: E402

port, account, token = int(sys.argv[1]), sys.argv[2], sys.argv[3]
lock = Lock()
keys = {}  # sid -> {"friendly_name", "secret", "date_created"}
BASE = f"/2010-04-01/Accounts/{account}"
ONE = re.compile(rf"^{BASE}/Keys/(SK[0-9a-f]{{32}})\.json$")
PAGE = 50


def now():
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())


def error(status, message, code):
    return status, {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}


def public(sid):
    key = keys[sid]
    return {"sid": sid, "friendly_name": key["friendly_name"], "date_created": key["date_created"], "date_updated": key["date_created"]}


class Fake(Handler):
    def caller(self):
        """`account`, `key`, or None."""
        header = self.headers.get("authorization") or ""
        try:
            user, _, password = base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")
        except ValueError:
            return None
        if user == account and password == token:
            return "account"
        if user in keys and keys[user]["secret"] == password:
            return "key"
        return None

    def route(self):
        url = urlsplit(self.path)
        if url.path == "/_fake/keys":
            with lock:
                return self.reply(200, {sid: key["friendly_name"] for sid, key in keys.items()})
        with lock:
            return self.reply(*self.act(url.path, parse_qs(url.query)))

    def act(self, path, query):
        who = self.caller()
        if who is None:
            return error(401, "Authentication Error - invalid username", 20003)
        if path == f"{BASE}/Balance.json" and self.command == "GET":
            return 200, {"account_sid": account, "balance": "12.50", "currency": "USD"}
        if who != "account":
            return error(401, "Authentication Error - a standard API key cannot manage keys", 20003)
        if path == f"{BASE}/Keys.json" and self.command == "POST":
            form = parse_qs(self.body().decode())
            name = form.get("FriendlyName", [""])[0]
            if len(name) > 64:
                return error(400, "FriendlyName is longer than 64 characters", 21620)
            sid = "SK" + secrets.token_hex(16)
            keys[sid] = {"friendly_name": name, "secret": secrets.token_urlsafe(24), "date_created": now()}
            return 201, {**public(sid), "secret": keys[sid]["secret"]}
        if path == f"{BASE}/Keys.json" and self.command == "GET":
            size = int(query.get("PageSize", [PAGE])[0])
            page = int(query.get("Page", ["0"])[0])
            sids = sorted(keys)
            chosen = sids[page * size:(page + 1) * size]
            more = (page + 1) * size < len(sids)
            # Absolute, as the description's `format: uri` has it (Twilio
            # itself answers relative URIs).
            uri = f"https://api.twilio.com{BASE}/Keys.json?PageSize={size}"
            return 200, {
                "keys": [public(sid) for sid in chosen], "page": page, "page_size": size,
                "start": page * size, "end": page * size + max(len(chosen) - 1, 0),
                "first_page_uri": f"{uri}&Page=0", "uri": f"{uri}&Page={page}",
                "next_page_uri": f"{uri}&Page={page + 1}&PageToken=PA{page + 1}" if more else None,
                "previous_page_uri": f"{uri}&Page={page - 1}" if page else None,
            }
        one = ONE.match(path)
        if one and one.group(1) in keys:
            if self.command == "GET":
                return 200, public(one.group(1))
            if self.command == "DELETE":
                del keys[one.group(1)]
                return 204, None
        return error(404, f"The requested resource {path} was not found", 20404)



serve(port, Fake)
