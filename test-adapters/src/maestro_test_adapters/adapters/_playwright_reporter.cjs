// Maestro's Playwright Test progress reporter: one JSON line per test start and per final test
// result, appended to $MAESTRO_PROGRESS_FILE with one write(2) each, so a line is in the kernel the
// moment the test finishes and survives the runner being killed. The adapter turns every result
// line into a line of its JSONL report as soon as it reads it.
//
// Playwright retries a failed test (`retries` in the config) and tells the reporter of every
// attempt: an attempt that failed and will be retried is held, and the final attempt's line carries
// the earlier attempts' messages, so each test gives one result line with all its attempts.
"use strict";

const { appendFileSync } = require("node:fs");

const target = process.env.MAESTRO_PROGRESS_FILE;

function write(record) {
  if (target) {
    appendFileSync(target, JSON.stringify(record) + "\n");
  }
}

function firstLine(text) {
  return String(text).split("\n")[0];
}

function stripAnsi(text) {
  return String(text).replace(/\u001b\[[0-9;]*m/g, "");
}

function output(chunks) {
  const text = (chunks || []).map((chunk) => chunk.toString()).join("");
  return text || null;
}

function attachments(result) {
  return (result.attachments || [])
    .filter((a) => a.path)
    .map((a) => ({ name: a.name, contentType: a.contentType, path: a.path }));
}

// titlePath() is ['', project, file, ...describes, title]; the JSON reporter names suites the same
function identity(test) {
  const path = test.titlePath();
  const project = path[1] || "";
  const suite = path.slice(2, -1);
  return { id: `${project}::${suite.join(" › ")}::${test.title}`, project, suite };
}

class MaestroPlaywrightReporter {
  constructor() {
    this.earlier = new Map(); // id -> messages of failed attempts that were retried
    this.errors = 0;
  }

  printsToStdio() {
    return false;
  }

  onTestBegin(test) {
    const { id, project, suite } = identity(test);
    write({ event: "start", id, name: test.title, file: test.location.file, suite, project });
  }

  onTestEnd(test, result) {
    const { id, project, suite } = identity(test);
    const error = (result.errors || [])[0] || result.error;
    const message = error ? stripAnsi(error.message || error.value || "error") : null;
    const failed = result.status !== "skipped" && result.status !== test.expectedStatus;
    if (failed && result.retry < test.retries) {
      const attempt = {
        raw: result.status,
        duration: result.duration || 0,
        message: message ? firstLine(message) : null,
        stack: error ? stripAnsi(error.stack || message) : null,
        attachments: attachments(result),
      };
      this.earlier.set(id, [...(this.earlier.get(id) || []), attempt]);
      return; // Playwright runs it again: this attempt is an earlier one
    }
    const earlier = this.earlier.get(id) || [];
    this.earlier.delete(id);
    // judged against the expected status: test.fail() that fails passes (raw "failed"), and
    // one that passes fails (raw "passed"); timedOut and interrupted are failures
    const state = result.status === "skipped" ? "skipped" : failed ? "failed" : "passed";
    write({
      event: "result",
      id,
      name: test.title,
      file: test.location.file,
      line: test.location.line,
      suite,
      project,
      state,
      raw: result.status,
      start: result.startTime ? result.startTime.getTime() : null,
      duration: result.duration || 0,
      message: message ? firstLine(message) : null,
      stack: error ? stripAnsi(error.stack || message) : null,
      tags: test.tags || [],
      stdout: output(result.stdout),
      stderr: output(result.stderr),
      attachments: attachments(result),
      retries: earlier.length,
      errors: earlier,
    });
  }

  onError(error) {
    // an error outside any test (a spec file that fails to load, a broken config)
    this.errors += 1;
    const file = error.location ? error.location.file : null;
    const message = stripAnsi(error.message || error.value || "error");
    write({
      event: "result",
      kind: "module",
      id: `error:${this.errors}:${file || ""}`,
      name: file || "playwright",
      file,
      suite: [],
      state: "failed",
      start: null,
      duration: 0,
      message: firstLine(message),
      stack: stripAnsi(error.stack || message),
      retries: 0,
      errors: [],
    });
  }
}

module.exports = MaestroPlaywrightReporter;
