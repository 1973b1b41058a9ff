"""{{name}}: a rekey deploy target that stores each new key in an HTTP API
(store.py describes it).

Build with `make build`, then check it against the real API with
`rekey plugin test`. Anything printed reaches the operator's log, with every
secret masked; an uncaught exception fails the call and its last line is
the error the operator sees.
"""
from wit_world import exports
from wit_world.imports import log
from wit_world.exports import destination as d
from wit_world.imports import rekey_provider_types as t

import contract
import store
from host import contract_errors, field, request


def put(place: store.Place, value: str) -> None:
    contract.check("PUT", place.url, request("PUT", place.url, place.admin, text=value))


class Destination(exports.Destination):
    def info(self) -> d.TargetInfo:
        return d.TargetInfo(
            name="{{name}}",
            version="0.1.0",
            description="Stores each new key in an HTTP API",
            config=[
                field("base-url", t.FieldType.URL, "Base URL of the API, e.g. https://config.example.com", required=True),
                field("path", t.FieldType.TEXT, "Where the key is stored, e.g. /apps/shop/api-key", required=True),
                # A placeholder never enters the sandbox: see store.settings.
                field("admin-token", t.FieldType.TEXT, "Token allowed to write the value", True, True, True),
            ],
            permissions=t.Permissions(http_hosts=["{base-url}"], tcp=[]),
            # No staging: the application reads the new key once it is written.
            stages_keys=False,
        )

    @contract_errors
    def write(self, ctx: t.CallContext, key: t.Credential, staged: bool) -> d.Placed:
        place = store.settings(ctx.config, ctx.admin_secrets)
        put(place, key.secret)
        log.log(log.Level.INFO, f"wrote key {key.key_id} to {place.url}")
        return d.Placed(location=place.url, revision=None)

    @contract_errors
    def check(self, ctx: t.CallContext, key: t.Credential, staged: bool) -> t.Verification:
        place = store.settings(ctx.config, ctx.admin_secrets)
        answer = request("GET", place.url, place.admin)
        stored = None if answer.status == 404 else contract.check("GET", place.url, answer).body
        valid, detail = store.verdict(place, stored, key.secret)
        return t.Verification(valid=valid, detail=detail, last_used=None)

    @contract_errors
    def promote(self, ctx: t.CallContext, key: t.Credential) -> None:
        pass  # Not called: the target does not stage keys.

    @contract_errors
    def restore(self, ctx: t.CallContext, previous: t.Credential | None) -> None:
        place = store.settings(ctx.config, ctx.admin_secrets)
        if previous is not None:
            return put(place, previous.secret)
        # Nothing was there before: remove what the rotation wrote.
        answer = request("DELETE", place.url, place.admin)
        if answer.status != 404:
            contract.check("DELETE", place.url, answer)
