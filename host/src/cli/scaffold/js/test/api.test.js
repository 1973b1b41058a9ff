// Unit tests of what the provider knows of its API, run natively by `npm test`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseCreated, parseListed, settings } from "../src/api.js";
import { errorFor } from "../src/host.js";

const ctx = (config, adminSecrets) => ({ rotationId: "r1", config, adminSecrets });

test("a create answer gives the key", () => {
  const key = parseCreated({ id: "k1", secret: "s3cret" });
  assert.equal(key.keyId, "k1");
  assert.equal(key.secret, "s3cret");
});

test("a create answer without a secret is refused", () => {
  assert.throws(() => parseCreated({ id: "k1" }), { tag: "rejected" });
});

test("a listing keeps each key's name as its tag", () => {
  const keys = parseListed([{ id: "k1", name: "rekey r1", created: 5 }, { name: "no id" }]);
  assert.deepEqual(keys.map((k) => [k.keyId, k.tag, k.createdAt]), [["k1", "rekey r1", 5n]]);
});

test("statuses map to the contract's errors", () => {
  assert.equal(errorFor("GET", "u", 401).tag, "unauthorized");
  assert.equal(errorFor("GET", "u", 404).tag, "not-found");
  assert.equal(errorFor("GET", "u", 429).tag, "rate-limited");
  assert.equal(errorFor("GET", "u", 503).tag, "unavailable");
  assert.equal(errorFor("GET", "u", 400).tag, "rejected");
});

test("settings need a base URL and take the documented defaults", () => {
  assert.throws(() => settings(ctx([], [])), { tag: "invalid-config" });
  const api = settings(ctx([{ key: "base-url", value: "https://api.example.com/" }], [{ key: "admin-token", value: "t" }]));
  assert.deepEqual([api.base, api.keysPath, api.verifyPath], ["https://api.example.com", "/keys", "/me"]);
});
