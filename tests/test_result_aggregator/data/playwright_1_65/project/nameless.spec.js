const { test } = require("@playwright/test");
test.describe("cart", () => {
  test("", async () => {});
});
