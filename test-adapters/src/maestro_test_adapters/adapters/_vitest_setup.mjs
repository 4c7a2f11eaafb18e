// Maestro's Vitest setup file, added to every project's setupFiles by our progress reporter. The
// worker that runs a test writes to $MAESTRO_PROGRESS_FILE itself, synchronously:
// - each test's start, before the test's body runs;
// - each finished test's final state, when the next test of its file starts and when the file ends.
// Vitest batches its workers' events to the main process (and its throttle can hold them until the
// next event), so a worker killed mid-test could otherwise take with it the start of the test in
// flight and the results of the tests that finished just before it.
import { appendFileSync } from "node:fs";
import { afterAll, beforeEach } from "vitest";

const target = process.env.MAESTRO_PROGRESS_FILE;
const STATES = { pass: "passed", fail: "failed", skip: "skipped" };
const written = new Set();

function write(record) {
  appendFileSync(target, JSON.stringify(record) + "\n");
}

// the test's full name as Vitest's reporter API gives it: its describe blocks and its name, " > "
function fullName(task) {
  const names = [];
  for (let node = task; node && node.type !== undefined && node !== node.file; node = node.suite) {
    names.unshift(node.name);
  }
  return names.length ? names.join(" > ") : task.name;
}

function* testsOf(suite) {
  for (const task of (suite && suite.tasks) || []) {
    if (task.type === "test") {
      yield task;
    } else {
      yield* testsOf(task);
    }
  }
}

// Vitest sets a test's duration once its last attempt is over (retries, `fails` flipped): the
// tests of `file` with a duration and a final state are finished, whatever the main process heard.
function writeFinished(file) {
  for (const test of testsOf(file)) {
    const result = test.result;
    if (written.has(test.id) || !result || typeof result.duration !== "number" || !STATES[result.state]) {
      continue;
    }
    written.add(test.id);
    const errors = result.errors || [];
    const last = errors.length ? errors[errors.length - 1] : null;
    write({
      event: "finished",
      id: test.id,
      name: fullName(test),
      file: file.filepath,
      state: STATES[result.state],
      start: result.startTime ?? null,
      duration: result.duration,
      retries: result.retryCount ?? 0,
      message: last ? String(last.message) : null,
      stack: last ? String(last.stack || last.message) : null,
      errors: errors.map((error) => String(error.message)),
    });
  }
}

if (target) {
  beforeEach((context) => {
    const task = context.task;
    if (task.file) {
      writeFinished(task.file);
    }
    write({ event: "start", id: task.id, name: fullName(task), file: task.file ? task.file.filepath : null });
  });
  afterAll((suite) => {
    writeFinished(suite && suite.file ? suite.file : suite);
  });
}
