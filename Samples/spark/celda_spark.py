"""Celda on Apache Spark: the alert log of one `celda analyze`, computed by a cluster.

    spark-submit [--master ...] --files celda,towers.csv[,...] celda_spark.py \
        --input DUMP [DUMP ...] --out DIR [--towers towers.csv] [--partitions N]

Plan (every step is Spark SQL `TRANSFORM ... USING './celda spark ...'`, so the rows go from
the JVM to the binary and back with no Python on the data path):

  0. normalise (map only): each input split through `celda spark normalize`, which decodes rows
     with celda's own decoder (numbers to E.164, cells, times) and says under which key group
     each detector family takes a record; persisted.
     The earliest start of every 10-minute bucket is collected (the engine's event-time ticks).
  1. one keyed pass per family (line, victim, tower, device): the records (twice where a family
     takes them under a second key, with a role column) `repartition(N, key group)`,
     `sortWithinPartitions(key, role)`, piped through `celda spark family`.
  2. the findings of every pass, in one partition, through `celda spark finish`: second stages
     (victim confirmation, alliance, virtual kidnapping) and the sorted alert log.

The log is written to DIR/alerts.jsonl (byte for byte what `celda analyze` writes for the same
rows), with DIR/summary.json. A celda failure fails the job (TRANSFORM fails the task when the
command exits non-zero) and this script exits non-zero.
"""

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
import uuid

FAMILIES = ["line", "victim", "tower", "device"]
NORM_COLUMNS = [
    "kind", "k", "t", "tb", "h",
    "line_p", "line_s", "victim_p", "victim_s", "tower_p", "tower_s", "device_p", "device_s",
    "call_id", "a_name", "b_name", "cell_name",
]
FAMILY_INPUT = ["role", "k", "h", "call_id", "a_name", "b_name", "cell_name"]


def parse_args(argv):
    p = argparse.ArgumentParser(description="Run celda over a CDR dump on Spark.")
    p.add_argument("--input", nargs="+", required=True, help="dump files or directories (CSV, .csv.gz, Parquet)")
    p.add_argument("--format", choices=["csv", "parquet"], help="input format (default: parquet for *.parquet, else csv)")
    p.add_argument("--out", required=True, help="output directory (alerts.jsonl, summary.json, rejects/)")
    p.add_argument("--celda", default="./celda", help="the binary as executors see it (default ./celda, shipped with --files)")
    p.add_argument("--partitions", type=int, help="partitions per family pass (default spark.sql.shuffle.partitions)")
    for name in ["towers", "prisons", "config", "allowlist", "watchlist", "mapping"]:
        p.add_argument("--" + name, help=f"celda --{name} (a file shipped with --files: give its name)")
    p.add_argument("--timezone", help="celda --timezone")
    p.add_argument("--country-code", help="celda --country-code")
    p.add_argument("--date-order", help="celda --date-order")
    p.add_argument("--sep", default=",", help="CSV delimiter for Spark's reader (default ,)")
    p.add_argument("--encoding", default="UTF-8", help="CSV encoding for Spark's reader (default UTF-8)")
    p.add_argument("--multiline", action="store_true", help="CSV fields may hold line breaks (files are then not split)")
    p.add_argument("--ui", action="store_true", help="keep the Spark web UI on (off by default)")
    p.add_argument("--adaptive-coalesce", action="store_true",
                   help="let adaptive execution coalesce small shuffle partitions (results are the same: whole key "
                        "groups stay together; only the number of celda processes changes)")
    p.add_argument("--wrong-key", choices=FAMILIES,
                   help="TESTING ONLY: distribute this family by another family's key (the log must then differ)")
    return p.parse_args(argv)


def celda_options(a):
    """The reference data and settings every stage gets (relative to the SparkFiles directory)."""
    out = []
    for name in ["towers", "prisons", "config", "allowlist", "watchlist", "mapping"]:
        v = getattr(a, name)
        if v:
            out += ["--" + name, v]
    for flag, v in [("--timezone", a.timezone), ("--country-code", a.country_code), ("--date-order", a.date_order)]:
        if v:
            out += [flag, v]
    return out


def command(a, *words):
    return " ".join(shlex.quote(w) for w in [a.celda, "spark", *words, *celda_options(a)])


def session(a):
    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    conf = SparkConf()
    master = conf.get("spark.master", "local[2]")
    b = SparkSession.builder.appName("celda")
    if not conf.contains("spark.master"):
        b = b.master(master)
    local = master.startswith("local")
    if local:
        # Loopback only: never advertise or bind a LAN address (SPARK_LOCAL_IP covers the UI too).
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        b = b.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
    if not a.ui:
        b = b.config("spark.ui.enabled", "false")
    b = b.config("spark.ui.showConsoleProgress", "false").config("spark.sql.session.timeZone", "UTC")
    if not a.adaptive_coalesce:
        b = b.config("spark.sql.adaptive.coalescePartitions.enabled", "false")
    # celda runs outside the JVM heap: reserve its memory on top of the executor's, or YARN and
    # Kubernetes kill the container. One celda process per task, single-threaded.
    if not conf.contains("spark.executor.memoryOverhead"):
        b = b.config("spark.executor.memoryOverhead", "2g")
    return b.getOrCreate()


