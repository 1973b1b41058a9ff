"""A stateful fake of Microsoft Graph's application passwords (client
secrets) and of the Microsoft identity platform's token endpoint, as
Graph's own OpenAPI description (graph.json, cut by tests/prism/subset.py
from msgraph-metadata's openapi/v1.0/openapi.yaml; tests/it/azure.rs puts
Prism in front of it) and Microsoft's documentation of the client
credentials grant describe them (Microsoft publishes no machine-readable
description of its token endpoint, so `POST /{tenant}/oauth2/v2.0/token` is
reached directly, not through Prism).

What it keeps of Microsoft's behaviour is what a client can tell apart: a
client signs in with its app id and one of its live secrets (the secret in
clear, shown once by addPassword) for a bearer token; only the admin app may
manage applications; passwords carry a display name, a hint (the first
three characters) and an end date, after which they no longer sign in;
addPassword and removePassword answer at both `…/addPassword` and
`…/microsoft.graph.addPassword`, as Graph does, under `/v1.0` or
(through Prism, which matches paths without the description's server path)
at the root; `$select` picks properties.
GET /_fake/passwords (not through Prism) lists the rotated application's
passwords by key id and display name.

Usage: fake.py PORT TENANT ADMIN_CLIENT_ID ADMIN_SECRET APP_OBJECT_ID APP_CLIENT_ID"""
import os
import re
import secrets
import sys
import time
import uuid
from threading import Lock
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "prism"))
from fake_server import Handler, serve  # noqa: E402

port, tenant, admin_client, admin_secret, app_object, app_client = sys.argv[1], *sys.argv[2:7]
port = int(port)
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
lock = Lock()
# The rotated application's passwords: key id -> credential, secret included.
passwords = {}
# bearer token -> client id
tokens = {}
APP = re.compile(r"^(?:/v1\.0)?/applications/([^/]+?)(?:/(?:microsoft\.graph\.)?(addPassword|removePassword))?$")


def stamp(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def seconds(text):
    return time.mktime(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone


def error(status, code, message):
    return status, {"error": {"code": code, "message": message, "innerError": {
        "date": stamp(time.time()), "request-id": str(uuid.uuid4()), "client-request-id": str(uuid.uuid4())}}}


def public(password):
    return {k: v for k, v in password.items() if k != "secretText"} | {"secretText": None}


def live_secret(client, secret):
    if client == admin_client:
        return secrets.compare_digest(secret, admin_secret)
    if client != app_client:
        return False
    return any(secrets.compare_digest(secret, p["secretText"]) and seconds(p["endDateTime"]) > time.time()
               for p in passwords.values())


class Fake(Handler):
    def route(self):
        url = urlsplit(self.path)
        with lock:
            if url.path == "/_fake/passwords":
                return self.reply(200, {k: p["displayName"] for k, p in passwords.items()})
            if url.path == f"/{tenant}/oauth2/v2.0/token" and self.command == "POST":
                return self.reply(*self.token(parse_qs(self.body().decode())))
            status, body = self.graph(url.path, parse_qs(url.query))
            return self.reply(status, body)

    def token(self, form):
        """The client credentials grant, with a client secret."""
        one = lambda name: form.get(name, [""])[0]  # noqa: E731
        if one("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type", "error_description": "AADSTS70003: grant type not supported"}
        if one("scope") != GRAPH_SCOPE:
            return 400, {"error": "invalid_scope", "error_description": "AADSTS70011: The provided value for scope is not valid."}
        if not live_secret(one("client_id"), one("client_secret")):
            return 401, {"error": "invalid_client", "error_description":
                         "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request "
                         "is the client secret value, not the client secret ID."}
        token = "eyJ0eXAiOiJKV1QifQ." + secrets.token_urlsafe(32)
        tokens[token] = one("client_id")
        return 200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}

    def graph(self, path, query):
        match = APP.match(path)
        if not match:
            return error(400, "BadRequest", f"Resource not found for the segment '{path}'.")
        auth = self.headers.get("authorization", "")
        caller = tokens.get(auth[len("Bearer "):]) if auth.startswith("Bearer ") else None
        if caller is None:
            return error(401, "InvalidAuthenticationToken", "Access token is empty.")
        if caller != admin_client:
            return error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
        object_id, action = match.groups()
        if object_id != app_object:
            return error(404, "Request_ResourceNotFound", f"Resource '{object_id}' does not exist.")
        if action is None and self.command == "GET":
            app = {"id": app_object, "appId": app_client, "displayName": "rotated app",
                   "passwordCredentials": [public(p) for p in passwords.values()]}
            wanted = query.get("$select", [""])[0]
            if wanted:
                app = {k: v for k, v in app.items() if k in wanted.split(",")}
            return 200, {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#applications/$entity"} | app
        if action == "addPassword" and self.command == "POST":
            asked = (self.json() or {}).get("passwordCredential") or {}
            now = time.time()
            secret = secrets.token_urlsafe(30).replace("-", "~")[:40]
            key_id = str(uuid.uuid4())
            passwords[key_id] = {
                "customKeyIdentifier": None, "displayName": asked.get("displayName"),
                "endDateTime": asked.get("endDateTime") or stamp(now + 2 * 365 * 86400), "hint": secret[:3],
                "keyId": key_id, "secretText": secret, "startDateTime": asked.get("startDateTime") or stamp(now)}
            return 200, {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.passwordCredential"} | passwords[key_id]
        if action == "removePassword" and self.command == "POST":
            key_id = (self.json() or {}).get("keyId")
            if key_id not in passwords:
                return error(400, "Request_BadRequest", f"No password credential found with keyId {key_id}.")
            del passwords[key_id]
            return 204, None
        return error(405, "Request_BadRequest", "Unsupported method.")


serve(port, Fake)
