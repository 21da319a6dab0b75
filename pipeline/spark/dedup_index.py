"""The dedup index on Spark: earlier runs' index rows read into a plan; this run's kept keys written as its index."""
from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from curate.pipeline.output import Output
from curate.stages.dedup import index


def read_earlier(stage, spark: SparkSession, columns: list[str]) -> DataFrame | None:
    """The index rows of the runs in `against` as earlier documents with `columns` (None without `against`)."""
    if not stage.params.against:
        return None
    files = index.earlier_files(stage.params.against, stage.name, stage.index_description())
    if not files:
        return None
    frame = spark.read.parquet(*[Output(root).uri_of(path) for root, path in files])
    return frame.withColumn("earlier", F.lit(True)).withColumn("file_key", F.lit(None).cast("string")) \
        .select(*columns)


def write_index(stage, new: DataFrame, decisions: DataFrame, output: Output) -> None:
    """The key rows of this run's documents that `decisions` does not reject: the run's index."""
    kept = new.join(decisions.where(F.col("reject_reason").isNotNull()), "uid", "left_anti")
    kept.select(*stage.key_schema().names).write.mode("overwrite").parquet(output.uri_of(index.folder(stage.id)))
    index.write_description(output, stage.id, stage.index_description())
