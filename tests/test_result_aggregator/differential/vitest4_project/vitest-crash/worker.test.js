// A file whose worker dies (as an out-of-memory kill ends it) while another file runs on.
import { describe, expect, it } from "vitest";

it("passes before", () => {
  expect(1).toBe(1);
});

describe("group", () => {
  it("kills its worker", () => {
    process.kill(process.pid, "SIGKILL");
  });

  it("never runs", () => {
    expect(1).toBe(1);
  });
});

it("never runs either", () => {
  expect(1).toBe(1);
});
