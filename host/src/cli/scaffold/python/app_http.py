"""{{name}}: a rekey provider for a key API over HTTP (api.py describes it).

Build with `make build`, then check it against the real API with
`rekey plugin test`. Anything printed reaches the operator's log, with every
secret masked; an uncaught exception fails the call and its last line is
the error the operator sees.
"""
from wit_world import exports
from wit_world.imports import log
from wit_world.imports import rekey_provider_types as t

import api
import contract
from host import contract_errors, field, request


class Provider(exports.Provider):
    def info(self) -> t.PluginInfo:
        return t.PluginInfo(
            name="{{name}}",
            version="0.1.0",
            description="API keys of a service with a key API over HTTP",
            config=[
                field("base-url", t.FieldType.URL, "Base URL of the API, e.g. https://api.example.com", required=True),
                field("keys-path", t.FieldType.TEXT, "Path of the keys collection", default="/keys"),
                field("verify-path", t.FieldType.TEXT, "Path that answers 200 to a working key", default="/me"),
                # A placeholder never enters the sandbox: see api.settings.
                field("admin-token", t.FieldType.TEXT, "Token allowed to create and delete keys", True, True, True),
            ],
            capabilities=t.Capabilities(
                concurrent_keys=True, reports_last_use=False, idempotent_generate=False, lists_keys=True
            ),
            permissions=t.Permissions(http_hosts=["{base-url}"], tcp=[]),
        )

    @contract_errors
    def generate(self, ctx: t.CallContext) -> t.Credential:
        s = api.settings(ctx.config, ctx.admin_secrets)
        url = s.base + s.keys_path
        answer = contract.check("POST", url, request("POST", url, s.admin, {"name": f"rekey {ctx.rotation_id}"}))
        key_id, secret = api.parse_created(answer.body)
        log.log(log.Level.INFO, f"created key {key_id}")
        return t.Credential(key_id=key_id, secret=secret, attributes=[], expires_at=None)

    @contract_errors
    def verify(self, ctx: t.CallContext, credential: t.Credential) -> t.Verification:
        s = api.settings(ctx.config, ctx.admin_secrets)
        status = request("GET", s.base + s.verify_path, credential.secret).status
        if 200 <= status < 300:
            return t.Verification(valid=True, detail=None, last_used=None)
        if status in (401, 403):
            return t.Verification(valid=False, detail=f"the API answered {status}", last_used=None)
        raise contract.Unavailable(f"verify answered {status}")

    @contract_errors
    def revoke(self, ctx: t.CallContext, credential: t.Credential) -> None:
        s = api.settings(ctx.config, ctx.admin_secrets)
        url = f"{s.base}{s.keys_path}/{credential.key_id}"
        answer = request("DELETE", url, s.admin)
        # Already gone: revoking twice is not an error.
        if answer.status != 404:
            contract.check("DELETE", url, answer)

    @contract_errors
    def list_keys(self, ctx: t.CallContext) -> list[t.KeySummary]:
        s = api.settings(ctx.config, ctx.admin_secrets)
        url = s.base + s.keys_path
        listed = api.parse_listed(contract.check("GET", url, request("GET", url, s.admin)).body)
        return [t.KeySummary(key_id=key_id, tag=name, created_at=None, last_used=None, attributes=[]) for key_id, name in listed]
