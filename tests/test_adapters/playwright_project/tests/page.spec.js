const { test, expect } = require("@playwright/test");

test.describe("home page", () => {
  test("shows its heading", async ({ page }) => {
    await page.setContent("<h1>Maestro</h1>");
    await expect(page.locator("h1")).toHaveText("Maestro");
  });

  test("fails on purpose", async ({ page }) => {
    await page.setContent("<h1>Maestro</h1>");
    expect(await page.locator("h1").textContent()).toBe("Something else");
  });
});

test("is skipped", async () => {
  test.skip(true, "not on this platform");
});

test("passes on the second try", async ({ page }, testInfo) => {
  await page.setContent(`<p>${testInfo.retry}</p>`);
  expect(testInfo.retry).toBe(1);
});
