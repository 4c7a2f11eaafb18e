"""Build hook: compile the optional C accelerator of the JUnit reader into the wheel.

Where the C compiler Python was built with (or the one ``CC`` names) is available, the wheel
carries ``formats/_junit_speedups`` and is tagged for this interpreter and platform; where it is
not (or with ``MAESTRO_PURE_PYTHON=1``), the build prints why and makes the pure-Python wheel,
which reads the same files more slowly. ``MAESTRO_REQUIRE_SPEEDUPS=1`` turns a failed compile into a
build error (CI sets it, so a broken accelerator cannot pass unnoticed). An editable install
compiles the extension next to its source, where the import finds it.

The compile is reproducible: it runs in the project folder on a relative source path, with
``-ffile-prefix-map`` so no absolute path of the checkout (or of the temporary folder ``python -m
build`` unpacks the sdist into) lands in the binary, and with the interpreter's own ``CFLAGS``
(``-DNDEBUG`` among them) plus the environment's ``CFLAGS``. The same commit therefore gives the
same wheel from any checkout.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("src/maestro_test_result_aggregator/formats/_junit_speedups.c")


def _compile(root: Path, source: Path, target: Path) -> str | None:
    """Compile ``root/source`` into the extension module ``target``; None, or why it failed."""
    compiler = os.environ.get("CC") or sysconfig.get_config_var("CC")  # CC overrides, as for setuptools
    include = sysconfig.get_paths()["include"]
    if not compiler or os.name != "posix":
        return "no C compiler configured for this Python"
    if not (Path(include) / "Python.h").is_file():
        return f"no Python headers in {include}"
    command = [
        *shlex.split(compiler),
        *shlex.split(sysconfig.get_config_var("CCSHARED") or "-fPIC"),
        *shlex.split(sysconfig.get_config_var("CFLAGS") or "-DNDEBUG -O2"),  # as the interpreter was built
        *shlex.split(os.environ.get("CFLAGS", "")),
        "-Wall",  # not -Werror: a newer compiler's new warning must not cost users the accelerator
        f"-ffile-prefix-map={root}=.",
        f"-ffile-prefix-map={target.parent}=.",
        f"-I{include}",
        "-shared",
        str(source),
        "-o",
        str(target),
    ]
    if sys.platform == "darwin":
        command[-2:-2] = ["-undefined", "dynamic_lookup"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=root)
    except OSError as exc:
        return f"{command[0]}: {exc}"
    if done.returncode != 0:
        return (done.stderr or done.stdout).strip()[-2000:] or f"{command[0]} exited with {done.returncode}"
    return None


class SpeedupsBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """Adds the compiled accelerator to the wheel (see the module docstring)."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root).resolve()
        source = root / SOURCE
        name = "_junit_speedups" + (sysconfig.get_config_var("EXT_SUFFIX") or ".so")
        if version == "editable":
            # An editable install imports from the source tree: never leave an old build there.
            source.with_name(name).unlink(missing_ok=True)
        self._scratch = Path(tempfile.mkdtemp(prefix="maestro-speedups-"))
        if os.environ.get("MAESTRO_PURE_PYTHON") == "1":
            self.app.display_info("maestro: MAESTRO_PURE_PYTHON=1, building the pure-Python wheel")
            self._record(version, build_data, "built without it on purpose (MAESTRO_PURE_PYTHON=1)")
            return
        target = source.with_name(name) if version == "editable" else self._scratch / name
        error = _compile(root, SOURCE, target)
        if error is not None:
            if os.environ.get("MAESTRO_REQUIRE_SPEEDUPS") == "1":
                raise RuntimeError(f"maestro: the C accelerator did not compile:\n{error}")
            self.app.display_warning(f"maestro: building without the C accelerator (pure Python): {error}")
            last = error.strip().splitlines()[-1] if error.strip() else "no details"
            self._record(version, build_data, f"the C accelerator did not compile here ({last[:200]})")
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version != "editable":
            build_data["force_include"][str(target)] = f"maestro_test_result_aggregator/formats/{name}"

    def _record(self, version: str, build_data: dict[str, Any], why: str) -> None:
        """Ship why this wheel has no accelerator, so the installed package can say so: pip hides a
        build's own output unless run with -v, and a silent 1.6x slower reader is a surprise."""
        if version == "editable":
            return
        note = self._scratch / "_pure_python_build.txt"
        note.write_text(why + "\n")
        build_data["force_include"][str(note)] = "maestro_test_result_aggregator/formats/_pure_python_build.txt"

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        """Remove the scratch folder the extension was compiled into (it is in the wheel now)."""
        scratch = getattr(self, "_scratch", None)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
