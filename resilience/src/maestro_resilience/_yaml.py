"""Reading a ``Registry`` configuration from YAML (extra ``yaml``): bounded, safe, keys as written.

PyYAML is imported on first use. The document is parsed with ``yaml.SafeLoader`` (no Python objects,
no code), after a size check, with three changes for configuration files:

* every mapping key is read as the text written: YAML 1.1 turns the keys ``on``, ``off``, ``yes``
  and ``no`` into booleans, so ``on: [ConnectionError]`` (``Retry``'s ``on``) would become the key
  ``True``; here it stays ``"on"`` (and ``3:`` stays ``"3"``);
* a key given twice in one mapping is refused (PyYAML keeps the last one silently); a ``<<`` merge
  key still lets a mapping override what it merges;
* a key that is itself a list or a mapping is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from maestro_resilience._config_text import MAX_CONFIG_BYTES, read_config
from maestro_resilience._exceptions import ConfigurationError

__all__ = ["MAX_YAML_BYTES", "load_yaml"]

#: The largest YAML configuration read by default (1 MiB, as TOML).
MAX_YAML_BYTES = MAX_CONFIG_BYTES


def _loader() -> type[Any]:
    try:
        import yaml  # type: ignore[import-untyped]  # noqa: PLC0415 - optional dependency, imported on first use
    except ImportError as exc:
        raise ImportError("Registry.from_yaml needs PyYAML: pip install 'maestro-resilience[yaml]'") from exc

    class ConfigLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no types
        """``SafeLoader`` reading mapping keys as written and refusing duplicate keys."""

    def mapping(loader: ConfigLoader, node: yaml.MappingNode, deep: bool = False) -> dict[str, Any]:
        own: set[str] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigurationError(
                    f"a YAML key must be plain text, got a {key_node.id} at line {key_node.start_mark.line + 1}"
                )
            if key_node.value in own:
                raise ConfigurationError(
                    f"the YAML key {key_node.value!r} is given twice in one mapping "
                    f"(line {key_node.start_mark.line + 1}); YAML would silently keep the last one",
                    field=key_node.value,
                )
            own.add(key_node.value)
        loader.flatten_mapping(node)  # ``<<`` merges first, so the mapping's own keys override them
        return {key_node.value: loader.construct_object(value_node, deep=deep) for key_node, value_node in node.value}

    ConfigLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    return ConfigLoader


def load_yaml(source: str | Path, max_bytes: int = MAX_YAML_BYTES) -> Any:
    """Parse one YAML document of at most ``max_bytes`` bytes into plain data, or ``ConfigurationError``."""
    loader = _loader()
    text = read_config(source, max_bytes, "YAML")
    import yaml  # noqa: PLC0415 - imported by _loader() already

    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"invalid YAML in the Registry configuration: {exc}") from exc
    except RecursionError as exc:
        raise ConfigurationError("the YAML Registry configuration is nested too deeply to parse") from exc
