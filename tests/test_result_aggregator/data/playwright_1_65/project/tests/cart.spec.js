const { test, expect } = require("@playwright/test");
test("checkout", async ({}, testInfo) => {
  expect(testInfo.project.name, "the desktop layout hides the button").toBe("mobile");
});
test("add item", async ({}, testInfo) => {
  expect(testInfo.retry, "first attempt times out").toBe(1);
});
test("remove item", async () => {});
test.skip("coupon", async () => {});
