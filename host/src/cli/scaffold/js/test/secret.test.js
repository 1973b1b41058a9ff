// Unit tests of how the secret is made, run natively by `npm test`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { hex, prefix } from "../src/secret.js";

test("bytes become lower-case hex", () => {
  assert.equal(hex(new Uint8Array([0, 15, 255])), "000fff");
});

test("the prefix is optional", () => {
  assert.equal(prefix([]), "");
  assert.equal(prefix([{ key: "prefix", value: "sk_" }]), "sk_");
});

test("a long prefix is a config error", () => {
  assert.throws(() => prefix([{ key: "prefix", value: "x".repeat(17) }]), { tag: "invalid-config" });
});
