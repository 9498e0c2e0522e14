"""Which works the pipeline's methods come from: one entry per registered layer metric, ensemble method and loss term.

Layer metrics carry their source in the registry (``LayerMetric.reference``, e.g. "You et al. 2021"); ensemble
methods and loss terms are keyed here by their registry names (:data:`METHOD_WORKS`, :data:`TERM_WORKS`), and a few
measures computed outside the registries are listed in :data:`OTHER_MEASURES`. Short keys ("Facco et al. 2017",
"thesis A") are expanded into full references from :data:`WORKS`. ``tests/test_citation.py`` fails when a
registered name has no reference, so a new metric, method or term must name its source.

``python -m transferscope.citations`` prints the Markdown list that the README's "Citing" section is pasted from.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

THESIS_A = "thesis A"
THESIS_B = "thesis B"

# Short key -> full reference. A key "<Name> et al. <year>" (or "<Name> <year>") also matches a registry reference
# that writes "Name 2017", "Name et al. (2017)" or "Name et al., 2017".
WORKS: dict[str, str] = {
    THESIS_A: "F. Bemmerl. Transferability in DNN. Master's thesis, TU Berlin "
              "(code: https://github.com/flombe/thesis).",
    THESIS_B: "T. Gritsaev. Analysis of Neural Networks Internal Representations During Transfer Learning. "
              "Bachelor's thesis, HSE University, 2024 (supervisor: I. Sadrtdinov).",
    "Sadrtdinov et al. 2023": "I. Sadrtdinov, D. Pozdeev, D. Vetrov, E. Lobacheva. To Stay or Not to Stay in the "
                              "Pre-train Basin: Insights on Ensembling in Transfer Learning. NeurIPS 2023.",
    "Ansuini et al. 2019": "A. Ansuini, A. Laio, J. H. Macke, D. Zoccolan. Intrinsic dimension of data "
                           "representations in deep neural networks. NeurIPS 2019.",
    "Bao et al. 2019": "Y. Bao, Y. Li, S.-L. Huang, L. Zhang, L. Zheng, A. Zamir, L. Guibas. An Information-Theoretic "
                       "Approach to Transferability in Task Transfer Learning. ICIP 2019.",
    "Barannikov et al. 2022": "S. Barannikov, I. Trofimov, N. Balabin, E. Burnaev. Representation Topology "
                              "Divergence: A Method for Comparing Neural Network Representations. ICML 2022.",
    "Bolya et al. 2021": "D. Bolya, R. Mittapalli, J. Hoffman. Scalable Diverse Model Selection for Accessible "
                         "Transfer Learning. NeurIPS 2021.",
    "Ding et al. 2022": "N. Ding, X. Chen, T. Levinboim, S. Changpinyo, R. Soricut. PACTran: PAC-Bayesian Metrics "
                        "for Estimating the Transferability of Pretrained Models to Classification Tasks. "
                        "ECCV 2022.",
    "Facco et al. 2017": "E. Facco, M. d'Errico, A. Rodriguez, A. Laio. Estimating the intrinsic dimension of "
                         "datasets by a minimal neighborhood information. Scientific Reports 7, 12140, 2017.",
    "Fort et al. 2019": "S. Fort, H. Hu, B. Lakshminarayanan. Deep Ensembles: A Loss Landscape Perspective. "
                        "arXiv:1912.02757, 2019.",
    "Garbas et al. 2024": "L. Garbas, M. Ploner, A. Akbik. TransformerRanker: A Tool for Efficiently Finding the "
                          "Best-Suited Language Models for Downstream Classification Tasks. arXiv:2409.05997, "
                          "2024.",
    "Gholami et al. 2023": "M. Gholami, M. Akbari, X. Wang, B. Kamranian, Y. Zhang. ETran: Energy-Based "
                           "Transferability Estimation. ICCV 2023.",
    "Guo et al. 2017": "C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger. On Calibration of Modern Neural Networks. "
                       "ICML 2017.",
    "Huang et al. 2017": "G. Huang, Y. Li, G. Pleiss, Z. Liu, J. E. Hopcroft, K. Q. Weinberger. Snapshot Ensembles: "
                         "Train 1, Get M for Free. ICLR 2017.",
    "Huang et al. 2022": "L.-K. Huang, J. Huang, Y. Rong, Q. Yang, Y. Wei. Frustratingly Easy Transferability "
                         "Estimation. ICML 2022.",
    "Ibrahim et al. 2022": "S. Ibrahim, N. Ponomareva, R. Mazumder. Newer is not always better: Rethinking "
                           "transferability metrics, their peculiarities, stability and performance. ECML PKDD "
                           "2022.",
    "Kornblith et al. 2019": "S. Kornblith, M. Norouzi, H. Lee, G. Hinton. Similarity of Neural Network "
                             "Representations Revisited. ICML 2019.",
    "Kriegeskorte et al. 2008": "N. Kriegeskorte, M. Mur, P. Bandettini. Representational similarity analysis – "
                                "connecting the branches of systems neuroscience. Frontiers in Systems Neuroscience "
                                "2:4, 2008.",
    "Lakshminarayanan et al. 2017": "B. Lakshminarayanan, A. Pritzel, C. Blundell. Simple and Scalable Predictive "
                                    "Uncertainty Estimation using Deep Ensembles. NeurIPS 2017.",
    "Li et al. 2021": "Y. Li, X. Jia, R. Sang, Y. Zhu, B. Green, L. Wang, B. Gong. Ranking Neural Checkpoints. "
                      "CVPR 2021.",
    "Nguyen et al. 2020": "C. V. Nguyen, T. Hassner, M. Seeger, C. Archambeau. LEEP: A New Measure to Evaluate "
                          "Transferability of Learned Representations. ICML 2020.",
    "Nguyen et al. 2021": "T. Nguyen, M. Raghu, S. Kornblith. Do Wide and Deep Networks Learn the Same Things? "
                          "Uncovering How Neural Network Representations Vary with Width and Depth. ICLR 2021.",
    "Pándy et al. 2022": "M. Pándy, A. Agostinelli, J. Uijlings, V. Ferrari, T. Mensink. Transferability "
                         "Estimation using Bhattacharyya Class Separability. CVPR 2022.",
    "Shao et al. 2022": "W. Shao, X. Zhao, Y. Ge, Z. Zhang, L. Yang, X. Wang, Y. Shan, P. Luo. Not All Models "
                        "Are Equal: Predicting Model Transferability in a Self-challenging Fisher Space. "
                        "ECCV 2022.",
    "Song et al. 2012": "L. Song, A. Smola, A. Gretton, J. Bedo, K. Borgwardt. Feature Selection via Dependence "
                        "Maximization. JMLR 13, 2012.",
    "Tran et al. 2019": "A. T. Tran, C. V. Nguyen, T. Hassner. Transferability and Hardness of Supervised "
                        "Classification Tasks. ICCV 2019.",
    "Trofimov et al. 2023": "I. Trofimov, D. Cherniavskii, E. Tulchinskii, N. Balabin, E. Burnaev, S. Barannikov. "
                            "Learning Topology-Preserving Data Representations. ICLR 2023.",
    "Vigna 2015": "S. Vigna. A weighted correlation index for rankings with ties. WWW 2015.",
    "Wang et al. 2023": "Z. Wang, Y. Luo, L. Zheng, Z. Huang, M. Baktashmotlagh. How Far Pre-trained Models Are "
                        "from Neural Collapse on the Target Dataset Informs their Transferability. ICCV 2023.",
    "You et al. 2021": "K. You, Y. Liu, J. Wang, M. Long. LogME: Practical Assessment of Pre-trained Models for "
                       "Transfer Learning. ICML 2021.",
}

# The works transferscope re-implements as a whole (CITATION.cff lists the same three).
FOUNDATIONS = (THESIS_A, THESIS_B, "Sadrtdinov et al. 2023")

# Ensemble method (transferscope.ensembles.plan.METHODS) -> works.
METHOD_WORKS: dict[str, tuple[str, ...]] = {
    "local_de": ("Lakshminarayanan et al. 2017", "Sadrtdinov et al. 2023"),
    "global_de": ("Lakshminarayanan et al. 2017", "Sadrtdinov et al. 2023"),
    "sse": ("Huang et al. 2017", "Sadrtdinov et al. 2023"),
    "starsse": ("Sadrtdinov et al. 2023",),
    "sse_mse": (THESIS_B,),
    "sse_rtd": (THESIS_B, "Trofimov et al. 2023"),
    "starsse_freeze": (THESIS_B,),
    "starsse_wo": (THESIS_B,),
    "starsse_ce": (THESIS_B,),
    # thesis B's similarity losses on StarSSE's cycles: a transferscope combination of the two
    "starsse_mse": (THESIS_B, "Sadrtdinov et al. 2023"),
    "starsse_rtd": (THESIS_B, "Sadrtdinov et al. 2023", "Trofimov et al. 2023"),
}

# Loss term (transferscope.ensembles.losses.registry.TERMS) -> (short label, works).
TERM_WORKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "mse": ("MSE to member 1's pooled features", (THESIS_B,)),
    "rtd": ("differentiable RTD to member 1's pooled features",
            (THESIS_B, "Barannikov et al. 2022", "Trofimov et al. 2023")),
    "wo": ("weight orthogonality (squared cosine to an earlier member)", (THESIS_B,)),
    "ce": ("diversity loss (cross-entropy towards an earlier member's predictions)", (THESIS_B,)),
}

# Measures computed outside the registries: (name, works).
OTHER_MEASURES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("linear CKA, biased and unbiased (`transferscope.metrics.cka`)",
     ("Kornblith et al. 2019", "Song et al. 2012", "Nguyen et al. 2021")),
    ("RTD between representations (`transferscope.metrics.rtd`)", ("Barannikov et al. 2022",)),
    ("ensemble diversity, normalised disagreement (`transferscope.ensembles.evaluate`)",
     ("Fort et al. 2019", THESIS_B)),
    ("expected calibration error (`transferscope.ensembles.evaluate`)", ("Guo et al. 2017",)),
    ("weighted Kendall τ (`transferscope.analysis.correlate`, scipy's `weightedtau`)", ("Vigna 2015",)),
)

# Software whose authors ask to be cited.
SOFTWARE: tuple[tuple[str, str], ...] = (
    ("Snakemake", "F. Mölder et al. Sustainable data analysis with Snakemake. F1000Research 10:33, 2021."),
    ("PyTorch", "A. Paszke et al. PyTorch: An Imperative Style, High-Performance Deep Learning Library. NeurIPS 2019."),
    ("ripser.py", "C. Tralie, N. Saul, R. Bar-On. Ripser.py: A Lean Persistent Homology Library for Python. "
                  "Journal of Open Source Software 3(29), 925, 2018."),
    ("GUDHI", "The GUDHI Project. GUDHI User and Reference Manual. GUDHI Editorial Board, https://gudhi.inria.fr."),
)


@dataclass(frozen=True)
class Entry:
    """One method: its kind (layer metric, ensemble method, loss term, measure), registry key, label and works."""

    kind: str
    key: str
    label: str
    works: tuple[str, ...]
    raw: str = ""  # the registry's own reference text, kept when it names no work of WORKS

    @property
    def name(self) -> str:
        key = f" `{self.key}`" if self.key else ""
        return f"{self.kind}{key} — {self.label}" if self.label else f"{self.kind}{key}"

    @property
    def reference(self) -> str:
        if self.works:
            return "; ".join(WORKS[w] for w in self.works)
        return self.raw


def _pattern(key: str) -> re.Pattern:
    """How a registry reference may write a work: "Facco 2017", "Facco et al. 2017", "Facco et al. (2017)"."""
    match = re.fullmatch(r"(.+?)(?: et al\.)? (\d{4})", key)
    if match is None:
        return re.compile(rf"\b{re.escape(key)}\b")
    return re.compile(rf"\b{re.escape(match[1])}\b(?: et al\.?)?,? \(?{match[2]}\b")


PATTERNS = {key: _pattern(key) for key in WORKS}


def works_named(text: str) -> tuple[str, ...]:
    """The works of :data:`WORKS` a free-text reference names, in the order it names them."""
    found = [(m.start(), key) for key, pattern in PATTERNS.items() if (m := pattern.search(text or ""))]
    return tuple(key for _, key in sorted(found))


def entries() -> list[Entry]:
    """Every layer metric (registry order, plugins imported so far included), ensemble method and loss term, then the
    measures computed outside the registries."""
    from transferscope.ensembles.losses.registry import TERMS
    from transferscope.ensembles.plan import METHODS
    from transferscope.metrics.registry import REGISTRY

    out = [Entry("layer metric", name, metric.label, works_named(metric.reference), metric.reference)
           for name, metric in REGISTRY.items()]
    out += [Entry("ensemble method", name, method.label, METHOD_WORKS.get(name, ()))
            for name, method in METHODS.items()]
    out += [Entry("loss term", name, *TERM_WORKS.get(name, ("", ()))) for name in TERMS]
    out += [Entry("measure", "", label, works) for label, works in OTHER_MEASURES]
    return out


def method_references() -> list[tuple[str, str]]:
    """(name, reference) of every layer metric, ensemble method and loss term and of the measures computed outside
    the registries; the reference is the full citation of each work it comes from ("" where none is known)."""
    return [(entry.name, entry.reference) for entry in entries()]


def missing_references() -> list[str]:
    """Names of registered metrics, methods and terms that name no work of :data:`WORKS` (the test asks for none)."""
    return [entry.name for entry in entries() if not entry.works]


def markdown() -> str:
    """The README's "Citing" list: the works transferscope re-implements, every method with its sources (short
    keys), the full references of those keys, and the software whose authors ask to be cited."""
    listed = entries()
    used = sorted({w for entry in listed for w in entry.works} - set(FOUNDATIONS), key=str.lower)
    lines = ["If you use transferscope, please cite it (`CITATION.cff`) and the works it re-implements:", ""]
    lines += [f"- {key}: {WORKS[key]}" for key in FOUNDATIONS]
    lines += ["", "Methods and where they come from (`python -m transferscope.citations`, from the registries):", ""]
    for entry in listed:
        sources = "; ".join(entry.works) or entry.raw or "no reference given"
        lines.append(f"- {entry.name}: {sources}.")
    lines += ["", "References:", ""]
    lines += [f"- {key}: {WORKS[key]}" for key in used]
    lines += ["", "Software:", ""]
    lines += [f"- {name}: {reference}" for name, reference in SOFTWARE]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
