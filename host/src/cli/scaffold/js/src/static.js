// {{name}}: a rekey provider for a static secret that rekey makes itself
// (the key is whatever the applications and the service are given).
// Build with `npm run build`, then check it with `rekey plugin test`.
import { log } from "rekey:provider/log@0.4.0";
import { getRandomBytes } from "wasi:random/random@0.2.12";
import { hex, prefix } from "./secret.js";

export const provider = {
  info() {
    return {
      name: "{{name}}",
      version: "0.1.0",
      description: "A random static secret",
      config: [
        {
          name: "prefix",
          fieldType: "text",
          required: false,
          secret: false,
          placeholder: false,
          defaultValue: undefined,
          help: "Text before the secret (at most 16 characters)",
        },
      ],
      capabilities: { concurrentKeys: true, reportsLastUse: false, idempotentGenerate: false, listsKeys: false },
      permissions: { httpHosts: [], tcp: [] },
    };
  },

  generate(ctx) {
    const secret = prefix(ctx.config) + hex(getRandomBytes(32n));
    const keyId = hex(getRandomBytes(8n));
    log("info", `made key ${keyId}`);
    return { keyId, secret, attributes: [], expiresAt: undefined };
  },

  verify(ctx, key) {
    // Nothing to ask: the key is valid if it is one this plugin could have made.
    const valid = key.secret.length >= 64;
    return { valid, detail: valid ? undefined : "not a key of this plugin", lastUsed: undefined };
  },

  revoke(ctx, key) {
    // Nothing holds the key but the applications, which have the new one.
  },

  listKeys(ctx) {
    throw { tag: "rejected", val: "this provider holds no keys" };
  },
};
