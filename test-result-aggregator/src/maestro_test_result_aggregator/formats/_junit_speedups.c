/* Optional C accelerator of the fast JUnit reader (_junit_fast.py): reads a run of consecutive
 * childless <testcase .../> elements (the passing tests that make up most of a JUnit file) and
 * builds their results (build_testcases) or returns their attribute values (scan_testcases, for
 * tests), so the Python tokenizer spends one call on a run instead of one regular-expression
 * match and a Python dispatch per test. Conversions are Python's own (float() and int() of the
 * attribute text, through the reader's caches); a test whose time or line those refuse, or that
 * has a timestamp, ends the run and is read by the Python code.
 *
 * It accepts exactly what the master pattern's "fixed"/"any" testcase alternatives accept
 * (whitespace, "<testcase", attributes among name/classname/time/file/line/timestamp written
 * name="value" with a value needing no normalisation of at most FIELD_LIMIT characters, each at
 * most once, then "/>" or "></testcase>" with optional whitespace between) and stops at the first element it does not
 * accept: the Python tokenizer then reads that element itself. It never reads past the end of
 * the buffer (every index is checked against the length), keeps no state, and builds only
 * strings, tuples and a list. A differential property test compares it with the pattern.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define N_FIELDS 6

/* model.DEFAULT_OUTPUT_LIMIT: the longest attribute value taken here (the pattern's value class
 * has the same bound); a longer one ends the run and the Python reader cuts it to this length. */
#define FIELD_LIMIT 65536

static const char *FIELD_NAMES[N_FIELDS] = {"name", "classname", "time", "file", "line", "timestamp"};
static const Py_ssize_t FIELD_LENGTHS[N_FIELDS] = {4, 9, 4, 4, 4, 9};

static inline int is_space(Py_UCS4 c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* A character of an attribute value that needs no normalisation and no reference: legal XML
 * characters from the space on, except '"', '&' and '<' (the pattern's value class). */
static inline int is_plain_value(Py_UCS4 c) {
    if (c < 0x20 || c == '"' || c == '&' || c == '<') {
        return 0;
    }
    if (c < 0xD800) {
        return 1;
    }
    if (c < 0xE000) {
        return 0; /* surrogates */
    }
    return c != 0xFFFE && c != 0xFFFF;
}

/* Does the text at `at` spell `word` (ASCII) within `length`? */
static int spells(int kind, const void *data, Py_ssize_t length, Py_ssize_t at, const char *word, Py_ssize_t n) {
    if (at < 0 || n > length - at) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (PyUnicode_READ(kind, data, at + i) != (Py_UCS4)(unsigned char)word[i]) {
            return 0;
        }
    }
    return 1;
}

/* Parse one testcase at `at`. On success store the value spans in starts/ends (-1 when absent)
 * and return the position after the element; return -1 when the element is not accepted. */
static Py_ssize_t parse_one(int kind, const void *data, Py_ssize_t length, Py_ssize_t at, Py_ssize_t *starts,
                            Py_ssize_t *ends) {
    Py_ssize_t i = at;
    for (int f = 0; f < N_FIELDS; f++) {
        starts[f] = -1;
        ends[f] = -1;
    }
    while (i < length && is_space(PyUnicode_READ(kind, data, i))) {
        i++;
    }
    if (!spells(kind, data, length, i, "<testcase", 9)) {
        return -1;
    }
    i += 9;
    for (;;) {
        Py_ssize_t j = i;
        while (j < length && is_space(PyUnicode_READ(kind, data, j))) {
            j++;
        }
        if (j == i) {
            break; /* no whitespace: no further attribute */
        }
        int field = -1;
        for (int f = 0; f < N_FIELDS; f++) {
            Py_ssize_t n = FIELD_LENGTHS[f];
            if (spells(kind, data, length, j, FIELD_NAMES[f], n) && spells(kind, data, length, j + n, "=\"", 2)) {
                field = f;
                break;
            }
        }
        if (field < 0) {
            i = j; /* whitespace before the end of the tag (or an attribute we do not read) */
            break;
        }
        if (starts[field] >= 0) {
            return -1; /* a duplicate attribute: the Python reader reports it */
        }
        Py_ssize_t v = j + FIELD_LENGTHS[field] + 2;
        Py_ssize_t e = v;
        while (e < length && e - v <= FIELD_LIMIT && is_plain_value(PyUnicode_READ(kind, data, e))) {
            e++;
        }
        if (e - v > FIELD_LIMIT || e >= length || PyUnicode_READ(kind, data, e) != '"') {
            return -1; /* a value needing normalisation or a reference, or the buffer's end */
        }
        starts[field] = v;
        ends[field] = e;
        i = e + 1;
    }
    if (spells(kind, data, length, i, "/>", 2)) {
        return i + 2;
    }
    if (i >= length || PyUnicode_READ(kind, data, i) != '>') {
        return -1;
    }
    i++;
    while (i < length && is_space(PyUnicode_READ(kind, data, i))) {
        i++;
    }
    if (!spells(kind, data, length, i, "</testcase>", 11)) {
        return -1;
    }
    return i + 11;
}

/* The position argument, checked against the buffer; -1 with an exception set when invalid. */
static Py_ssize_t position_in(PyObject *buffer, PyObject *argument) {
    Py_ssize_t position = PyLong_AsSsize_t(argument);
    if (position == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (position < 0 || position > PyUnicode_GET_LENGTH(buffer)) {
        PyErr_SetString(PyExc_ValueError, "position is outside the buffer");
        return -1;
    }
    return position;
}

static PyObject *scan_testcases(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 2 || !PyUnicode_Check(args[0]) || !PyLong_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "scan_testcases(buffer: str, position: int)");
        return NULL;
    }
    PyObject *buffer = args[0];
    Py_ssize_t position = position_in(buffer, args[1]);
    if (position < 0) {
        return NULL;
    }
    Py_ssize_t length = PyUnicode_GET_LENGTH(buffer);
    int kind = PyUnicode_KIND(buffer);
    const void *data = PyUnicode_DATA(buffer);
    PyObject *cases = PyList_New(0);
    if (cases == NULL) {
        return NULL;
    }
    Py_ssize_t starts[N_FIELDS], ends[N_FIELDS];
    for (;;) {
        Py_ssize_t next = parse_one(kind, data, length, position, starts, ends);
        if (next < 0) {
            break;
        }
        PyObject *values = PyTuple_New(N_FIELDS);
        if (values == NULL) {
            Py_DECREF(cases);
            return NULL;
        }
        for (int f = 0; f < N_FIELDS; f++) {
            PyObject *value;
            if (starts[f] < 0) {
                value = Py_NewRef(Py_None);
            } else {
                value = PyUnicode_Substring(buffer, starts[f], ends[f]);
                if (value == NULL) {
                    Py_DECREF(values);
                    Py_DECREF(cases);
                    return NULL;
                }
            }
            PyTuple_SET_ITEM(values, f, value);
        }
        int failed = PyList_Append(cases, values);
        Py_DECREF(values);
        if (failed) {
            Py_DECREF(cases);
            return NULL;
        }
        position = next;
    }
    return Py_BuildValue("(Nn)", cases, position);
}

