"""A module imported on first use, for modules whose *names* the Snakefile reads while it parses.

Every Snakemake call parses the Snakefile, which validates the config against the registries (datasets'
derivations, layer metrics, loss terms, architectures' layers): their names, never their code. The functions behind
those names need torch, scipy or ripser, which take ~2 s of CPU to import: paid by every dry run, every
``--lint``, and every SLURM job (a cluster job parses the Snakefile again before its script starts). A registry
module therefore binds ``torch = lazy_module("torch")`` instead of ``import torch``; the real import happens the
first time a function touches an attribute, i.e. in the job that computes something. Annotations stay strings
(``from __future__ import annotations``) and no module-level statement may touch the proxy, or the import happens
at parse time after all (``tests/test_registries.py`` checks that parsing the default config imports none of them).
"""
from __future__ import annotations

import importlib
import types


class LazyModule(types.ModuleType):
    """Stands in for module ``name`` until an attribute is read; then imports it and keeps a copy of its namespace
    (later reads are plain attribute lookups; names the module gains afterwards are still found, through
    ``__getattr__``)."""

    def __init__(self, name: str):
        super().__init__(name)
        self.__dict__["_lazy_loaded"] = False

    def __getattr__(self, attr: str):
        module = importlib.import_module(self.__name__)
        if not self.__dict__["_lazy_loaded"]:
            self.__dict__.update({k: v for k, v in vars(module).items() if not k.startswith("__")})
            self.__dict__["_lazy_loaded"] = True
        return getattr(module, attr)


def lazy_module(name: str) -> types.ModuleType:
    """``name`` (e.g. ``"torch"``, ``"torch.nn.functional"``, ``"scipy.stats"``), imported on first attribute
    access; the real module right away when something imported it already."""
    import sys

    return sys.modules[name] if name in sys.modules else LazyModule(name)
