"""The tests' shared SparkSession is the one a run builds: what the tests prove holds for the production configuration."""
from __future__ import annotations

from curate.pipeline.config import EngineConfig
from curate.pipeline.spark import session


def test_the_shared_session_has_the_production_configuration(spark):
    conf = spark.sparkContext.getConf()
    assert conf.get("spark.python.daemon.module") == "curate.pipeline.spark.daemon"
    assert conf.get("spark.python.worker.reuse") == "true"
    java = conf.get("spark.driver.extraJavaOptions")
    assert "-Dlog4j2.configurationFile=file:" in java and java.split("file:")[1].split()[0].endswith("log4j2.properties")
    # a run finds it active and uses it, rather than building another
    assert session(EngineConfig()) == (spark, False)


def test_python_workers_fork_from_curates_daemon_with_the_stages_imported(spark):
    def forked_from(_):
        import sys

        yield sys.modules["__main__"].__spec__.name, "curate.stages.extract" in sys.modules

    found = spark.sparkContext.parallelize([0, 1], 2).mapPartitions(forked_from).collect()
    assert found == [("curate.pipeline.spark.daemon", True)] * 2


def test_a_plans_arrow_udf_forks_from_the_daemon_of_the_passes(spark):
    """One daemon for the passes (RDD tasks) and the plans' Arrow UDFs (the dedup verdicts): a second one would
    import everything again in every run."""
    def daemon_of_a_pass(_):
        import os

        yield os.getppid()

    def daemon_of_an_arrow_udf(batches):
        import os

        import pyarrow as pa

        for batch in batches:
            yield pa.RecordBatch.from_pydict({"daemon": [os.getppid()] * batch.num_rows})

    passes = set(spark.sparkContext.parallelize([0, 1], 2).mapPartitions(daemon_of_a_pass).collect())
    udfs = {row.daemon for row in spark.range(4, numPartitions=2).mapInArrow(daemon_of_an_arrow_udf, "daemon long")
            .collect()}
    assert len(passes) == 1 and udfs == passes
