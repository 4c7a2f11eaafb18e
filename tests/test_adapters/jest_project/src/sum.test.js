const sum = (a, b) => a + b;

describe("sum", () => {
  it("adds numbers", () => {
    expect(sum(1, 2)).toBe(3);
  });

  it("fails on purpose", () => {
    expect(sum(2, 2)).toBe(5);
  });

  it.skip("is skipped", () => {
    expect(true).toBe(false);
  });
});

it("works at the top level", () => {
  expect(sum(0, 0)).toBe(0);
});
