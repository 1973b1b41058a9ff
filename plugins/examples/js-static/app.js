// A static-secret provider in JavaScript: generate draws random bytes from
// the host. Built with componentize-js (see README.md).
import { log } from "rekey:provider/log@0.4.0";
import { getRandomBytes } from "wasi:random/random@0.2.12";

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/** The operator's `prefix`, checked: a bad one is an uncaught error, which the operator sees. */
function prefix(ctx) {
  const value = ctx.config.find((p) => p.key === "prefix")?.value ?? "";
  if (value.length > 16) {
    throw new Error(`prefix is ${value.length} characters; at most 16`);
  }
  return value;
}

export const provider = {
  info() {
    return {
      name: "js-static",
      version: "0.1.0",
      description: "A random static secret, from JavaScript",
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
    const secret = prefix(ctx) + hex(getRandomBytes(24n));
    console.log(`rotation ${ctx.rotationId}: drawing 24 random bytes`);
    log("info", `made a key for ${ctx.rotationId}`);
    return { keyId: "js-" + hex(getRandomBytes(6n)), secret, attributes: [], expiresAt: undefined };
  },

  verify(ctx, credential) {
    return { valid: credential.secret.length >= 48, detail: undefined, lastUsed: undefined };
  },

  revoke(ctx, credential) {},

  listKeys(ctx) {
    // A provider-error is thrown as its variant: { tag, val }.
    throw { tag: "rejected", val: "this provider holds no keys" };
  },
};
