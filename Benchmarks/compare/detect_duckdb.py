"""The analyst's alternative: DuckDB over the CSV, the sliding 1 h / 10 min per-caller window over
prison-tower calls (shared/research/perf-anchors.md, `detect_hop`, adapted to celda's dump columns).
Usage: detect_duckdb.py CDR.csv TOWERS.csv PRISONS.csv THREADS; prints the flagged windows count."""
import sys
import duckdb

cdr, towers, prisons, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
con = duckdb.connect()
con.execute(f"SET threads = {threads}")
con.execute("SET TimeZone = 'America/Mexico_City'")
con.execute("""
CREATE OR REPLACE MACRO haversine_m(lat1, lon1, lat2, lon2) AS
    2 * 6371008.8 * asin(sqrt(pow(sin(radians(lat2 - lat1) / 2), 2)
        + cos(radians(lat1)) * cos(radians(lat2)) * pow(sin(radians(lon2 - lon1) / 2), 2)))""")
con.execute(f"""
CREATE OR REPLACE VIEW cdr AS
    SELECT * FROM read_csv('{cdr}', header = true, delim = ',', quote = '', escape = '',
        columns = {{'call_id': 'VARCHAR', 'start_time': 'TIMESTAMPTZ', 'caller': 'VARCHAR', 'callee': 'VARCHAR',
                   'duration_s': 'INTEGER', 'cell_id': 'VARCHAR', 'imei': 'BIGINT', 'imsi': 'BIGINT',
                   'answered': 'INTEGER'}})""")
con.execute(f"""
CREATE OR REPLACE VIEW towers AS
    SELECT printf('%03d-%03d-%d-%d', mcc, net, area, cell) AS cell_id, lat, lon, range
    FROM read_csv('{towers}', header = true)""")
con.execute(f"CREATE OR REPLACE VIEW prisons AS SELECT * FROM read_csv('{prisons}', header = true)")
con.execute("""
CREATE OR REPLACE TABLE prison_cells AS
    SELECT DISTINCT t.cell_id FROM towers t, prisons p
    WHERE haversine_m(t.lat, t.lon, p.lat, p.lon) <= p.radius_m + t.range""")
rows = con.execute("""
WITH calls AS (
    SELECT caller, callee, duration_s, time_bucket(INTERVAL '10 minutes', start_time) AS b
    FROM cdr SEMI JOIN prison_cells USING (cell_id)
)
SELECT caller, b - to_minutes(k * 10) AS window_start,
       count(*) AS n_calls, count(DISTINCT callee) AS n_distinct,
       avg(CASE WHEN duration_s < 60 THEN 1.0 ELSE 0.0 END) AS short_share
FROM calls CROSS JOIN range(6) r(k)
GROUP BY ALL
HAVING n_calls >= 20 AND n_distinct >= 15 AND short_share >= 0.6
ORDER BY caller, window_start""").fetchall()
print(len(rows), "windows", len({r[0] for r in rows}), "callers")
