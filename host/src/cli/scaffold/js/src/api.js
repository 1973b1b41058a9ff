// What {{name}} knows of its key API, as plain functions: `node --test`
// runs them natively (test/api.test.js), where the rekey imports do not exist.
import { providerError } from "./host.js";

/** The operator's settings, with their defaults; a missing one is a config error. */
export function settings(ctx) {
  const get = (list, key) => list.find((pair) => pair.key === key)?.value;
  const base = get(ctx.config, "base-url");
  if (!base) {
    throw providerError("invalid-config", "base-url is required");
  }
  const admin = get(ctx.adminSecrets, "admin-token");
  if (!admin) {
    throw providerError("invalid-config", "the admin-token secret is required");
  }
  return {
    base: base.replace(/\/+$/, ""),
    keysPath: get(ctx.config, "keys-path") ?? "/keys",
    verifyPath: get(ctx.config, "verify-path") ?? "/me",
    // A placeholder: `{{secret:admin-token}}`, which the host fills in on
    // the way out, so the plugin never holds the real token.
    admin,
  };
}

/** The key in a create's answer: `{"id": "…", "secret": "…"}`. */
export function parseCreated(created) {
  for (const field of ["id", "secret"]) {
    if (typeof created?.[field] !== "string") {
      throw providerError("rejected", `the create answer has no string \`${field}\``);
    }
  }
  return { keyId: created.id, secret: created.secret, attributes: [], expiresAt: undefined };
}

/** The keys in a listing, each with the name `generate` gave it (which holds the rotation id). */
export function parseListed(listed) {
  if (!Array.isArray(listed)) {
    throw providerError("rejected", "the listing is not an array");
  }
  return listed
    .filter((key) => typeof key?.id === "string")
    .map((key) => ({
      keyId: key.id,
      tag: typeof key.name === "string" ? key.name : undefined,
      createdAt: Number.isInteger(key.created) ? BigInt(key.created) : undefined,
      lastUsed: undefined,
      attributes: [],
    }));
}
