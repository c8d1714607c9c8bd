"""The same sliding window in polars (group_by_dynamic every 10 min, period 1 h, by caller) over
prison-tower calls. Usage: detect_polars.py CDR.csv TOWERS.csv PRISONS.csv THREADS."""
import os
import sys

os.environ["POLARS_MAX_THREADS"] = sys.argv[4]
import polars as pl  # noqa: E402

cdr, towers, prisons = sys.argv[1], sys.argv[2], sys.argv[3]
t = pl.read_csv(towers)
p = pl.read_csv(prisons)
t = t.with_columns(
    pl.format("{}-{}-{}-{}", pl.col("mcc").cast(pl.Utf8).str.zfill(3), pl.col("net").cast(pl.Utf8).str.zfill(3),
              pl.col("area"), pl.col("cell")).alias("cell_id"))
pairs = t.join(p.select(["lat", "lon", "radius_m"]).rename({"lat": "plat", "lon": "plon"}), how="cross")
r = 6371008.8
d = pairs.with_columns(
    (2 * r * ((((pl.col("plat") - pl.col("lat")).radians() / 2).sin() ** 2
               + pl.col("lat").radians().cos() * pl.col("plat").radians().cos()
               * (((pl.col("plon") - pl.col("lon")).radians() / 2).sin() ** 2)).sqrt().arcsin())).alias("m"))
cells = d.filter(pl.col("m") <= pl.col("radius_m") + pl.col("range")).select("cell_id").unique()
q = (
    pl.scan_csv(cdr, schema_overrides={"caller": pl.Utf8, "callee": pl.Utf8, "cell_id": pl.Utf8})
    .join(cells.lazy(), on="cell_id", how="semi")
    .with_columns(pl.col("start_time").str.to_datetime("%Y-%m-%dT%H:%M:%S%z"))
    .sort("start_time")
    .group_by_dynamic("start_time", every="10m", period="1h", group_by="caller")
    .agg(pl.len().alias("n"), pl.col("callee").n_unique().alias("d"),
         (pl.col("duration_s") < 60).mean().alias("s"))
    .filter((pl.col("n") >= 20) & (pl.col("d") >= 15) & (pl.col("s") >= 0.6))
)
out = q.collect()
print(out.height, "windows", out["caller"].n_unique(), "callers")
