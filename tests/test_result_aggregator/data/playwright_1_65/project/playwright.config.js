// Two projects, one retry; no test opens a browser (testInfo only), so no browser is needed.
const { defineConfig } = require("@playwright/test");
module.exports = defineConfig({
  testDir: "tests",
  workers: 1,
  retries: 1,
  projects: [{ name: "desktop" }, { name: "mobile" }],
});
