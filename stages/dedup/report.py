"""The run report's dedup section, shared by the dedup stages: cluster sizes of the kept documents
(`dup_cluster_size`) and the documents each dedup stage of the run removed."""
from __future__ import annotations

from collections import Counter

import numpy as np

from curate.pipeline.sections import KEPT, Report, RunView, Section, figure, table
from curate.pipeline.stage import Stage


def cluster_sizes_section(run: RunView, stages: list[Stage]) -> Section | None:
    """The run report's dedup section: the cluster sizes of kept documents, and what each dedup stage removed."""
    sizes = run.values("dup_cluster_size")
    if sizes is None:
        return None
    counts = Counter(sizes.astype(np.int64).tolist())
    ids = {stage.id for stage in stages}
    removed = {r: n for r, n in run.stats["rejected"].items() if r.split(":", 1)[0] in ids}
    plot = figure(8, 3)
    ax = plot.add_subplot()
    xs = sorted(counts)
    ax.bar([str(x) for x in xs], [counts[x] for x in xs], color=KEPT)
    ax.set_yscale("log")
    ax.set_xlabel("cluster size (documents sharing the kept one's content, itself included)")
    ax.set_ylabel("kept documents")
    ax.set_title("dedup cluster sizes of kept documents", fontsize=10)
    rows = [[str(x), counts[x], counts[x] * x] for x in xs]
    body = [run.plot("dedup", plot), table(["cluster size", "kept documents", "documents in those clusters"], rows)]
    if removed:
        body.append(table(["reason", "documents removed"], [[r, n] for r, n in removed.items()]))
    return Section("dedup", "Deduplication", body)


CLUSTER_SIZES = Report(cluster_sizes_section)  # the dedup stages' one section between them
