// playwright.config.js: Playwright Test on the machine's own Chromium, offline.
// The executable comes from $MAESTRO_CHROMIUM (default /usr/bin/chromium): no `npx playwright install`.
// The flags are maestro-test-adapters' chromium_args(): passed in $MAESTRO_CHROMIUM_ARGS when the
// frontend adapter runs this config, otherwise asked of `maestro-test chromium-args`.
const { execFileSync } = require("node:child_process");
const { defineConfig } = require("@playwright/test");

const chromiumArgs = JSON.parse(
  process.env.MAESTRO_CHROMIUM_ARGS || execFileSync("maestro-test", ["chromium-args"], { encoding: "utf8" }),
);

module.exports = defineConfig({
  testDir: "tests",
  workers: 1,
  retries: 1,
  reporter: "list",
  use: {
    headless: true,
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.MAESTRO_CHROMIUM || "/usr/bin/chromium",
      args: chromiumArgs,
    },
  },
  projects: [{ name: "chromium" }],
});
