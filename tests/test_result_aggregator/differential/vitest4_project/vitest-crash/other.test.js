import { expect, it } from "vitest";

it("runs in another worker", () => {
  expect(1).toBe(1);
});
