// {{name}}: a rekey provider for a key API over HTTP.
//
// The API this template speaks (change it to yours):
// - `POST {base-url}{keys-path}` with the admin token, body
//   `{"name": "rekey <rotation id>"}`, answers `{"id": "…", "secret": "…"}`;
// - `GET {base-url}{verify-path}` with the key as bearer token answers 200
//   when the key works, 401 or 403 when it does not;
// - `DELETE {base-url}{keys-path}/<id>` with the admin token (404: gone);
// - `GET {base-url}{keys-path}` with the admin token lists the keys:
//   `[{"id": "…", "name": "…"}]`.
//
// Build with `npm run build`, then check it against the real API with
// `rekey plugin test`.
import { log } from "rekey:provider/log@0.4.0";
import { parseCreated, parseListed, settings } from "./api.js";
import { errorFor, field, providerError, send } from "./host.js";

/** The answer's JSON, or the provider-error for its status. */
async function json(method, url, response) {
  if (!response.ok) throw errorFor(method, url, response.status);
  return response.json();
}

export const provider = {
  info() {
    return {
      name: "{{name}}",
      version: "0.1.0",
      description: "API keys of a service with a key API over HTTP",
      config: [
        field("base-url", "url", "Base URL of the API, e.g. https://api.example.com", { required: true }),
        field("keys-path", "text", "Path of the keys collection", { defaultValue: "/keys" }),
        field("verify-path", "text", "Path that answers 200 to a working key", { defaultValue: "/me" }),
        // A placeholder never enters the sandbox: see settings().
        field("admin-token", "text", "Token allowed to create and delete keys", {
          required: true,
          secret: true,
          placeholder: true,
        }),
      ],
      capabilities: { concurrentKeys: true, reportsLastUse: false, idempotentGenerate: false, listsKeys: true },
      permissions: { httpHosts: ["{base-url}"], tcp: [] },
    };
  },

  async generate(ctx) {
    const api = settings(ctx);
    const url = api.base + api.keysPath;
    const created = parseCreated(await json("POST", url, await send("POST", url, api.admin, JSON.stringify({ name: `rekey ${ctx.rotationId}` }))));
    log("info", `created key ${created.keyId}`);
    return created;
  },

  async verify(ctx, key) {
    const api = settings(ctx);
    const url = api.base + api.verifyPath;
    const { status } = await send("GET", url, key.secret);
    if (status >= 200 && status < 300) return { valid: true, detail: undefined, lastUsed: undefined };
    if (status === 401 || status === 403) return { valid: false, detail: `the API answered ${status}`, lastUsed: undefined };
    throw providerError("unavailable", `verify answered ${status}`);
  },

  async revoke(ctx, key) {
    const api = settings(ctx);
    const url = `${api.base}${api.keysPath}/${encodeURIComponent(key.keyId)}`;
    const response = await send("DELETE", url, api.admin);
    // Already gone: revoking twice is not an error.
    if (!response.ok && response.status !== 404) throw errorFor("DELETE", url, response.status);
  },

  async listKeys(ctx) {
    const api = settings(ctx);
    const url = api.base + api.keysPath;
    return parseListed(await json("GET", url, await send("GET", url, api.admin)));
  },
};
