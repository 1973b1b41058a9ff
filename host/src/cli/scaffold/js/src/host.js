// What {{name}} gets from the rekey host: HTTP (`fetch` goes through the
// host, which lets it reach only the hosts this plugin declares and the
// operator grants), failures in the contract's terms, and config fields.

/** A provider-error of the contract, thrown as its variant. */
export const providerError = (tag, val) => ({ tag, val });

/** The provider-error for an HTTP status that is not a success. */
export function errorFor(method, url, status) {
  const what = `${method} ${url} answered ${status}`;
  if (status === 401 || status === 403) return providerError("unauthorized", what);
  if (status === 404) return providerError("not-found", what);
  if (status === 429) return providerError("rate-limited", { retryAfterSeconds: undefined, message: what });
  if (status === 408 || status >= 500) return providerError("unavailable", what);
  return providerError("rejected", what);
}

/**
 * `fetch` with a bearer token and, given, a body of `type`; the transport's
 * failure (refused, timed out, denied) as a provider-error.
 */
export async function send(method, url, token, body, type = "application/json") {
  const headers = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers["content-type"] = type;
  try {
    return await fetch(url, { method, headers, body });
  } catch (error) {
    throw providerError("unavailable", `${method} ${url}: ${error.message ?? error}`);
  }
}

/** A config field of `info()`: optional, not secret, unless `more` says otherwise. */
export const field = (name, fieldType, help, more) => ({
  name,
  fieldType,
  required: false,
  secret: false,
  placeholder: false,
  defaultValue: undefined,
  help,
  ...more,
});
