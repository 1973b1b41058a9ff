"""A stateful fake of Google Cloud IAM's service account keys
(`projects.serviceAccounts.keys`) and of Google's OAuth 2.0 token endpoint,
as Google's own Discovery document describes the first (iam.json, made by
discovery.py; tests/it/gcp.rs puts Prism in front of it) and RFC 7523 the
second (Google publishes no machine-readable description of its token
endpoint, so `POST /token` is reached directly, not through Prism).

What it keeps of Google's behaviour is what a client can tell apart: a key
is an RSA key pair made here, its private half returned once as a Google
credentials file (base64 in `privateKeyData`); `/token` exchanges a JWT
signed RS256 by a live key of the account it names (`iss`), with `kid` the
key's id, `aud` this endpoint and an `exp` at most an hour on, for a bearer
token; only the admin account's tokens may manage keys; at most 10
user-managed keys per account; `-` stands for the project; a deleted key no
longer signs in. GET /_fake/keys (not through Prism) lists each account's
user-managed key ids.

At startup it writes the admin account's own key (a credentials file) to
ADMIN_KEY_FILE.

Usage: fake.py PORT ADMIN_KEY_FILE"""
import base64
import json
import os
import re
import secrets
import sys
import time
from threading import Lock
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "prism"))
from fake_server import Handler, serve  # noqa: E402

port, admin_key_file = int(sys.argv[1]), sys.argv[2]
PROJECT = "rekey-test"
ADMIN = f"admin@{PROJECT}.iam.gserviceaccount.com"
APP = f"app@{PROJECT}.iam.gserviceaccount.com"
TOKEN_URL = f"http://127.0.0.1:{port}/token"
MAX_KEYS = 10
lock = Lock()
# account -> key id -> {"public": key, "created": RFC 3339}
keys = {ADMIN: {}, APP: {}}
# bearer token -> account
tokens = {}
KEYS = re.compile(r"^/v1/projects/([^/]+)/serviceAccounts/([^/]+)/keys(?:/([^/]+))?$")


def stamp(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def new_key(account):
    """A key of `account`: its id and credentials file."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_id = secrets.token_hex(20)
    keys[account][key_id] = {"public": private.public_key(), "created": stamp(time.time())}
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return key_id, {
        "type": "service_account", "project_id": PROJECT, "private_key_id": key_id, "private_key": pem,
        "client_email": account, "client_id": str(abs(hash(account)) % 10**21),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": TOKEN_URL,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{account}",
        "universe_domain": "googleapis.com",
    }


def unpadded(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def error(code, status, message):
    return code, {"error": {"code": code, "message": message, "status": status}}


def summary(account, key_id):
    return {"name": f"projects/{PROJECT}/serviceAccounts/{account}/keys/{key_id}",
            "validAfterTime": keys[account][key_id]["created"], "validBeforeTime": "9999-12-31T23:59:59Z",
            "keyAlgorithm": "KEY_ALG_RSA_2048", "keyOrigin": "GOOGLE_PROVIDED", "keyType": "USER_MANAGED",
            "disabled": False}


class Fake(Handler):
    def route(self):
        url = urlsplit(self.path)
        with lock:
            if url.path == "/_fake/keys":
                return self.reply(200, {account: sorted(held) for account, held in keys.items()})
            if url.path == "/token" and self.command == "POST":
                return self.reply(*self.token(parse_qs(self.body().decode())))
            return self.reply(*self.iam(url.path, parse_qs(url.query)))

    def token(self, form):
        """RFC 7523: a JWT bearer assertion for an access token."""
        refused = 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"] or "assertion" not in form:
            return 400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}
        try:
            head, claims, signature = form["assertion"][0].split(".")
            header, payload = json.loads(unpadded(head)), json.loads(unpadded(claims))
            key = keys.get(payload["iss"], {}).get(header["kid"])
            if header.get("alg") != "RS256" or key is None:
                return refused
            key["public"].verify(unpadded(signature), f"{head}.{claims}".encode(), padding.PKCS1v15(),
                                 hashes.SHA256())
        except (ValueError, KeyError, InvalidSignature):
            return refused
        now = time.time()
        if payload.get("aud") != TOKEN_URL or not payload["iat"] - 60 <= now <= payload["exp"] <= now + 3660:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT: Token must be a short-lived token"}
        token = "ya29." + secrets.token_urlsafe(32)
        tokens[token] = payload["iss"]
        return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def iam(self, path, query):
        match = KEYS.match(path)
        if not match:
            return error(404, "NOT_FOUND", "Requested entity was not found.")
        auth = self.headers.get("authorization", "")
        caller = tokens.get(auth[len("Bearer "):]) if auth.startswith("Bearer ") else None
        if caller is None:
            return error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        project, account, key_id = (unquote(part) if part else part for part in match.groups())
        if caller != ADMIN:
            return error(403, "PERMISSION_DENIED", "Permission 'iam.serviceAccountKeys.list' denied")
        if project not in ("-", PROJECT) or account not in keys:
            return error(404, "NOT_FOUND", f"Unknown service account {account}")
        if key_id is None and self.command == "POST":
            request = self.json() or {}
            if request.get("privateKeyType", "TYPE_GOOGLE_CREDENTIALS_FILE") not in (
                    "TYPE_UNSPECIFIED", "TYPE_GOOGLE_CREDENTIALS_FILE"):
                return error(400, "INVALID_ARGUMENT", "Only credentials files are made here")
            if len(keys[account]) >= MAX_KEYS:
                return error(400, "FAILED_PRECONDITION", "Precondition check failed.")
            key_id, file = new_key(account)
            made = summary(account, key_id)
            made["privateKeyType"] = "TYPE_GOOGLE_CREDENTIALS_FILE"
            made["privateKeyData"] = base64.b64encode(json.dumps(file, indent=2).encode()).decode()
            return 200, made
        if key_id is None and self.command == "GET":
            wanted = query.get("keyTypes", ["USER_MANAGED", "SYSTEM_MANAGED"])
            held = [summary(account, k) for k in sorted(keys[account])] if "USER_MANAGED" in wanted else []
            return 200, {"keys": held} if held else {}
        if key_id not in keys[account]:
            return error(404, "NOT_FOUND", f"Service account key {key_id} does not exist.")
        if self.command == "GET":
            return 200, summary(account, key_id)
        if self.command == "DELETE":
            del keys[account][key_id]
            return 200, {}
        return error(404, "NOT_FOUND", "Requested entity was not found.")


_, admin_file = new_key(ADMIN)
with open(admin_key_file, "w") as out:
    json.dump(admin_file, out, indent=2)
serve(port, Fake)
