"""How {{name}} makes a secret, as plain functions: `python -m unittest`
runs them natively (test_keymaker.py), where the rekey imports do not exist."""


class ConfigError(ValueError):
    """The operator's configuration is wrong; the message says how."""


def prefix(config) -> str:
    """The operator's `prefix` (at most 16 characters), from the call's config pairs."""
    value = next((pair.value for pair in config if pair.key == "prefix"), "")
    if len(value) > 16:
        raise ConfigError(f"prefix is {len(value)} characters; at most 16")
    return value


def is_ours(secret: str) -> bool:
    """Whether a secret is one this plugin could have made: 32 bytes in hex, after the prefix."""
    return len(secret) >= 64
