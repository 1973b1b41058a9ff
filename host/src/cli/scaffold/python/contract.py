"""The contract's errors and an HTTP answer, as plain Python: what the
plugin's own modules raise and read, testable natively where the rekey
imports do not exist (`host.py` turns the errors into the contract's)."""
from dataclasses import dataclass


class ProviderError(Exception):
    """A failure in the contract's terms: `kind` is the provider-error's case."""

    kind = "rejected"


class InvalidConfig(ProviderError):
    kind = "invalid-config"


class Unauthorized(ProviderError):
    kind = "unauthorized"


class NotFound(ProviderError):
    kind = "not-found"


class Unavailable(ProviderError):
    kind = "unavailable"


class Rejected(ProviderError):
    kind = "rejected"


@dataclass
class Answer:
    status: int
    body: bytes


def check(method: str, url: str, answer: Answer) -> Answer:
    """The answer, or the provider error its status means."""
    if answer.status < 400:
        return answer
    what = f"{method} {url} answered {answer.status}"
    if answer.status in (401, 403):
        raise Unauthorized(what)
    if answer.status == 404:
        raise NotFound(what)
    if answer.status == 408 or answer.status >= 500:
        raise Unavailable(what)
    raise Rejected(what)
