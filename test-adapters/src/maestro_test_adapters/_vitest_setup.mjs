// Maestro's Vitest setup file, added to every project's setupFiles by our progress reporter: the
// worker that runs a test writes the test's start to $MAESTRO_PROGRESS_FILE itself, synchronously,
// before the test's body runs. Vitest batches its own onTestCaseReady events to the main process,
// so a worker killed mid-test could otherwise take the start of the test in flight with it.
import { appendFileSync } from "node:fs";
import { beforeEach } from "vitest";

const target = process.env.MAESTRO_PROGRESS_FILE;

// the test's full name as Vitest's reporter API gives it: its describe blocks and its name, " > "
function fullName(task) {
  const names = [];
  for (let node = task; node && node.type !== undefined && node !== node.file; node = node.suite) {
    names.unshift(node.name);
  }
  return names.length ? names.join(" > ") : task.name;
}

if (target) {
  beforeEach((context) => {
    const task = context.task;
    appendFileSync(
      target,
      JSON.stringify({ event: "start", id: task.id, name: fullName(task), file: task.file ? task.file.filepath : null }) +
        "\n",
    );
  });
}