enum { NAME, CLASSNAME, TIME, FILE_, LINE, TIMESTAMP };

/* The string between starts[f] and ends[f] of `buffer`, or a new reference to None. */
static PyObject *value_of(PyObject *buffer, const Py_ssize_t *starts, const Py_ssize_t *ends, int f) {
    if (starts[f] < 0) {
        return Py_NewRef(Py_None);
    }
    return PyUnicode_Substring(buffer, starts[f], ends[f]);
}

/* A class or file name shared through `strings` (one object per distinct name), the previous
 * test's object when equal (most are); None stays None. Returns a new reference. */
static PyObject *shared(PyObject *value, PyObject **last, PyObject *strings) {
    if (value == Py_None) {
        return value;
    }
    if (*last != NULL && *last != Py_None && PyUnicode_Compare(value, *last) == 0) {
        Py_DECREF(value);
        return Py_NewRef(*last);
    }
    if (PyErr_Occurred()) {
        Py_DECREF(value);
        return NULL;
    }
    PyObject *kept = PyDict_SetDefault(strings, value, value); /* borrowed */
    Py_DECREF(value);
    if (kept == NULL) {
        return NULL;
    }
    *last = kept;
    return Py_NewRef(kept);
}

/* formats._values.MAX_SECONDS: a longer (or non-finite) duration is read as 0.0. */
#define MAX_SECONDS 1e12

/* The duration of `time` (None when absent) as the Python reader computes it, through the
 * `times` cache; NULL without an exception when float() refuses it or it is out of range (the
 * caller stops there). */
static PyObject *duration_of(PyObject *time, PyObject *times) {
    PyObject *known = PyDict_GetItemWithError(times, time); /* borrowed */
    if (known != NULL) {
        return Py_NewRef(known);
    }
    if (PyErr_Occurred()) {
        return NULL;
    }
    PyObject *duration;
    if (time == Py_None || PyUnicode_GET_LENGTH(time) == 0) {
        duration = PyFloat_FromDouble(0.0);
    } else {
        duration = PyFloat_FromString(time);
        if (duration == NULL) {
            if (PyErr_ExceptionMatches(PyExc_ValueError)) {
                PyErr_Clear(); /* not a plain number: the Python reader parses it */
            }
            return NULL;
        }
        double seconds = PyFloat_AS_DOUBLE(duration);
        if (!(seconds >= -MAX_SECONDS && seconds <= MAX_SECONDS)) {
            Py_DECREF(duration); /* nan, inf or absurd: the Python reader makes it 0.0 */
            return NULL;
        }
    }
    if (PyDict_GET_SIZE(times) < 65536 && PyDict_SetItem(times, time, duration) < 0) {
        Py_DECREF(duration);
        return NULL;
    }
    return duration;
}

