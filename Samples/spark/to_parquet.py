"""Rewrites a CSV dump as one Parquet file, rows in file order and every column as text.

    spark-submit --master 'local[2]' to_parquet.py DUMP.csv[.gz] OUT.parquet
"""

import sys

from pyspark.sql import SparkSession


def main(src, dst):
    spark = (SparkSession.builder.appName("celda-to-parquet")
             .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .getOrCreate())
    spark.sparkContext.setLogLevel("WARN")
    df = spark.read.csv(src, header=True, quote='"', escape='"', inferSchema=False)
    # One partition keeps the rows in the order they stand in the file.
    df.coalesce(1).write.mode("overwrite").parquet(dst)
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