def escaped(c):
    """A raw column as text with backslash, tab, LF and CR escaped (what celda spark normalize reads)."""
    from pyspark.sql import functions as F

    v = F.coalesce(F.col(c).cast("string"), F.lit(""))
    for pattern, repl in [("\\\\", "\\\\\\\\"), ("\t", "\\\\t"), ("\n", "\\\\n"), ("\r", "\\\\r")]:
        v = F.regexp_replace(v, pattern, repl)
    return v


def as_text(df):
    """Timestamps as RFC 3339 UTC (Parquet inputs); everything else cast to string."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DateType, TimestampType

    cols = []
    for f in df.schema.fields:
        if isinstance(f.dataType, TimestampType):
            cols.append(F.date_format(F.col(f.name), "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'").alias(f.name))
        elif isinstance(f.dataType, DateType):
            cols.append(F.date_format(F.col(f.name), "yyyy-MM-dd").alias(f.name))
        else:
            cols.append(F.col(f.name).cast("string").alias(f.name))
    return df.select(*cols)


def transform(spark, view, inputs, cmd, outputs):
    cols = ", ".join(f"`{c}`" for c in inputs)
    schema = ", ".join(f"`{c}` STRING" for c in outputs)
    literal = cmd.replace("\\", "\\\\").replace("'", "\\'")
    return spark.sql(
        f"SELECT TRANSFORM ({cols}) ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\t' "
        f"USING '{literal}' AS ({schema}) ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\t' FROM {view}")


def write_one_file(spark, df, directory, name):
    """Writes a one-column DataFrame as one text file DIR/NAME, in order (Hadoop FS: local, HDFS, S3)."""
    tmp = directory.rstrip("/") + "/_" + name + ".parts"
    df.write.mode("overwrite").text(tmp)
    jvm = spark._jvm
    conf = spark._jsc.hadoopConfiguration()
    path = jvm.org.apache.hadoop.fs.Path(tmp)
    fs = path.getFileSystem(conf)
    target = jvm.org.apache.hadoop.fs.Path(directory.rstrip("/") + "/" + name)
    fs.delete(target, False)
    parts = sorted(s.getPath().toString() for s in fs.listStatus(path) if s.getPath().getName().startswith("part-"))
    if not parts:
        fs.create(target).close()
    else:
        assert len(parts) == 1, parts
        fs.rename(jvm.org.apache.hadoop.fs.Path(parts[0]), target)
    fs.delete(path, True)


def main(argv):
    a = parse_args(argv)
    started = time.time()
    spark = session(a)
    spark.sparkContext.setLogLevel("WARN")
    from pyspark.sql import functions as F
    from pyspark import StorageLevel

    sc = spark.sparkContext
    n = a.partitions or int(spark.conf.get("spark.sql.shuffle.partitions"))
    fmt = a.format or ("parquet" if all(p.rstrip("/").endswith(".parquet") for p in a.input) else "csv")
    if fmt == "parquet":
        raw = spark.read.parquet(*a.input)
    else:
        # RFC 4180 as celda reads it: "" for a quote inside quotes, every column as text.
        raw = spark.read.csv(list(a.input), header=True, sep=a.sep, encoding=a.encoding, quote='"', escape='"',
                             multiLine=a.multiline, inferSchema=False, mode="PERMISSIVE")
    raw = as_text(raw)
    columns = raw.columns
    if any("," in c for c in columns):
        sys.exit("celda_spark: a column name holds a comma: " + ", ".join(columns))
    # Input index: the file's place in the sorted list, as `celda analyze` numbers sorted inputs.
    files = sorted(raw.inputFiles())
    rank = F.create_map(*[F.lit(x) for i, f in enumerate(files) for x in (f, str(i))])
    staged = raw.select(
        F.coalesce(rank[F.input_file_name()], F.lit("-1")).alias("_i"),
        F.monotonically_increasing_id().cast("string").alias("_p"),
        *[escaped(c).alias(f"c{j}") for j, c in enumerate(columns)])
    staged.createOrReplaceTempView("celda_raw")

    # Stage 0.
    norm = transform(spark, "celda_raw", ["_i", "_p"] + [f"c{j}" for j in range(len(columns))],
                     command(a, "normalize", "--columns", ",".join(columns)), NORM_COLUMNS)
    norm = norm.select(*[F.coalesce(F.col(c), F.lit("")).alias(c) for c in NORM_COLUMNS])
    norm = norm.persist(StorageLevel.MEMORY_AND_DISK)
    counters = {r["k"]: int(r["v"]) for r in
                norm.where("kind = 'C'").groupBy("k").agg(F.sum(F.col("t").cast("long")).alias("v")).collect()}
    records = norm.where("kind = 'R'")
    buckets = [r["m"] for r in records.groupBy("tb").agg(F.min(F.col("t").cast("long")).alias("m")).collect()]
    ticks = os.path.join(tempfile.mkdtemp(prefix="celda-spark-"), f"celda-ticks-{uuid.uuid4().hex}.txt")
    with open(ticks, "w") as f:
        f.write("".join(f"{m}\n" for m in sorted(buckets)))
    sc.addFile(ticks)
    tick_name = os.path.basename(ticks)
    stage0 = time.time()

    # Stage 1: one keyed pass per family.
    keys = {f: (f + "_p", f + "_s") for f in FAMILIES}
    if a.wrong_key:
        other = "line" if a.wrong_key != "line" else "victim"
        keys[a.wrong_key] = keys[other]
    outputs = []
    for fam in FAMILIES:
        p, s = keys[fam]
        copies = records.where(f"CAST({p} AS INT) >= 0").select(
            F.lit("P").alias("role"), F.col(p).cast("int").alias("g"), *FAMILY_INPUT[1:])
        if fam in ("line", "victim"):
            copies = copies.unionByName(records.where(f"CAST({s} AS INT) >= 0").select(
                F.lit("S").alias("role"), F.col(s).cast("int").alias("g"), *FAMILY_INPUT[1:]))
        # Whole key groups per partition (Murmur3 of the group, pmod N), each in the engine's order.
        copies.repartition(n, "g").sortWithinPartitions("k", "role").createOrReplaceTempView(f"celda_{fam}")
        outputs.append(transform(spark, f"celda_{fam}", FAMILY_INPUT,
                                 command(a, "family", "--family", fam, "--ticks", tick_name),
                                 ["kind", "tag", "seq", "data"]))
    found = outputs[0]
    for o in outputs[1:]:
        found = found.unionByName(o)
    found = found.persist(StorageLevel.MEMORY_AND_DISK)
    for r in found.where("kind = 'C'").groupBy("tag").agg(F.sum(F.col("seq").cast("long")).alias("v")).collect():
        counters["pass:" + r["tag"]] = int(r["v"])
    passes = found.where("kind = 'F'").select("tag").distinct().count()
    stage1 = time.time()

    # Stage 2: second stages and the sorted log, in one celda process.
    # Sorted by pass, so that finish folds one pass at a time and holds one pass's text.
    (found.where("kind = 'F'").repartition(1)
     .sortWithinPartitions("tag", F.split("seq", "/").getItem(0).cast("int"))
     .createOrReplaceTempView("celda_findings"))
    log = transform(spark, "celda_findings", ["kind", "tag", "seq", "data"], command(a, "finish"), ["line"])
    log = log.persist(StorageLevel.MEMORY_AND_DISK)
    write_one_file(spark, log.coalesce(1), a.out, "alerts.jsonl")
    by_detector = {r["d"]: r["count"] for r in
                   log.select(F.get_json_object("line", "$.detector").alias("d")).groupBy("d").count().collect()}
    rejects = norm.where("kind = 'X'")
    if counters.get("rows_rejected", 0) > 0:
        write_one_file(spark, rejects.select(F.concat_ws("\t", "k", "t", "call_id").alias("line")).coalesce(1),
                       a.out, "rejects.tsv")
    done = time.time()
    summary = {
        "rows_read": counters.get("rows_read", 0),
        "rows_accepted": counters.get("rows_accepted", 0) - counters.get("pass:rows_duplicate:line", 0),
        "rows_rejected": counters.get("rows_rejected", 0),
        "rows_skipped": counters.get("rows_skipped", 0),
        "rows_duplicate": counters.get("pass:rows_duplicate:line", 0),
        "rejected_by_reason": {k[9:]: v for k, v in counters.items() if k.startswith("rejected:")},
        "skipped_by_reason": {k[8:]: v for k, v in counters.items() if k.startswith("skipped:")},
        "records_unlocated": counters.get("records_unlocated", 0),
        "records_prison_linked": counters.get("records_prison_linked", 0),
        "records_allowlisted": counters.get("records_allowlisted", 0),
        "alerts": sum(by_detector.values()),
        "alerts_by_detector": dict(sorted(by_detector.items())),
        "keyed_alerts_by_family": {k[18:]: v for k, v in counters.items() if k.startswith("pass:alerts_keyed:")},
        "family_passes": passes,
        "partitions_per_family": n,
        "spark_version": spark.version,
        "master": sc.master,
        "seconds": {"normalise": round(stage0 - started, 2), "families": round(stage1 - stage0, 2),
                    "finish": round(done - stage1, 2), "total": round(done - started, 2)},
    }
    text = json.dumps(summary, indent=1, sort_keys=False)
    if "://" in a.out:
        write_one_file(spark, spark.createDataFrame([(text,)], ["line"]).coalesce(1), a.out, "summary.json")
    else:
        with open(os.path.join(a.out, "summary.json"), "w") as f:
            f.write(text + "\n")
    print("celda_spark: " + json.dumps({k: summary[k] for k in ["rows_read", "alerts", "seconds"]}), file=sys.stderr)
    spark.stop()
    os.remove(ticks)
    os.rmdir(os.path.dirname(ticks))


if __name__ == "__main__":
    main(sys.argv[1:])