/* The line number of `line` as the Python reader computes it (None when absent or empty);
 * NULL without an exception when int() refuses it. */
static PyObject *line_of(PyObject *line) {
    if (line == Py_None || PyUnicode_GET_LENGTH(line) == 0) {
        return Py_NewRef(Py_None);
    }
    PyObject *number = PyLong_FromUnicodeObject(line, 10);
    if (number == NULL && PyErr_ExceptionMatches(PyExc_ValueError)) {
        PyErr_Clear();
    }
    return number;
}

static PyObject *build_testcases(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 8 || !PyUnicode_Check(args[0]) || !PyLong_Check(args[1]) || !PyList_Check(args[2]) ||
        !PyDict_Check(args[3]) || !PyDict_Check(args[4]) || !PyCallable_Check(args[5])) {
        PyErr_SetString(PyExc_TypeError,
                        "build_testcases(buffer: str, position: int, tests: list, strings: dict, times: dict, "
                        "make, passed, suite)");
        return NULL;
    }
    PyObject *buffer = args[0], *tests = args[2], *strings = args[3], *times = args[4], *make = args[5];
    PyObject *passed = args[6], *suite = args[7];
    Py_ssize_t position = position_in(buffer, args[1]);
    if (position < 0) {
        return NULL;
    }
    Py_ssize_t length = PyUnicode_GET_LENGTH(buffer);
    int kind = PyUnicode_KIND(buffer);
    const void *data = PyUnicode_DATA(buffer);
    PyObject *last_class = NULL, *last_file = NULL; /* borrowed from `strings` */
    Py_ssize_t starts[N_FIELDS], ends[N_FIELDS];
    for (;;) {
        Py_ssize_t next = parse_one(kind, data, length, position, starts, ends);
        if (next < 0 || starts[TIMESTAMP] >= 0) {
            break; /* not a plain childless testcase, or one with a start time: the Python reader's */
        }
        PyObject *time = value_of(buffer, starts, ends, TIME);
        if (time == NULL) {
            return NULL;
        }
        PyObject *duration = duration_of(time, times);
        Py_DECREF(time);
        if (duration == NULL) {
            if (PyErr_Occurred()) {
                return NULL;
            }
            break;
        }
        PyObject *line_text = value_of(buffer, starts, ends, LINE);
        PyObject *line = line_text == NULL ? NULL : line_of(line_text);
        Py_XDECREF(line_text);
        if (line == NULL) {
            Py_DECREF(duration);
            if (PyErr_Occurred()) {
                return NULL;
            }
            break;
        }
        PyObject *name = starts[NAME] >= 0 ? PyUnicode_Substring(buffer, starts[NAME], ends[NAME])
                                           : PyUnicode_FromStringAndSize("", 0);
        PyObject *file = NULL, *classname = NULL;
        if (name != NULL) {
            file = value_of(buffer, starts, ends, FILE_);
            file = file == NULL ? NULL : shared(file, &last_file, strings);
        }
        if (file != NULL) {
            classname = value_of(buffer, starts, ends, CLASSNAME);
            classname = classname == NULL ? NULL : shared(classname, &last_class, strings);
        }
        PyObject *result = NULL;
        if (classname != NULL) {
            PyObject *call[7] = {name, passed, duration, suite, file, classname, line};
            result = PyObject_Vectorcall(make, call, 7, NULL);
        }
        Py_XDECREF(name);
        Py_XDECREF(file);
        Py_XDECREF(classname);
        Py_DECREF(duration);
        Py_DECREF(line);
        if (result == NULL) {
            return NULL;
        }
        int failed = PyList_Append(tests, result);
        Py_DECREF(result);
        if (failed) {
            return NULL;
        }
        position = next;
    }
    return PyLong_FromSsize_t(position);
}

static PyMethodDef methods[] = {
    {"build_testcases", (PyCFunction)(void (*)(void))build_testcases, METH_FASTCALL,
     "build_testcases(buffer, position, tests, strings, times, make, passed, suite) -> end: append to tests "
     "make(name, passed, duration, suite, file, classname, line) for each consecutive childless testcase from "
     "position that the Python reader would read the same way, and return where they end."},
    {"scan_testcases", (PyCFunction)(void (*)(void))scan_testcases, METH_FASTCALL,
     "scan_testcases(buffer, position) -> (cases, end): the attribute values (name, classname, time, file, "
     "line, timestamp; None when absent) of the consecutive childless testcases from position, and where they end."},
    {NULL, NULL, 0, NULL},
};

static int exec_module(PyObject *module) { return PyModule_AddIntConstant(module, "FIELD_LIMIT", FIELD_LIMIT); }

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, (void *)exec_module},
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_junit_speedups", "C accelerator of the fast JUnit reader.", 0, methods,
    slots, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__junit_speedups(void) { return PyModuleDef_Init(&module_def); }
