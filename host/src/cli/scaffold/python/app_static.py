"""{{name}}: a rekey provider for a static secret that rekey makes itself
(the key is whatever the applications and the service are given).

Build with `make build`, then check it with `rekey plugin test`. Anything
printed reaches the operator's log, with every secret masked; an uncaught
exception fails the call and its last line is the error the operator sees.
"""
from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import log, random
from wit_world.imports import rekey_provider_types as t

import keymaker


class Provider(exports.Provider):
    def info(self) -> t.PluginInfo:
        prefix = t.ConfigField(
            name="prefix",
            field_type=t.FieldType.TEXT,
            required=False,
            secret=False,
            placeholder=False,
            default_value=None,
            help="Text before the secret (at most 16 characters)",
        )
        return t.PluginInfo(
            name="{{name}}",
            version="0.1.0",
            description="A random static secret",
            config=[prefix],
            capabilities=t.Capabilities(
                concurrent_keys=True, reports_last_use=False, idempotent_generate=False, lists_keys=False
            ),
            permissions=t.Permissions(http_hosts=[], tcp=[]),
        )

    def generate(self, ctx: t.CallContext) -> t.Credential:
        try:
            prefix = keymaker.prefix(ctx.config)
        except keymaker.ConfigError as error:
            raise Err(t.ProviderError_InvalidConfig(str(error)))
        key_id = random.get_random_bytes(8).hex()
        log.log(log.Level.INFO, f"made key {key_id}")
        return t.Credential(key_id=key_id, secret=prefix + random.get_random_bytes(32).hex(), attributes=[], expires_at=None)

    def verify(self, ctx: t.CallContext, credential: t.Credential) -> t.Verification:
        # Nothing to ask: the key is valid if it is one this plugin could have made.
        valid = keymaker.is_ours(credential.secret)
        return t.Verification(valid=valid, detail=None if valid else "not a key of this plugin", last_used=None)

    def revoke(self, ctx: t.CallContext, credential: t.Credential) -> None:
        # Nothing holds the key but the applications, which have the new one.
        return None

    def list_keys(self, ctx: t.CallContext) -> list[t.KeySummary]:
        raise Err(t.ProviderError_Rejected("this provider holds no keys"))
