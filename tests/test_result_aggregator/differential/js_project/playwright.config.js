// Two projects and one retry on the system Chromium (MAESTRO_CHROMIUM, else /usr/bin/chromium;
// its flags as a JSON list in MAESTRO_CHROMIUM_ARGS): nothing downloads a browser. Report paths
// come from PLAYWRIGHT_JUNIT_OUTPUT_FILE / PLAYWRIGHT_JSON_OUTPUT_FILE, test output from
// MAESTRO_OUTPUT_DIR, so the installed project folder stays as installed.
const { defineConfig } = require("@playwright/test");

const args = process.env.MAESTRO_CHROMIUM_ARGS
  ? JSON.parse(process.env.MAESTRO_CHROMIUM_ARGS)
  : ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-dev-shm-usage"];

module.exports = defineConfig({
  testDir: "./playwright",
  outputDir: process.env.MAESTRO_OUTPUT_DIR || "test-results",
  retries: 1,
  workers: 1,
  reporter: [["list"], ["junit"], ["json"]],
  use: { launchOptions: { executablePath: process.env.MAESTRO_CHROMIUM || "/usr/bin/chromium", args } },
  projects: [
    { name: "desktop", use: { viewport: { width: 1280, height: 720 } } },
    { name: "mobile", use: { viewport: { width: 390, height: 844 } } },
  ],
});
