// A Jest test file whose worker process dies (as an out-of-memory kill ends it), run next to a
// healthy file so Jest uses workers: Jest reports the file as failed to run.
test("before the crash", () => {
  expect(1).toBe(1);
});

test("dies", () => {
  process.kill(process.pid, "SIGKILL");
});
