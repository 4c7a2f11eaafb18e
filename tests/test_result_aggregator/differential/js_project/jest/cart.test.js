// A small real Jest suite: passes, fails, skips, flakes (retried once) and reuses a title in two
// describe blocks (jest-junit writes both with the same name). FLAKY_STATE names a folder where
// the flaky test counts its attempts.
const fs = require("fs");
const path = require("path");

jest.retryTimes(1);

describe("cart", () => {
  test("adds an item", () => {
    expect(1 + 1).toBe(2);
  });
  test("applies a voucher", () => {
    expect(90).toBe(100);
  });
  test.skip("ships abroad", () => {});
  test("recovers from a slow stock service", () => {
    const counter = path.join(process.env.FLAKY_STATE, "jest-attempts");
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
