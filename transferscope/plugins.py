"""Plugin modules: user code that registers metrics (or other registry entries) without editing the package.

The config key ``plugins`` lists importable module names or paths to ``.py`` files (relative paths are relative to
the working directory). The Snakefile imports them before validating the config, so the schema's enums already
contain what they register, and exports the list as ``TRANSFERSCOPE_PLUGINS`` so that every job process (local,
or a SLURM job that re-reads the Snakefile) imports them too before it looks a name up in a registry.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path

ENV = "TRANSFERSCOPE_PLUGINS"
_SEPARATOR = os.pathsep
_loaded: dict[str, object] = {}


class PluginError(ImportError):
    """A plugin module could not be imported; the message names it."""


def plugins_from_env() -> list[str]:
    return [p for p in os.environ.get(ENV, "").split(_SEPARATOR) if p]


def export_plugins(plugins: list[str]) -> None:
    """Make ``plugins`` visible to child processes (the job scripts) through the environment."""
    if plugins:
        os.environ[ENV] = _SEPARATOR.join(_key(p) for p in plugins)
    else:
        os.environ.pop(ENV, None)


def load_plugins(plugins: list[str] | None = None) -> list[object]:
    """Import each plugin once (``None``: the ones named by TRANSFERSCOPE_PLUGINS); returns the modules."""
    modules = []
    for spec in plugins_from_env() if plugins is None else plugins:
        key = _key(spec)
        if key not in _loaded:
            _loaded[key] = _import(spec)
        modules.append(_loaded[key])
    return modules


def _is_path(spec: str) -> bool:
    return spec.endswith(".py") or os.sep in spec


def _key(spec: str) -> str:
    """One name per plugin whether it was given relative, absolute or through the environment."""
    return str(Path(spec).expanduser().resolve()) if _is_path(spec) else spec


def _import(spec: str):
    try:
        if not _is_path(spec):
            return importlib.import_module(spec)
        path = Path(spec).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {path.resolve()}")
        name = f"transferscope_plugin_{path.stem}"
        module_spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        module_spec.loader.exec_module(module)
        return module
    except Exception as exc:
        raise PluginError(f"plugins: could not import {spec!r}: {type(exc).__name__}: {exc}") from exc
