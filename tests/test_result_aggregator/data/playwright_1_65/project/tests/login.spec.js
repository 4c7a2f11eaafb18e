const { test, expect } = require("@playwright/test");
test("sign in", async () => {});
test("sign out", async ({}, testInfo) => {
  expect(testInfo.retry, "session cookie race").toBe(1);
});
test("reset password", async () => {});
