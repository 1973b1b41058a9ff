"""What the plugin gets from the rekey host: a small blocking HTTP client
over `wasi:http/outgoing-handler` (every request goes through the host,
which lets it reach only the hosts the plugin declares and the operator
grants), the plugin's errors raised as the contract's, and config fields."""
import json

from componentize_py_types import Err, Ok
from wit_world.imports import outgoing_handler
from wit_world.imports import rekey_provider_types as t
from wit_world.imports import wasi_http_types as http
from wit_world.imports.streams import StreamError_Closed

import contract

# The WASI streams take at most 4 KiB in one blocking write.
CHUNK = 4096
METHODS = {"GET": http.Method_Get(), "POST": http.Method_Post(), "PUT": http.Method_Put(), "DELETE": http.Method_Delete()}


def send(method: str, url: str, headers: dict, body: bytes = b"") -> contract.Answer:
    """Sends a request and reads the whole response; a transport failure
    (refused, timed out, denied by the sandbox) raises `contract.Unavailable`."""
    scheme, _, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    fields = http.Fields.from_list([(name, value.encode()) for name, value in headers.items()])
    request = http.OutgoingRequest(fields)
    request.set_method(METHODS[method])
    request.set_scheme(http.Scheme_Https() if scheme == "https" else http.Scheme_Http())
    request.set_authority(authority)
    request.set_path_with_query(slash + path)
    outgoing = request.body()
    future = outgoing_handler.handle(request, None)
    try:
        if body:
            with outgoing.write() as stream:
                for start in range(0, len(body), CHUNK):
                    stream.blocking_write_and_flush(body[start : start + CHUNK])
        http.OutgoingBody.finish(outgoing, None)
    except Err:
        pass  # the response says why the body could not be sent
    with future.subscribe() as ready:
        ready.block()
    answer = future.get()
    if not isinstance(answer, Ok) or not isinstance(answer.value, Ok):
        failure = answer.value.value if isinstance(answer, Ok) else answer
        raise contract.Unavailable(f"{method} {url} failed: {failure}")
    response = answer.value.value
    status = response.status()
    received = bytearray()
    incoming = response.consume()
    with incoming.stream() as stream:
        while True:
            try:
                received += stream.blocking_read(CHUNK)
            except Err as error:
                if isinstance(error.value, StreamError_Closed):
                    break
                raise contract.Unavailable(f"{method} {url}: the response broke off")
    http.IncomingBody.finish(incoming)
    return contract.Answer(status, bytes(received))


ERRORS = {
    "invalid-config": t.ProviderError_InvalidConfig,
    "unauthorized": t.ProviderError_Unauthorized,
    "not-found": t.ProviderError_NotFound,
    "unavailable": t.ProviderError_Unavailable,
    "rejected": t.ProviderError_Rejected,
}


def contract_errors(call):
    """Runs a provider function, raising its `contract.ProviderError` as the contract's."""

    def wrapped(self, *args):
        try:
            return call(self, *args)
        except contract.ProviderError as error:
            raise Err(ERRORS[error.kind](str(error)))

    return wrapped


def request(method: str, url: str, token: str, body=None, text: str | None = None) -> contract.Answer:
    """A request with a bearer token and a JSON `body` or a `text` body."""
    headers = {"authorization": f"Bearer {token}"}
    if body is not None:
        headers["content-type"] = "application/json"
        return send(method, url, headers, json.dumps(body).encode())
    if text is not None:
        headers["content-type"] = "text/plain"
        return send(method, url, headers, text.encode())
    return send(method, url, headers)


def field(name, field_type, help, required=False, secret=False, placeholder=False, default=None):
    return t.ConfigField(name, field_type, required, secret, placeholder, default, help)
