// How {{name}} makes a secret, as plain functions: `node --test` runs them
// natively (test/secret.test.js), where the rekey imports do not exist.

/** Bytes as lower-case hex. */
export const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/** The operator's `prefix` (at most 16 characters), or a config error. */
export function prefix(config) {
  const value = config.find((pair) => pair.key === "prefix")?.value ?? "";
  if (value.length > 16) {
    throw { tag: "invalid-config", val: `prefix is ${value.length} characters; at most 16` };
  }
  return value;
}
