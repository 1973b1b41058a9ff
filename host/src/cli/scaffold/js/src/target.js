// {{name}}: a rekey deploy target that stores each new key in an HTTP API.
//
// The API this template speaks (change it to yours):
// - `PUT {base-url}{path}` with the admin token and the key as the body
//   stores it (writing the same value again is harmless);
// - `GET {base-url}{path}` answers what is stored;
// - `DELETE {base-url}{path}` removes it (404: nothing there).
//
// `check` compares what is stored with the key inside the sandbox, so no
// secret goes back to the host; `restore` puts the previous key back in a
// rollback, or removes the value when there was none. Build with
// `npm run build`, then check it against the real API with `rekey plugin test`.
import { log } from "rekey:provider/log@0.4.0";
import { verdict, settings } from "./store.js";
import { errorFor, field, send } from "./host.js";

/** Stores `value` at the configured place. */
async function put(place, value) {
  const response = await send("PUT", place.url, place.admin, value, "text/plain");
  if (!response.ok) throw errorFor("PUT", place.url, response.status);
}

export const destination = {
  info() {
    return {
      name: "{{name}}",
      version: "0.1.0",
      description: "Stores each new key in an HTTP API",
      config: [
        field("base-url", "url", "Base URL of the API, e.g. https://config.example.com", { required: true }),
        field("path", "text", "Where the key is stored, e.g. /apps/shop/api-key", { required: true }),
        // A placeholder never enters the sandbox: see settings().
        field("admin-token", "text", "Token allowed to write the value", {
          required: true,
          secret: true,
          placeholder: true,
        }),
      ],
      permissions: { httpHosts: ["{base-url}"], tcp: [] },
      // No staging: the application reads the new key once it is written.
      stagesKeys: false,
    };
  },

  async write(ctx, key, _staged) {
    const place = settings(ctx);
    await put(place, key.secret);
    log("info", `wrote key ${key.keyId} to ${place.url}`);
    return { location: place.url, revision: undefined };
  },

  async check(ctx, key, _staged) {
    const place = settings(ctx);
    const response = await send("GET", place.url, place.admin);
    if (!response.ok && response.status !== 404) throw errorFor("GET", place.url, response.status);
    const stored = response.ok ? await response.text() : undefined;
    return { ...verdict(place, stored, key.secret), lastUsed: undefined };
  },

  promote(_ctx, _key) {
    // Not called: the target does not stage keys.
  },

  async restore(ctx, previous) {
    const place = settings(ctx);
    if (previous !== undefined) return put(place, previous.secret);
    // Nothing was there before: remove what the rotation wrote.
    const response = await send("DELETE", place.url, place.admin);
    if (!response.ok && response.status !== 404) throw errorFor("DELETE", place.url, response.status);
  },
};
