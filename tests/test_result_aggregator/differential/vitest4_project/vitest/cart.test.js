// A small real Vitest suite: passes, fails, skips, flakes (retry: 1) and reuses a title in two
// describe blocks. FLAKY_STATE names a folder where the flaky test counts its attempts.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, test } from "vitest";

describe("cart", () => {
  test("adds an item", () => {
    expect(1 + 1).toBe(2);
  });
  test("applies a voucher", () => {
    expect(90).toBe(100);
  });
  test.skip("ships abroad", () => {});
  test("recovers from a slow stock service", { retry: 1 }, () => {
    const counter = path.join(process.env.FLAKY_STATE, "vitest-attempts");
    const attempts = fs.existsSync(counter) ? Number(fs.readFileSync(counter, "utf8")) + 1 : 1;
    fs.writeFileSync(counter, String(attempts));
    expect(attempts).toBeGreaterThan(1);
  });
  test("totals", () => {
    expect(2).toBe(2);
  });
});

describe("orders", () => {
  test("totals", () => {
    expect(3).toBe(4);
  });
});
