// Maestro's Vitest progress reporter (Vitest >= 3): one JSON line per test start, test result and
// module (file) error, appended to $MAESTRO_PROGRESS_FILE with one write(2) each, so a line is in
// the kernel the moment the test finishes and survives the runner being killed. The adapter
// turns every result line into a line of its JSONL report as soon as it reads it (every 50 ms);
// the JUnit report written at the end only adds what these lines did not carry.
import { appendFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const target = process.env.MAESTRO_PROGRESS_FILE;
// the worker-side half: writes each test's start from the worker that runs it (see the file)
const setupFile = fileURLToPath(new URL("./_vitest_setup.mjs", import.meta.url));

function write(record) {
  if (target) {
    appendFileSync(target, JSON.stringify(record) + "\n");
  }
}

function describe(testCase) {
  return { id: testCase.id, name: testCase.fullName, file: testCase.module.moduleId };
}

function trace(error) {
  if (!error) {
    return null;
  }
  const parts = [error.stack || error.message].filter(Boolean).map(String);
  if (error.diff) {
    parts.push(String(error.diff));
  }
  return parts.length ? parts.join("\n\n") : null;
}

export default class MaestroProgressReporter {
  // Vitest batches onTestCaseReady: a worker killed mid-test may never send the start of the test
  // it was running. Our setup file makes the worker write it first (the config is serialised to
  // the workers after onInit, so adding it here reaches them).
  onInit(vitest) {
    if (!target) {
      return;
    }
    for (const project of vitest.projects || []) {
      const files = project.config && project.config.setupFiles;
      if (Array.isArray(files) && !files.includes(setupFile)) {
        files.unshift(setupFile);
      }
    }
  }

  onTestCaseReady(testCase) {
    write({ event: "start", ...describe(testCase) });
  }

  onTestCaseResult(testCase) {
    const result = testCase.result();
    const diagnostic = testCase.diagnostic();
    const errors = (result && result.errors) || [];
    const last = errors.length ? errors[errors.length - 1] : null;
    write({
      event: "result",
      ...describe(testCase),
      state: result ? result.state : "pending",
      start: diagnostic ? diagnostic.startTime : null,
      duration: diagnostic ? diagnostic.duration : 0,
      retries: diagnostic ? diagnostic.retryCount : 0,
      flaky: diagnostic ? Boolean(diagnostic.flaky) : false,
      message: last ? String(last.message) : null,
      stack: trace(last),
      errors: errors.map((error) => String(error.message)),
    });
  }

  onTestModuleCollected(testModule) {
    this.reportModuleErrors(testModule);
  }

  onTestModuleEnd(testModule) {
    this.reportModuleErrors(testModule);
  }

  onTestRunEnd(testModules, unhandledErrors) {
    for (const testModule of testModules || []) {
      this.reportModuleErrors(testModule);
    }
    if (unhandledErrors && unhandledErrors.length) {
      write({
        event: "result",
        kind: "unhandled",
        id: "maestro:unhandled-errors",
        name: "unhandled errors",
        file: null,
        state: "failed",
        duration: 0,
        retries: 0,
        message: unhandledErrors.map((error) => String((error && error.message) || error)).join("; "),
        stack: trace(unhandledErrors[0]),
        errors: [],
      });
    }
  }

  // A file that fails to load (syntax error, missing import) has no test cases: report it once,
  // as a failed result named after the file, as Vitest's JUnit reporter does.
  reportModuleErrors(testModule) {
    this.reported = this.reported || new Set();
    const errors = typeof testModule.errors === "function" ? testModule.errors() : [];
    if (!errors.length || this.reported.has(testModule.id)) {
      return;
    }
    this.reported.add(testModule.id);
    write({
      event: "result",
      kind: "module",
      id: `${testModule.id}:module`,
      name: testModule.moduleId,
      file: testModule.moduleId,
      state: "failed",
      duration: 0,
      retries: 0,
      message: errors.map((error) => String(error.message)).join("; "),
      stack: trace(errors[0]),
      errors: [],
    });
  }
}
