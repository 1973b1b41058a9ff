// Unit tests of what the target knows of where it stores keys, run natively by `npm test`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { settings, verdict } from "../src/store.js";
import { errorFor } from "../src/host.js";

const ctx = (config, adminSecrets) => ({ rotationId: "r1", config, adminSecrets });
const pairs = (values) => Object.entries(values).map(([key, value]) => ({ key, value }));

test("settings need a base URL, a path and the admin token", () => {
  assert.throws(() => settings(ctx([], [])), { tag: "invalid-config" });
  const bad = pairs({ "base-url": "https://config.example.com", path: "no-slash" });
  assert.throws(() => settings(ctx(bad, pairs({ "admin-token": "t" }))), { tag: "invalid-config" });
  const good = pairs({ "base-url": "https://config.example.com/", path: "/apps/shop/api-key" });
  assert.equal(settings(ctx(good, pairs({ "admin-token": "t" }))).url, "https://config.example.com/apps/shop/api-key");
});

test("the verdict tells whether the key is stored, never the key", () => {
  const place = { url: "https://config.example.com/k" };
  assert.equal(verdict(place, "s3cret", "s3cret").valid, true);
  const other = verdict(place, "0ld-s3cret", "s3cret");
  assert.equal(other.valid, false);
  assert.ok(!other.detail.includes("s3cret"), other.detail);
  assert.equal(verdict(place, undefined, "s3cret").valid, false);
});

test("statuses map to the contract's errors", () => {
  assert.equal(errorFor("PUT", "u", 401).tag, "unauthorized");
  assert.equal(errorFor("PUT", "u", 503).tag, "unavailable");
  assert.equal(errorFor("PUT", "u", 400).tag, "rejected");
});
