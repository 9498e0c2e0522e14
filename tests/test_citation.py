"""CITATION.cff is valid CFF 1.2.0 with the package's version, and every registered metric, ensemble method and loss
term names the work it comes from (transferscope.citations, the README's citation list)."""
import datetime
import json
import os
import re
import runpy
import subprocess
import sys
import tomllib

import pytest
import yaml

from conftest import REPO
from transferscope import citations
from transferscope.metrics import registry as metric_registry
from transferscope.metrics.registry import LayerMetric

CFF = os.path.join(REPO, "CITATION.cff")
REFERENCE_TYPES = {"article", "book", "conference-paper", "generic", "report", "software", "thesis", "website"}


@pytest.fixture(scope="module")
def cff():
    with open(CFF, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _is_author(entry):
    """A CFF person (family-names or given-names) or entity (name), every value a string."""
    return (isinstance(entry, dict) and entry and all(isinstance(v, str) and v for v in entry.values())
            and bool({"family-names", "given-names", "name"} & set(entry)))


def test_citation_cff_has_the_required_keys_and_types(cff):
    assert cff["cff-version"] == "1.2.0"
    assert isinstance(cff["message"], str) and cff["message"].strip()
    assert isinstance(cff["title"], str) and cff["title"].strip()
    assert isinstance(cff["authors"], list) and cff["authors"] and all(_is_author(a) for a in cff["authors"])
    assert cff["authors"] == [{"name": "The transferscope authors"}]
    assert cff.get("type", "software") in {"software", "dataset"}
    # a quoted date: an unquoted one is read as a date object, which the CFF schema (a string) rejects
    assert isinstance(cff["date-released"], str)
    assert datetime.date.fromisoformat(cff["date-released"]) == datetime.date(2026, 12, 4)
    assert cff["license"] == "MIT"
    assert isinstance(cff["keywords"], list) and all(isinstance(k, str) and k for k in cff["keywords"])


def test_citation_cff_version_is_the_package_version(cff):
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as fh:
        version = tomllib.load(fh)["project"]["version"]
    assert isinstance(cff["version"], str) and cff["version"] == version


def test_the_licence_file_is_the_cff_licence(cff):
    with open(os.path.join(REPO, "LICENSE"), encoding="utf-8") as fh:
        text = fh.read()
    assert text.startswith("MIT License") and "2026 the transferscope authors" in text


def test_citation_cff_references_are_the_two_theses_and_the_parent_paper(cff):
    references = cff["references"]
    assert isinstance(references, list) and len(references) == 3
    for ref in references:
        assert ref["type"] in REFERENCE_TYPES
        assert isinstance(ref["title"], str) and ref["title"].strip()
        assert isinstance(ref["authors"], list) and ref["authors"] and all(_is_author(a) for a in ref["authors"])
        assert isinstance(ref.get("year", 2000), int)
    thesis_a, thesis_b, paper = references
    assert thesis_a["type"] == "thesis" and thesis_a["authors"][0]["family-names"] == "Bemmerl"
    assert thesis_b["type"] == "thesis" and thesis_b["authors"][0]["family-names"] == "Gritsaev"
    assert thesis_b["title"] == "Analysis of Neural Networks Internal Representations During Transfer Learning"
    assert thesis_b["year"] == 2024 and thesis_b["institution"]["name"] == "HSE University"
    assert "Sadrtdinov" in thesis_b["notes"]
    assert paper["type"] == "conference-paper" and paper["year"] == 2023
    assert [a["family-names"] for a in paper["authors"]] == ["Sadrtdinov", "Pozdeev", "Vetrov", "Lobacheva"]
    assert paper["title"].startswith("To Stay or Not to Stay in the Pre-train Basin")


FRESH = """
import json
from transferscope import citations
from transferscope.ensembles.losses.registry import TERMS
from transferscope.ensembles.plan import METHODS
from transferscope.metrics.registry import REGISTRY
print(json.dumps({"missing": citations.missing_references(), "metrics": list(REGISTRY), "methods": list(METHODS),
                  "terms": list(TERMS), "names": [name for name, _ in citations.method_references()]}))
"""


def test_every_registered_metric_method_and_term_names_a_work():
    """In a fresh interpreter (only the package's own registrations): a metric, method or term added without a
    reference, or a mapping entry left behind by a rename, fails here."""
    out = subprocess.run([sys.executable, "-c", FRESH], cwd=REPO, capture_output=True, text=True, check=True)
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["missing"] == []
    assert set(citations.METHOD_WORKS) == set(found["methods"])
    assert set(citations.TERM_WORKS) == set(found["terms"])
    for kind, names in (("layer metric", found["metrics"]), ("ensemble method", found["methods"]),
                        ("loss term", found["terms"])):
        for name in names:
            assert any(n.startswith(f"{kind} `{name}`") for n in found["names"]), (kind, name)


def test_a_new_metric_without_a_reference_is_reported(monkeypatch):
    monkeypatch.setattr(metric_registry, "REGISTRY", dict(metric_registry.REGISTRY))
    metric_registry.register(LayerMetric("toy_unsourced", lambda X, y: 0.0, "toy"))
    metric_registry.register(LayerMetric("toy_sourced", lambda X, y: 0.0, "toy", reference="Facco et al. (2017)"))
    missing = citations.missing_references()
    assert any("`toy_unsourced`" in name for name in missing)
    assert not any("`toy_sourced`" in name for name in missing)


def test_every_work_used_has_a_full_reference():
    used = set(citations.FOUNDATIONS)
    used |= {w for works in citations.METHOD_WORKS.values() for w in works}
    used |= {w for _, works in citations.TERM_WORKS.values() for w in works}
    used |= {w for _, works in citations.OTHER_MEASURES for w in works}
    assert used <= set(citations.WORKS)
    for name, reference in citations.method_references():
        assert isinstance(name, str) and name and isinstance(reference, str) and reference, name


@pytest.mark.parametrize("text, works", [
    ("Facco 2017, Ansuini 2019", ("Facco et al. 2017", "Ansuini et al. 2019")),
    ("You et al. 2021", ("You et al. 2021",)),
    ("Huang et al. (2022)", ("Huang et al. 2022",)),  # not the 2017 Snapshot Ensembles of another Huang
    ("Kriegeskorte et al., 2008; thesis A (class contrast)", ("Kriegeskorte et al. 2008", "thesis A")),
    ("thesis Ab", ()),
    ("", ()),
])
def test_works_named_reads_the_registry_spellings(text, works):
    assert citations.works_named(text) == works


def test_the_command_prints_the_markdown_list(capsys):
    runpy.run_path(citations.__file__, run_name="__main__")  # what `python -m transferscope.citations` runs
    out = capsys.readouterr().out
    assert out == citations.markdown()
    bullets = [line for line in out.splitlines() if line.startswith("- ")]
    for key in citations.FOUNDATIONS:
        assert f"- {key}: {citations.WORKS[key]}" in bullets
    for name in metric_registry.REGISTRY:
        assert any(line.startswith(f"- layer metric `{name}`") for line in bullets), name
    assert "Gritsaev" in out and "HSE University, 2024" in out and "NeurIPS 2023" in out
    # each work the methods name is spelled out once, under References (the foundations at the top)
    references = out.split("References:")[1].split("Software:")[0]
    for key in re.findall(r"^- (.+?): ", references, flags=re.M):
        assert key in citations.WORKS and key not in citations.FOUNDATIONS
        assert references.count(f"- {key}: ") == 1
