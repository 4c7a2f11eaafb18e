// Maestro's Vitest progress reporter (Vitest >= 3): one JSON line per test start and result,
// appended (and so flushed) to $MAESTRO_PROGRESS_FILE as the run goes on. The JUnit report
// written at the end stays the source of truth; these lines give live progress and keep every
// finished result when the runner hangs or crashes before writing its report.
import { appendFileSync } from "node:fs";

const target = process.env.MAESTRO_PROGRESS_FILE;

function write(record) {
  if (target) {
    appendFileSync(target, JSON.stringify(record) + "\n");
  }
}

function describe(testCase) {
  return { id: testCase.id, name: testCase.fullName, file: testCase.module.moduleId };
}

export default class MaestroProgressReporter {
  onTestCaseReady(testCase) {
    write({ event: "start", ...describe(testCase) });
  }

  onTestCaseResult(testCase) {
    const result = testCase.result();
    const diagnostic = testCase.diagnostic();
    const errors = (result && result.errors) || [];
    write({
      event: "result",
      ...describe(testCase),
      state: result ? result.state : "pending",
      duration: diagnostic ? diagnostic.duration : 0,
      retries: diagnostic ? diagnostic.retryCount : 0,
      message: errors.length ? String(errors[0].message) : null,
      stack: errors.length && errors[0].stack ? String(errors[0].stack) : null,
    });
  }
}
