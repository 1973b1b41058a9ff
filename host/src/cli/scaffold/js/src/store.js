// What {{name}} knows of where it stores keys, as plain functions:
// `node --test` runs them natively (test/store.test.js), where the rekey
// imports do not exist.
import { providerError } from "./host.js";

/** The operator's settings; a missing one is a config error. */
export function settings(ctx) {
  const get = (list, key) => list.find((pair) => pair.key === key)?.value;
  const base = get(ctx.config, "base-url");
  const path = get(ctx.config, "path");
  if (!base || !path) {
    throw providerError("invalid-config", "base-url and path are required");
  }
  if (!path.startsWith("/")) {
    throw providerError("invalid-config", `path \`${path}\` must start with /`);
  }
  const admin = get(ctx.adminSecrets, "admin-token");
  if (!admin) {
    throw providerError("invalid-config", "the admin-token secret is required");
  }
  // `admin` is a placeholder, `{{secret:admin-token}}`, which the host
  // fills in on the way out, so the plugin never holds the real token.
  return { url: base.replace(/\/+$/, "") + path, admin };
}

/** Whether `stored` (none: nothing there) is `secret`, told without it. */
export function verdict(place, stored, secret) {
  if (stored === undefined) return { valid: false, detail: `nothing is stored at ${place.url}` };
  if (stored === secret) return { valid: true, detail: `${place.url} holds the key` };
  return { valid: false, detail: `${place.url} holds another value` };
}
