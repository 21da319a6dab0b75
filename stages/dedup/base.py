"""What the corpus-level dedup stages (`exact_dedup`, `minhash_dedup`) share: a keep policy and an index.

The engines' plans reach both through the stage they are given (they import nothing from `curate.stages`): the keep
policy's declared ordering and its pure decisions (:mod:`curate.stages.dedup.keep`), and where the stage's index is
and which earlier indexes it dedups against (:mod:`curate.stages.dedup.index`).
"""
from __future__ import annotations

import pyarrow as pa

from curate.pipeline.output import Output
from curate.pipeline.stage import GlobalStage
from curate.stages.dedup import index, keep


class DedupStage(GlobalStage):
    """A global stage that keeps one document of each group of duplicates, and writes the keys of those it keeps."""

    files = ("against",)  # earlier runs' outputs or index folders

    @property
    def rank_column(self) -> str | None:
        """The key column the keep policy ranks by, largest first (None: by id alone)."""
        raise NotImplementedError

    def keep_order(self) -> keep.Order:
        return keep.order(self.rank_column)

    def member_columns(self) -> list[str]:
        """What a group member carries to the decision: the keep order's columns and its input file."""
        return [name for name, _ in self.keep_order()] + ["file_key"]

    def winners(self, rows: list[dict]) -> list[dict]:
        """One group's key rows (an earlier run's with `earlier` true and no `file_key`) → this run's members with
        their group's winner (`keep.winners`); none for a group of one, as most hashes of a corpus are."""
        return keep.winners(rows, self.keep_order())

    def label(self, members: list[dict]) -> list[dict]:
        """Members with their winners, from any number of groups → their decision rows (`keep.verdicts`)."""
        return keep.verdicts(pa.Table.from_pylist(members, schema=keep.MEMBERS)).to_pylist()

    verdicts = staticmethod(keep.verdicts)

    def index_folder(self) -> str:
        """Where a run writes this stage's index, relative to its output."""
        return index.folder(self.id)

    def earlier_index_files(self) -> list[tuple[str, str]]:
        """The index files of the runs in `against`, as (root URI, path under it), as their `index.json` lists
        them; their bytes were checked against its hashes when the run was planned (`check_files`)."""
        return index.earlier_files(self.params.against, self.name, self.index_description(), hashes=False)

    def check_files(self) -> None:
        """Every index in `against` is whole (each file its `index.json` lists is there, of its size and hash) and
        built with this stage's parameters: refused in one line before the run, never read in part."""
        index.earlier_files(self.params.against, self.name, self.index_description())

    def write_index_description(self, output: Output) -> None:
        """`index.json`, after the index's Parquet files are whole: the description and the files' sizes and
        hashes."""
        index.write_description(output, self.id, self.index_description())

    def index_description(self) -> dict:
        """What the index's keys depend on: an index built otherwise cannot be matched against."""
        raise NotImplementedError
