"""Configuration: schema validation with defaults, cross-checks, and the wildcard lists derived from it.

Everything the workflow enumerates (datasets, sources, targets, seeds, checkpoints, modes) comes from here, so
rules never hard-code a dataset or a number.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from transferscope import names
from transferscope.names import mode_from_token, mode_token  # noqa: F401 - part of this module's API
from transferscope.plugins import PluginError, export_plugins, load_plugins

SCHEMA_PATH = Path(__file__).resolve().parent / "config.schema.yaml"  # package data: also in a wheel


class ConfigError(ValueError):
    """Invalid configuration; the message names the offending key."""


def load_schema(path: str | Path = SCHEMA_PATH) -> dict:
    """The config schema with its name lists and name patterns filled in from the registries and
    ``transferscope.names`` (see ``registry_names``, ``registry_patterns``)."""
    with open(path) as fh:
        schema = yaml.safe_load(fh)
    for where, values in registry_names().items():
        _node(schema, where[:-1])[where[-1]] = list(values)
    for where, pattern in registry_patterns().items():
        _node(schema, where)["pattern"] = names.anchored(pattern)
    for where, section in registry_sections().items():
        _node(schema, where[:-1])[where[-1]] = section
    return schema


def registry_sections() -> dict[tuple[str, ...], dict]:
    """Schema location -> a whole config section a registry entry defines: ``ensembles.<term>`` of every loss term
    (its options, defaults and descriptions live with the term's code)."""
    from transferscope.ensembles.losses.registry import TERMS

    return {("properties", "ensembles", "properties", name): term.schema() for name, term in TERMS.items()}


def registry_names() -> dict[tuple[str, ...], list[str]]:
    """Schema location (ending in ``enum`` or ``default``) -> names from a registry.

    The schema file holds no copy of these lists; the registries (and plugins) are the one place per name."""
    from transferscope.outcomes import OUTCOMES
    from transferscope.data.derive import OPS
    from transferscope.data.sources import SOURCES
    from transferscope.ensembles.plan import METHODS
    from transferscope.metrics.registry import metric_names
    from transferscope.models import ARCHS

    archs = list(ARCHS)
    dataset = ("definitions", "dataset", "properties")
    analysis, ensembles = ("properties", "analysis", "properties"), ("properties", "ensembles", "properties")
    return {
        (*dataset, "source", "enum"): list(SOURCES),
        (*dataset, "derive", "items", "properties", "op", "enum"): list(OPS),
        ("properties", "archs", "items", "enum"): archs,
        ("properties", "pretrained", "additionalProperties", "propertyNames", "enum"): archs,
        (*ensembles, "arch", "enum"): [name for name, spec in ARCHS.items() if spec.stage_taps],  # members save stages
        (*analysis, "metrics", "items", "enum"): metric_names(),
        (*analysis, "metrics", "default"): metric_names(default_only=True),
        (*analysis, "outcome", "enum"): list(OUTCOMES),
        (*analysis, "reference", "properties", "outcome", "enum"): list(OUTCOMES),
        ("properties", "benchmark", "properties", "outcomes", "items", "enum"): list(OUTCOMES),
        ("properties", "benchmark", "properties", "estimators", "items", "enum"): metric_names(),
        (*ensembles, "methods", "default"): list(METHODS),
    }


def registry_patterns() -> dict[tuple[str, ...], str]:
    """Schema location -> the pattern of ``transferscope.names`` its strings must match (wildcard names)."""
    from transferscope.ensembles.plan import variant_pattern

    return {
        ("definitions", "checkpoint"): names.POINT,
        ("properties", "finetune", "properties", "modes", "items"): names.MODE,
        ("properties", "finetune", "properties", "mode_recipes", "propertyNames"): names.MODE,
        ("properties", "datasets", "propertyNames"): names.NAME,
        ("properties", "pretrained", "propertyNames"): names.NAME,
        ("properties", "ensembles", "properties", "source"): names.NAME,
        ("properties", "ensembles", "properties", "methods", "items"): variant_pattern(),
    }


def _node(schema: dict, where: tuple[str, ...]) -> dict:
    node = schema
    for key in where:
        node = node.setdefault(key, {})
    return node


def _validator_with_defaults(schema: dict):
    import jsonschema

    base = jsonschema.Draft7Validator

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
                elif "$ref" in sub and "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from base.VALIDATORS["properties"](validator, properties, instance, schema)

    cls = jsonschema.validators.extend(base, {"properties": set_defaults})
    return cls(schema)


def _key_path(error) -> str:
    parts = [str(p) if not isinstance(p, int) else f"[{p}]" for p in error.absolute_path]
    text = ""
    for p in parts:
        text += p if p.startswith("[") or not text else "." + p
    return text or "<top level>"


def validate_config(config: dict, schema: dict | None = None) -> dict:
    """Validate ``config`` in place (defaults filled in, keys sorted) and return it.

    Raises ConfigError naming every offending key, e.g. ``pretrain.recipe.epochs: -1 is less than the minimum of 1``.
    """
    if not isinstance(config, dict):
        raise ConfigError("config must be a mapping")
    plugins = config.get("plugins", [])
    if not isinstance(plugins, list) or not all(isinstance(p, str) for p in plugins):
        raise ConfigError("invalid configuration:\n  plugins: must be a list of module names or .py file paths")
    try:  # before the schema is built: what plugins register is part of its enums
        load_plugins(plugins)
    except PluginError as exc:
        raise ConfigError(f"invalid configuration:\n  {exc}") from None
    export_plugins(plugins)
    schema = schema or load_schema()
    validator = _validator_with_defaults(schema)
    # Defaults are filled while validating; run twice so defaults of nested defaults are filled too.
    for _ in range(2):
        errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
        if errors:
            break
    if errors:
        lines = [f"  {_key_path(e)}: {_message(e)}" for e in errors]
        raise ConfigError("invalid configuration (transferscope/config.schema.yaml):\n" + "\n".join(lines))
    _cross_check(config, schema)
    canonical = _sort_keys(config)
    config.clear()
    config.update(canonical)
    return config


def _sort_keys(obj: Any) -> Any:
    """Mappings with keys in sorted order, recursively: rule params then do not depend on the key order of the
    YAML file (Snakemake compares params by their text), so reordering a config never reruns a job."""
    if isinstance(obj, dict):
        return {k: _sort_keys(obj[k]) for k in sorted(obj, key=str)}
    if isinstance(obj, list):
        return [_sort_keys(v) for v in obj]
    return obj


def _message(error) -> str:
    if error.validator == "additionalProperties":
        return f"{error.message} (unknown key; see transferscope/config.schema.yaml)"
    return error.message


def _cross_check(config: dict, schema: dict) -> None:
    datasets = config["datasets"]
    problems = []
    pretrained = config.get("pretrained", {})
    for role in ("sources", "targets"):
        for i, name in enumerate(config[role]):
            if role == "sources" and name in pretrained:
                problems += _check_pretrained_source(config, i, name, datasets)
            elif name not in datasets:
                problems.append(f"  {role}[{i}]: dataset {name!r} is not defined under 'datasets' (defined: {sorted(datasets)})")
        if len(set(config[role])) != len(config[role]):
            problems.append(f"  {role}: duplicate entries")
    if "scratch" in datasets:
        problems.append("  datasets.scratch: 'scratch' is reserved for the from-scratch baseline")
    from transferscope.data.derive import check_op
    from transferscope.data.sources import SOURCES

    for name, spec in datasets.items():
        for key in SOURCES[spec["source"]].requires:
            if key not in spec:
                problems.append(f"  datasets.{name}.{key}: required for source {spec['source']}")
        for j, op in enumerate(spec.get("derive", [])):
            msg = check_op(op)
            if msg:
                problems.append(f"  datasets.{name}.derive[{j}]: {msg}")
    for i, mode in enumerate(config["finetune"]["modes"]):
        if mode.startswith("freeze:"):
            problems += _layer_problems(f"finetune.modes[{i}]", mode.split(":", 1)[1], config)
    scratch_arch = config["finetune"].get("scratch_arch")
    if scratch_arch is not None and not config["finetune"]["scratch"]:
        problems.append(f"  finetune.scratch_arch: {scratch_arch!r} needs finetune.scratch: true")
    elif scratch_arch is not None and scratch_arch not in config["archs"]:  # the archs scratch baselines train in
        problems.append(f"  finetune.scratch_arch: {scratch_arch!r} is not one of archs {config['archs']}")
    for i, layer in enumerate(config["finetune"]["reinit"]):
        problems += _layer_problems(f"finetune.reinit[{i}]", layer, config) if layer != "head" else []
    from transferscope.models import metric_taps

    for arch in model_archs(config):
        try:
            metric_taps(arch, config["analysis"]["layers"])
        except ValueError as error:
            problems.append(f"  analysis.layers: {error}")
    rdm_model = config["analysis"]["rdm_model"]
    for key, allowed in (("source", config["sources"]), ("target", config["targets"]), ("seed", config["seeds"]),
                         ("checkpoint", config["pretrain"]["checkpoints"])):
        if key in rdm_model and rdm_model[key] not in allowed:
            problems.append(f"  analysis.rdm_model.{key}: {rdm_model[key]!r} is not one of {allowed}")
    for section in ("pretrain", "finetune"):
        problems += _layer_lr_problems(f"{section}.recipe", config[section]["recipe"].get("layer_lr"), config)
    problems += _analysis_reference_problems(config)
    early = config["analysis"]["early_point"]
    own_points = config["finetune"].get("target_eval_points", {})
    uses_default = set(config["targets"]) - set(own_points)  # targets whose eval points are finetune.eval_points
    if early is not None and early not in config["finetune"]["eval_points"] and uses_default:
        problems.append(f"  analysis.early_point: {early!r} is not one of finetune.eval_points "
                        f"{config['finetune']['eval_points']}")
    for target in config["targets"]:
        if early is not None and target in own_points and early not in own_points[target]:
            problems.append(f"  analysis.early_point: {early!r} is not one of finetune.target_eval_points.{target} "
                            f"{own_points[target]}")
    for target in config["analysis"].get("target_samples", {}):
        if target not in config["targets"]:
            problems.append(f"  analysis.target_samples.{target}: not one of targets {config['targets']}")
    for section in ("pretrain", "ensembles"):
        if (config.get(section) or {}).get("recipe", {}).get("lr_grid") is not None:
            problems.append(f"  {section}.recipe.lr_grid: only fine-tuning picks a learning rate on validation")
    problems += _recipe_override_problems(config, schema)
    problems += _benchmark_problems(config)
    problems += _ensemble_problems(config, schema)
    if problems:
        raise ConfigError("invalid configuration:\n" + "\n".join(problems))


def _recipe_override_problems(config: dict, schema: dict) -> list[str]:
    """finetune.mode_recipes / target_recipes / scratch_recipe: keyed by a mode / target, recipe keys only, values
    that the recipe schema accepts (checked without filling defaults: an override holds only what it sets), layer_lr
    layers of every arch; target_eval_points keyed by a target."""
    import jsonschema

    finetune, problems = config["finetune"], []
    recipe_keys = set(finetune["recipe"])
    values = jsonschema.Draft7Validator(schema["definitions"]["recipe"])
    overrides = [(f"finetune.mode_recipes.{mode}", mode, "modes", override)
                 for mode, override in finetune["mode_recipes"].items()]
    overrides += [(f"finetune.target_recipes.{target}", target, "targets", override)
                  for target, override in finetune.get("target_recipes", {}).items()]
    overrides += [("finetune.scratch_recipe", None, None, finetune.get("scratch_recipe") or {})]
    for where, key, allowed, override in overrides:
        if allowed == "modes" and key not in finetune["modes"]:
            problems.append(f"  {where}: not one of finetune.modes {finetune['modes']}")
        elif allowed == "targets" and key not in config["targets"]:
            problems.append(f"  {where}: not one of targets {config['targets']}")
        for name in sorted(set(override) - recipe_keys):
            problems.append(f"  {where}.{name}: unknown recipe key (known: {sorted(recipe_keys)})")
        known = {name: value for name, value in override.items() if name in recipe_keys}
        for error in sorted(values.iter_errors(known), key=lambda e: list(e.absolute_path)):
            problems.append(f"  {where}.{_key_path(error)}: {_message(error)}")
        problems += _layer_lr_problems(where, known.get("layer_lr"), config)
    for target in finetune.get("target_eval_points", {}):
        if target not in config["targets"]:
            problems.append(f"  finetune.target_eval_points.{target}: not one of targets {config['targets']}")
    return problems


def _layer_problems(where: str, layer: str, config: dict) -> list[str]:
    """``<where>`` names ``layer``: a layer (or an alias of one) of every architecture a model of the run has."""
    from transferscope.models import layer_problem

    return [f"  {where}: {layer!r} is {why}" for arch in model_archs(config) if (why := layer_problem(arch, layer))]


def _layer_lr_problems(where: str, layer_lr: dict | None, config: dict) -> list[str]:
    """``<where>.layer_lr``: each layer is a layer of every architecture a model of the run has."""
    from transferscope.models import layer_problem

    return [f"  {where}.layer_lr.{layer}: {why}" for layer in layer_lr or {} for arch in model_archs(config)
            if (why := layer_problem(arch, layer))]


def _benchmark_problems(config: dict) -> list[str]:
    """benchmark: needs the analysis, its estimators among analysis.metrics and its checkpoint among the saved ones."""
    bench, analysis = config["benchmark"], config["analysis"]
    if not bench["enabled"]:
        return []
    problems = []
    if not analysis["enabled"]:
        problems.append("  benchmark.enabled: the benchmark ranks the analysis' metrics; set analysis.enabled: true")
    for i, name in enumerate(bench["estimators"] or []):
        if name not in analysis["metrics"]:
            problems.append(f"  benchmark.estimators[{i}]: {name!r} is not one of analysis.metrics")
    if bench["checkpoint"] not in config["pretrain"]["checkpoints"]:
        problems.append(f"  benchmark.checkpoint: {bench['checkpoint']!r} is not one of pretrain.checkpoints "
                        f"{config['pretrain']['checkpoints']}")
    from transferscope.models import arch_spec, metric_taps

    for arch in config["archs"]:
        try:
            taps = metric_taps(arch, analysis["layers"])
        except ValueError:
            continue  # reported by the analysis.layers check
        if taps is not None and arch_spec(arch).penultimate not in taps:
            problems.append(f"  analysis.layers: the benchmark scores {arch}'s penultimate tap "
                            f"{arch_spec(arch).penultimate!r}; add 'penultimate'")
    return problems


def _ensemble_problems(config: dict, schema: dict) -> list[str]:
    """Cross-checks of the ``ensembles`` section (thesis B); [] when it is absent or disabled."""
    ens = config.get("ensembles")
    if not ens or not ens.get("enabled", True):
        return []
    from transferscope.ensembles.losses.registry import term
    from transferscope.ensembles.plan import METHODS
    from transferscope.models import layer_names, tap_names

    problems, variants = _variant_problems(ens, schema["properties"]["ensembles"]["properties"])
    datasets = config["datasets"]
    for i, name in enumerate(ens["targets"]):
        if name not in datasets:
            problems.append(f"  ensembles.targets[{i}]: dataset {name!r} is not defined under 'datasets'")
    weighted = {int(w["seed"]) for w in ens["weights"]}
    methods = [name for name, _ in variants]
    global_de = any(METHODS[method].pretrain_seeds == "global" for method in methods)
    needed = set(ens["seeds"]) | (set(ens["global_seeds"]) if global_de else set())
    if not needed <= weighted:
        if ens["source"] not in datasets and ens["source"] not in (config.get("pretrained") or {}):
            problems.append(f"  ensembles.source: {ens['source']!r} is neither a dataset under 'datasets' nor a "
                            "'pretrained' source")
        if ens["checkpoint"] not in config["pretrain"]["checkpoints"]:
            problems.append(f"  ensembles.checkpoint: {ens['checkpoint']!r} is not one of pretrain.checkpoints "
                            f"{config['pretrain']['checkpoints']}")
    if ens["source"] == "scratch":
        problems.append("  ensembles.source: 'scratch' is reserved for the from-scratch baseline")
    if len(set(ens["seeds"])) != len(ens["seeds"]):
        problems.append("  ensembles.seeds: duplicate entries")
    if global_de:
        members = max(int(overrides.get("members") or ens["members"]) for method, overrides in variants
                      if METHODS[method].pretrain_seeds == "global")
        for seed in ens["seeds"]:
            others = [g for g in dict.fromkeys(ens["global_seeds"]) if g != seed]
            if len(others) < members - 1:
                problems.append(f"  ensembles.global_seeds: global_de with {members} members needs "
                                f"{members - 1} pre-training seeds other than {seed}, got {others}")
    for i, method in enumerate(methods):  # (indices of the well-formed entries)
        lacking = [tap for tap in METHODS[method].needs_taps if tap not in tap_names(ens["arch"])]
        if lacking:
            problems.append(f"  ensembles.methods[{i}]: {method} needs the tap(s) {lacking}, which {ens['arch']} lacks")
    from transferscope.ensembles.variants import apply_overrides, variant_name

    checked = set()
    for method, overrides in variants:  # each variant's own options (sse_rtd[points=64] against the batch size)
        name = METHODS[method].term
        check = term(name).check if name else None
        if check is None:
            continue
        options = apply_overrides(ens, name, overrides)[name]
        for problem in check(options, ens):
            if problem not in checked:
                checked.add(problem)
                problems.append(problem if not overrides else f"{problem} (variant {variant_name(method, overrides)})")
    problems += _reference_problems(ens, variants)
    if any(METHODS[method].per_level for method in methods):
        layers = layer_names(ens["arch"])
        for i, level in enumerate(ens["freeze"]["levels"]):
            if level not in layers[:-1]:
                problems.append(f"  ensembles.freeze.levels[{i}]: {level!r} is not a layer of {ens['arch']} "
                                f"before its head {layers[:-1]}")
        if len(set(ens["freeze"]["levels"])) != len(ens["freeze"]["levels"]):
            problems.append("  ensembles.freeze.levels: duplicate entries")
    return problems


def _analysis_reference_problems(config: dict) -> list[str]:
    """``analysis.reference``: its targets, metrics, layers and checkpoints are configured ones, and its n are for
    levels that can hold values (the level of ``values`` and per_checkpoint)."""
    from transferscope.models import tap_names

    reference = config["analysis"]["reference"]
    taps = {tap for arch in config["archs"] for tap in tap_names(arch)}
    checkpoints = config["pretrain"]["checkpoints"]
    problems = []
    for key in ("values", "per_checkpoint"):
        for target, by_metric in (reference.get(key) or {}).items():
            where = f"analysis.reference.{key}.{target}"
            if target not in config["targets"]:
                problems.append(f"  {where}: not one of targets {config['targets']}")
            for metric, by_layer in by_metric.items():
                if metric not in config["analysis"]["metrics"]:
                    problems.append(f"  {where}.{metric}: not one of analysis.metrics")
                for layer, by_checkpoint in by_layer.items():
                    if layer not in taps:
                        problems.append(f"  {where}.{metric}.{layer}: not a tap of {config['archs']} ({sorted(taps)})")
                    if key == "per_checkpoint":
                        problems += [f"  {where}.{metric}.{layer}.{point}: not one of pretrain.checkpoints "
                                     f"{checkpoints}" for point in by_checkpoint if point not in checkpoints]
    levels = [reference.get("level", "all"), "per_checkpoint"]
    problems += [f"  analysis.reference.n.{level}: no values at that level (values are at analysis.reference.level "
                 f"{levels[0]!r}; n is for {levels})" for level in reference.get("n") or {} if level not in levels]
    return problems


def _reference_problems(ens: dict, variants: list[tuple[str, dict]]) -> list[str]:
    """``ensembles.reference``: its rows and baseline name configured variants of the same size K."""
    rows = (ens.get("reference") or {}).get("rows") or {}
    if not rows or len(variants) != len(ens["methods"]):  # malformed entries are reported already
        return []
    from transferscope.ensembles.plan import expand_variants

    names = expand_variants(ens)
    baseline = ens["reference"].get("baseline", "starsse")
    problems = [f"  ensembles.reference.rows.{row}: not a configured variant (known: {sorted(names)})"
                for row in rows if row not in names]
    if baseline not in names:
        problems.append(f"  ensembles.reference.baseline: {baseline!r} is not a configured variant")
    elif baseline not in rows:
        problems.append(f"  ensembles.reference.baseline: {baseline!r} has no row: the text's differences need it")
    else:
        size = names[baseline].members or ens["members"]
        for row in rows:
            if row in names and (names[row].members or ens["members"]) != size:
                problems.append(f"  ensembles.reference.rows.{row}: {names[row].members} members, the baseline "
                                f"{baseline!r} {size}: differences are taken between ensembles of one size")
    return problems


def _variant_problems(ens: dict, properties: dict) -> tuple[list[str], list[tuple[str, dict]]]:
    """Problems of the ``ensembles.methods`` entries (malformed, unknown or ill-typed overrides, checked against the
    schema's ``ensembles`` ``properties``; two entries naming one variant) and the (method, overrides) of the
    well-formed ones."""
    import jsonschema

    from transferscope.ensembles.plan import METHODS
    from transferscope.ensembles.variants import VariantError, allowed_keys, apply_overrides, parse_variant, variant_name

    problems, variants, names = [], [], []
    for i, entry in enumerate(ens["methods"]):
        try:
            name, overrides = parse_variant(entry)
        except VariantError as exc:
            problems.append(f"  ensembles.methods[{i}]: {exc}")
            continue
        if name not in METHODS:
            problems.append(f"  ensembles.methods[{i}]: unknown method {name!r} (known: {list(METHODS)})")
            continue
        method = METHODS[name]
        section = method.section
        allowed = allowed_keys(section, list(ens[section]) if section else [], method.start != "checkpoint")
        unknown = sorted(set(overrides) - set(allowed))
        if unknown:
            problems.append(f"  ensembles.methods[{i}]: {name} has no hyperparameter {', '.join(unknown)} "
                            f"(a variant of {name} may set: {', '.join(allowed) or 'nothing'})")
            continue
        changed = apply_overrides(ens, section, overrides)
        for key in {section, *overrides} & set(properties):
            for err in jsonschema.Draft7Validator(properties[key]).iter_errors(changed[key]):
                problems.append(f"  ensembles.methods[{i}]: {entry}: {err.message}")
        if overrides.get("members") == ens["members"]:
            problems.append(f"  ensembles.methods[{i}]: {entry}: members={ens['members']} is ensembles.members "
                            "already (the same runs as the entry without it)")
            continue
        variants.append((name, overrides))
        names.append(variant_name(name, overrides))
    if len(set(names)) != len(names):
        problems.append(f"  ensembles.methods: two entries name the same variant ({names})")
    return problems, variants


def load_config(path: str | Path) -> dict:
    """Read a YAML config file and validate it."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file not found: {path}")
    with open(path) as fh:
        config = yaml.safe_load(fh) or {}
    return validate_config(config)


# --- wildcards ---------------------------------------------------------------------------------------------

def _check_pretrained_source(config: dict, i: int, name: str, datasets: dict) -> list[str]:
    """A source given as weights (``pretrained:``, rule import_weights) instead of a dataset to pre-train on."""
    problems = []
    if name in datasets:
        problems.append(f"  sources[{i}]: {name!r} is both a dataset and a pretrained entry: rename one")
    if config["pretrain"]["checkpoints"] != ["final"]:
        problems.append(f"  pretrain.checkpoints: source {name!r} is a pretrained weights entry whose only checkpoint "
                        "is 'final': set pretrain.checkpoints: [final]")
    return problems


def model_pairs(config: dict) -> list[tuple[str, str]]:
    """(source, arch) of every pre-trained model family, in ``sources`` order: a dataset source in every entry of
    ``archs``; a ``pretrained:`` source in each architecture it has an entry for (those in ``archs`` first), so
    thesis A's sources come in their own architectures (a VGG16-BN encoder, a CIFAR VGG19) beside VGG16 ones."""
    pairs = []
    for source in config["sources"]:
        entry = config.get("pretrained", {}).get(source)
        if entry is None or source in config["datasets"]:
            archs = list(config["archs"])
        else:
            archs = [a for a in config["archs"] if a in entry] + [a for a in entry if a not in config["archs"]]
        pairs += [(source, arch) for arch in archs]
    return pairs


def model_archs(config: dict) -> list[str]:
    """Every architecture some model of the run has (``archs`` and the ``pretrained:`` sources' own)."""
    return list(dict.fromkeys([*config["archs"], *(arch for _, arch in model_pairs(config))]))


def used_datasets(config: dict) -> list[str]:
    """Datasets that some source or target needs, in first-use order (``pretrained:`` sources have none)."""
    seen: list[str] = []
    for name in list(config["sources"]) + list(config["targets"]):
        if name in config.get("pretrained", {}) and name not in config["datasets"]:
            continue
        if name not in seen:
            seen.append(name)
    return seen


def finetune_recipe(config: dict, mode: str, target: str | None = None) -> dict:
    """The fine-tuning recipe of ``mode`` (a mode or its path token) on ``target``: base recipe, then the
    ``mode_recipes`` override, then the ``target_recipes`` one (later keys win)."""
    finetune, mode = config["finetune"], mode_from_token(mode)
    return {**finetune["recipe"], **finetune["mode_recipes"].get(mode, {}),
            **finetune.get("target_recipes", {}).get(target, {})}


def scratch_recipe(config: dict, target: str | None = None) -> dict:
    """The recipe of ``target``'s from-scratch baseline: base recipe, then ``scratch_recipe``, then the
    ``target_recipes`` override (mode_recipes do not apply: the baseline trains every layer)."""
    finetune = config["finetune"]
    return {**finetune["recipe"], **(finetune.get("scratch_recipe") or {}),
            **finetune.get("target_recipes", {}).get(target, {})}


def target_eval_points(config: dict, target: str) -> list[str]:
    """Eval points of ``target``'s fine-tuning runs and scratch baseline: ``target_eval_points.<target>``, else
    ``eval_points``."""
    finetune = config["finetune"]
    return list(finetune.get("target_eval_points", {}).get(target, finetune["eval_points"]))


SAMPLE_KEYS = ("n_samples", "pool", "seed", "split", "flatten_units")


def analysis_sample(config: dict, target: str) -> dict:
    """The analysis sample of ``target`` (what extraction and the metrics jobs draw): ``SAMPLE_KEYS`` of
    ``analysis`` with the target's ``analysis.target_samples`` overrides."""
    sample = {key: config["analysis"][key] for key in SAMPLE_KEYS}
    return {**sample, **config["analysis"].get("target_samples", {}).get(target, {})}


def training_batches(config: dict) -> dict[str, int]:
    """Images per training batch of each training role: ``pretrain``, ``finetune`` (the largest over the modes' and
    targets' recipes and the scratch baselines') and ``ensembles``: what a CPU training job's memory request allows
    for."""
    modes, targets = config["finetune"]["modes"], config.get("targets") or [None]
    finetune = [finetune_recipe(config, mode, target) for mode in modes for target in targets]
    finetune += [scratch_recipe(config, target) for target in targets]
    batches = {"pretrain": int(config["pretrain"]["recipe"]["batch_size"]),
               "finetune": max(int(recipe["batch_size"]) for recipe in finetune)}
    ensembles = config.get("ensembles") or {}
    if ensembles.get("recipe"):
        batches["ensembles"] = int(ensembles["recipe"]["batch_size"])
    return batches


def uses_gpu(config: dict, environ=None) -> int:
    """Value of the ``gpu`` resource of the rules that may use one: 1 for ``device: cuda``, 0 for ``cpu``, and for
    ``auto`` 1 when the machine that builds the DAG has GPUs (``TRANSFERSCOPE_GPUS`` or ``nvidia-smi -L``; no CUDA
    initialisation), so ``--resources gpu=N`` runs N GPU jobs at once on a workstation."""
    device = config.get("device", "auto")
    if device == "auto":
        from transferscope.gpu_slots import count_gpus

        return 1 if count_gpus(environ) > 0 else 0
    return 1 if device == "cuda" else 0
