// The same title in two describe blocks: two different tests.
describe("guest", () => {
  test("adds an item", () => {
    expect(1 + 1).toBe(2);
  });
});
describe("member", () => {
  test("adds an item", () => {
    expect("member cart").toBe("full"); // fails
  });
});
test("", () => {}); // a nameless test
