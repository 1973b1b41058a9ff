"""A static-secret provider in Python: generate draws random bytes from the host."""
from wit_world import exports
from wit_world.imports import rekey_provider_types as t, random, log
from componentize_py_types import Err


def prefix(ctx: t.CallContext) -> str:
    """The operator's `prefix`, checked: a bad one is an uncaught error, which the operator sees."""
    value = next((p.value for p in ctx.config if p.key == "prefix"), "")
    if len(value) > 16:
        raise ValueError(f"prefix is {len(value)} characters; at most 16")
    return value


class Provider(exports.Provider):
    def info(self) -> t.PluginInfo:
        return t.PluginInfo(
            name="py-static",
            version="0.1.0",
            description="A random static secret, from Python",
            config=[t.ConfigField("prefix", t.FieldType.TEXT, False, False, False, None, "Text before the secret (at most 16 characters)")],
            capabilities=t.Capabilities(True, False, False, False),
            permissions=t.Permissions([], []),
        )

    def generate(self, ctx: t.CallContext) -> t.Credential:
        secret = prefix(ctx) + random.get_random_bytes(24).hex()
        print(f"rotation {ctx.rotation_id}: drawing 24 random bytes")
        log.log(log.Level.INFO, "made a key for " + ctx.rotation_id)
        return t.Credential("py-" + random.get_random_bytes(6).hex(), secret, [], None)

    def verify(self, ctx: t.CallContext, credential: t.Credential) -> t.Verification:
        return t.Verification(len(credential.secret) >= 48, None, None)

    def revoke(self, ctx: t.CallContext, credential: t.Credential) -> None:
        return None

    def list_keys(self, ctx: t.CallContext):
        raise Err(t.ProviderError_Rejected("this provider holds no keys"))
