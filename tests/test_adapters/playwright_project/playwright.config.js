// Playwright Test on the machine's own Chromium: the executable comes from $MAESTRO_CHROMIUM
// (default /usr/bin/chromium), so `npx playwright install` is never needed.
const { defineConfig } = require("@playwright/test");

const root = typeof process.getuid === "function" && process.getuid() === 0;

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
      args: ["--disable-gpu", "--disable-dev-shm-usage", ...(root ? ["--no-sandbox"] : [])],
    },
  },
  projects: [{ name: "chromium" }],
});
