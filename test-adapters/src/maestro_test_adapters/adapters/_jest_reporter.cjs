// Maestro's Jest progress reporter (Jest >= 29.6): one JSON line per test start, test result and
// test file that failed to run, appended to $MAESTRO_PROGRESS_FILE with one write(2) each, so a
// line is in the kernel the moment the test finishes and survives the runner being killed. The
// adapter turns every result line into a line of its JSONL report as soon as it reads it.
//
// jest.retryTimes runs a failed test again and reports every attempt: a failed attempt is held
// until the same test starts again (it was retried: an earlier attempt) or another test of the
// file starts or the file ends (it was final), so each test gives one result line.
"use strict";

const { appendFileSync } = require("node:fs");

const target = process.env.MAESTRO_PROGRESS_FILE;

function write(record) {
  if (target) {
    appendFileSync(target, JSON.stringify(record) + "\n");
  }
}

const STATES = {
  passed: "passed",
  failed: "failed",
  skipped: "skipped",
  pending: "skipped",
  todo: "skipped",
  disabled: "skipped",
};

function fullName(info) {
  return info.fullName || [...(info.ancestorTitles || []), info.title].join(" ");
}

function firstLine(text) {
  return String(text).split("\n")[0];
}

class MaestroJestReporter {
  constructor() {
    this.held = new Map(); // file -> { record, earlier: [messages] } of a failed attempt
    this.reported = new Set(); // ids with a result line
  }

  release(file) {
    const held = this.held.get(file);
    if (held) {
      this.held.delete(file);
      this.emit(held.record, held.earlier);
    }
  }

  emit(record, earlier) {
    this.reported.add(record.id);
    write({ ...record, retries: earlier.length, errors: earlier });
  }

  onTestCaseStart(test, info) {
    const id = `${test.path}::${fullName(info)}`;
    const held = this.held.get(test.path);
    let earlier = [];
    if (held && held.record.id === id) {
      this.held.delete(test.path); // retried: the held failure was an earlier attempt
      earlier = [...held.earlier, held.record.message];
    } else {
      this.release(test.path);
    }
    this.retrying = this.retrying || new Map();
    this.retrying.set(id, earlier);
    write({ event: "start", id, name: fullName(info), file: test.path });
  }

  onTestCaseResult(test, result) {
    const id = `${test.path}::${fullName(result)}`;
    const failures = result.failureMessages || [];
    const last = failures.length ? String(failures[failures.length - 1]) : null;
    const record = {
      event: "result",
      id,
      name: fullName(result),
      file: test.path,
      state: STATES[result.status] || String(result.status),
      start: result.startAt || null,
      duration: result.duration || 0,
      message: last ? firstLine(last) : null,
      stack: last,
    };
    const earlier = (this.retrying && this.retrying.get(id)) || [];
    if (record.state === "failed") {
      this.held.set(test.path, { record, earlier });
    } else {
      this.emit(record, earlier);
    }
  }

  onTestFileResult(test, testResult) {
    this.release(test.path);
    for (const result of testResult.testResults || []) {
      const id = `${test.path}::${fullName(result)}`;
      if (!this.reported.has(id)) {
        // skipped and todo tests have no onTestCaseResult
        this.emit(
          {
            event: "result",
            id,
            name: fullName(result),
            file: test.path,
            state: STATES[result.status] || String(result.status),
            start: null,
            duration: result.duration || 0,
            message: (result.failureMessages || []).length ? firstLine(result.failureMessages[0]) : null,
            stack: (result.failureMessages || []).length ? String(result.failureMessages[0]) : null,
          },
          [],
        );
      }
    }
    if (testResult.testExecError) {
      // a test file that could not run (syntax error, missing import): one failed result
      const error = testResult.testExecError;
      this.emit(
        {
          event: "result",
          kind: "module",
          id: `${test.path}:module`,
          name: test.path,
          file: test.path,
          state: "failed",
          start: null,
          duration: 0,
          message: firstLine(error.message || error),
          stack: String(error.stack || testResult.failureMessage || error.message || error),
        },
        [],
      );
    }
  }
}

module.exports = MaestroJestReporter;
