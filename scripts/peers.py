#!/usr/bin/env python3
"""DuckDB as a peer in scripts/bench, and the table of figures it prints.

    peers.py import DB CSV          read_csv of the breakdown CSV into table `breakdown`
    peers.py export DB OUT          COPY the table to CSV in the export's order and format
    peers.py query DB FROM TO       best of five: downloads per repository in FROM..TO
    peers.py views DB FROM TO REPO  best of five of each dashboard view's questions (below)
    peers.py table RESULTS [TOOL PEER...]
                                    print RESULTS (lines `measure<TAB>tool<TAB>value<TAB>unit`)
                                    with each peer's ratio hubstats/peer (or TOOL/PEER)
    peers.py ingest FORMAT LOG OUT  downloads per repository-day of a request log (hf-csv, jsonl
                                    or nginx) under the Hub's rules, as CSV
                                    `repoType,repoName,day,downloads`
    peers.py same-counts OUT CSV... whether OUT holds the counts of the breakdown CSVs

DuckDB keeps the day as a DATE (the CSV's timestamp is always midnight UTC) and writes it back
in the export's `YYYY-MM-DDT00:00:00.000Z` form. No index: DuckDB scans.
"""

import sys
import time

TOOLS = ("hubstats", "sqlite3", "duckdb")


def connect(db):
    import duckdb  # imported here so `table` runs without DuckDB installed

    return duckdb.connect(db)


def import_csv(db, csv):
    con = connect(db)
    con.execute(
        """CREATE TABLE breakdown AS
           SELECT repoType, repoName, total, CAST("timestamp" AS DATE) AS day, downloads
           FROM read_csv(?, header = true, columns = {
               'repoType': 'VARCHAR', 'repoName': 'VARCHAR', 'total': 'BIGINT',
               'timestamp': 'TIMESTAMP', 'downloads': 'BIGINT'})""",
        [csv],
    )
    con.close()


def export_csv(db, out):
    con = connect(db)
    # 'model' > 'dataset': models first, then names in byte order, then days.
    con.execute(
        f"""COPY (SELECT repoType, repoName, total,
                         strftime(day, '%Y-%m-%dT00:00:00.000Z') AS "timestamp", downloads
                  FROM breakdown ORDER BY repoType DESC, repoName, day)
            TO '{out}' (HEADER, DELIMITER ',')"""
    )
    con.close()


def query(db, first, last):
    con = connect(db)
    sql = """SELECT repoType, repoName, SUM(downloads) FROM breakdown
             WHERE day BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)
             GROUP BY repoType, repoName"""
    best, rows = float("inf"), 0
    for _ in range(5):
        started = time.perf_counter()
        rows = len(con.execute(sql, [first, last]).fetchall())
        best = min(best, time.perf_counter() - started)
    print(f"{best * 1000:.1f} ms ({rows} results)")


def best_ms(con, queries):
    """Best of five of running every (sql, params) of `queries` in turn, in ms."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for sql, params in queries:
            con.execute(sql, params).fetchall()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def views(db, first, last, repo):
    """The questions each dashboard view asks, as DuckDB would answer them: period totals by
    type (and the previous period), the organization's series, the table's top 50 by
    downloads with their daily series, a search, one repository's days."""
    con = connect(db)
    prev_last = "CAST(? AS DATE) - INTERVAL 1 DAY"
    prev_first = "CAST(? AS DATE) - INTERVAL 30 DAY"
    totals = ("SELECT repoType, SUM(downloads) FROM breakdown WHERE day BETWEEN CAST(? AS DATE) "
              "AND CAST(? AS DATE) GROUP BY 1", [first, last])
    previous = (f"SELECT repoType, SUM(downloads) FROM breakdown WHERE day BETWEEN {prev_first} "
                f"AND {prev_last} GROUP BY 1", [first, first])
    series = ("SELECT day, repoType, SUM(downloads) FROM breakdown WHERE day BETWEEN "
              "CAST(? AS DATE) AND CAST(? AS DATE) GROUP BY 1, 2 ORDER BY 1", [first, last])
    all_totals = ("SELECT repoType, SUM(total) FROM (SELECT DISTINCT repoType, repoName, total "
                  "FROM breakdown) GROUP BY 1", [])
    all_series = ("SELECT date_trunc('month', day), repoType, SUM(downloads) FROM breakdown "
                  "GROUP BY 1, 2 ORDER BY 1", [])

    def page(where, params, by_total=False):
        order = "MAX(total)" if by_total else "SUM(downloads)"
        rng = "" if by_total else "AND day BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)"
        rparams = [] if by_total else [first, last]
        top = (f"SELECT repoType, repoName FROM breakdown WHERE {where} {rng} GROUP BY 1, 2 "
               f"ORDER BY {order} DESC, 1 DESC, 2 LIMIT 50")
        return (f"SELECT b.repoType, b.repoName, b.day, b.downloads FROM breakdown b JOIN ({top}) t "
                f"USING (repoType, repoName) WHERE TRUE {rng.replace('day', 'b.day')} ORDER BY 1, 2, 3",
                params + rparams + rparams)

    one = ("SELECT day, downloads FROM breakdown WHERE repoType = 'model' AND repoName = ? "
           "ORDER BY day", [repo])
    cases = {
        "overview, last month": [totals, previous, series],
        "overview, all time": [all_totals, all_series],
        "table page 1, last month": [page("TRUE", [])],
        "table page 1, all time": [page("TRUE", [], by_total=True)],
        "search ll, page 1": [page("repoName ILIKE '%ll%'", [])],
        "one repository, all time, daily": [one],
        "dashboard page (HTML)": [totals, previous, series, page("TRUE", [])],
    }
    for name, queries in cases.items():
        print(f"{name}\t{best_ms(con, queries):.1f}")


# Each log format as the events hubstats keeps: (repo_type, repo_name, at_ms, method, status,
# path, user_id, ip). Only the columns counting uses are read.
LOG_EVENTS = {
    "hf-csv": """
        SELECT repoType AS repo_type, repoName AS repo_name, epoch_ms("timestamp") AS at_ms,
               upper(method) AS method, status, NULL::VARCHAR AS path,
               hashedUserId AS user_id, hashedIp AS ip
        FROM read_csv(?, header = true, auto_detect = false, columns = {
            'timestamp': 'TIMESTAMPTZ', 'status': 'INTEGER', 'method': 'VARCHAR',
            'repoName': 'VARCHAR', 'repoType': 'VARCHAR', 'hashedUserId': 'VARCHAR',
            'hashedIp': 'VARCHAR', 'country': 'VARCHAR', 'region': 'VARCHAR',
            'userAgent': 'VARCHAR'})""",
    "jsonl": """
        SELECT repoType AS repo_type, repoName AS repo_name, epoch_ms("timestamp") AS at_ms,
               upper(method) AS method, status, ltrim(path, '/') AS path,
               hashedUserId AS user_id, hashedIp AS ip
        FROM read_json(?, format = 'newline_delimited', columns = {
            'timestamp': 'TIMESTAMPTZ', 'method': 'VARCHAR', 'status': 'INTEGER',
            'repoType': 'VARCHAR', 'repoName': 'VARCHAR', 'path': 'VARCHAR',
            'hashedUserId': 'VARCHAR', 'hashedIp': 'VARCHAR'})""",
    # The combined format by regexp; the URL's repository type, name and file by a second one
    # (`/{org}/{name}/resolve/{rev}/{path}`, `/datasets/…`, `/spaces/…`). The downloader is
    # the user when not `-`, else the address (hubstats hashes both; equality is the same).
    "nginx": r"""
        SELECT CASE u.kind WHEN '' THEN 'model' WHEN 'datasets' THEN 'dataset' ELSE 'space' END
                   AS repo_type,
               u.name AS repo_name,
               epoch_ms(strptime(f.time, '%d/%b/%Y:%H:%M:%S %z')) AS at_ms,
               upper(f.method) AS method, CAST(f.status AS INTEGER) AS status, u.path,
               CASE WHEN f.user NOT IN ('-', '') THEN f.user END AS user_id,
               CASE WHEN f.user IN ('-', '') THEN f.addr END AS ip
        FROM (SELECT f, regexp_extract(f.url,
                     '^/(?:(datasets|spaces)/)?([^/?#]+/[^/?#]+)/resolve/[^/?#]+/([^?#]+)',
                     ['kind', 'name', 'path']) AS u
              FROM (SELECT regexp_extract(line,
                           '^(\S+) \S+ (\S+) \[([^\]]+)\] "(\S+) (\S+)[^"]*" (\d{3}) ',
                           ['addr', 'user', 'time', 'method', 'url', 'status']) AS f
                    FROM read_csv(?, header = false, auto_detect = false, delim = '	',
                                  quote = '', escape = '', columns = {'line': 'VARCHAR'})))
        WHERE u.name <> ''""",
}


def ingest(fmt, log, out):
    """Counts a log as hubstats does: the distinct events; candidates (GET/HEAD with 200, 302,
    304, 307; no spaces); models: every candidate without a path, else root query files and
    `*.gguf`; datasets: one per downloader (user, else address, else the request itself) per
    5-minute UTC window. Writes the repository-days with downloads, sorted."""
    con = connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    events = LOG_EVENTS[fmt]
    con.execute(
        f"""COPY (
            WITH ev AS (SELECT DISTINCT * FROM ({events})),
            c AS (SELECT *, at_ms // 86400000 AS day FROM ev
                  WHERE repo_type IN ('model', 'dataset') AND method IN ('GET', 'HEAD')
                    AND status IN (200, 302, 304, 307))
            SELECT repo_type, repo_name, DATE '1970-01-01' + CAST(day AS INTEGER) AS day,
                   CASE repo_type
                       WHEN 'model' THEN count(*) FILTER (WHERE path IS NULL
                           OR path IN ('config.json', 'config.yaml', 'hyperparams.yaml',
                                       'params.json', 'meta.yaml')
                           OR regexp_matches(path, '(^|/)[^/]+\.gguf$'))
                       ELSE count(DISTINCT (at_ms // 300000, coalesce('u' || user_id,
                           'i' || ip, 'e' || CAST(hash(at_ms, method, status, path) AS VARCHAR))))
                   END AS downloads
            FROM c GROUP BY repo_type, repo_name, day HAVING downloads > 0 ORDER BY ALL
        ) TO '{out}' (HEADER, DELIMITER ',')""",
        [log],
    )
    con.close()


def same_counts(out, *exports):
    """Compares `peers.py ingest`'s output with hubstats' breakdown exports, row by row."""
    import csv

    ours = set()
    for path in exports:
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                ours.add((row["repoType"], row["repoName"], row["timestamp"][:10],
                          int(row["downloads"])))
    with open(out, newline="", encoding="utf-8") as f:
        theirs = {(r["repo_type"], r["repo_name"], r["day"], int(r["downloads"]))
                  for r in csv.DictReader(f)}
    if ours == theirs:
        print(f"same counts: {len(ours)} repository-days, {sum(r[3] for r in ours)} downloads")
        return
    print(f"counts DIFFER: {len(ours - theirs)} repository-days only in hubstats, "
          f"{len(theirs - ours)} only in DuckDB; e.g. {sorted(ours ^ theirs)[:4]}")
    sys.exit(1)


def show(value, unit):
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "MiB":
        return f"{value:.0f} MiB"
    if unit in ("rows/s", "MB/s"):
        return f"{value:,.0f} {unit}"
    return f"{value:g} {unit}"


def table(path, *tools):
    """The figures of each measure by tool; TOOLS unless others are given, the first being
    ours and each other a peer with the ratio ours/peer."""
    tools = tools or TOOLS
    rows, units = {}, {}
    for line in open(path, encoding="utf-8"):
        measure, tool, value, unit = line.rstrip("\n").split("\t")
        rows.setdefault(measure, {})[tool] = float(value)
        units[measure] = unit
    width = max(len(m) for m in rows) + 2
    print(f"{'measurement':<{width}}{tools[0]:>12}" + "".join(f"{t:>24}" for t in tools[1:]))
    for measure, by_tool in rows.items():
        unit = units[measure]
        ours = by_tool.get(tools[0])
        cells = [show(ours, unit) if ours is not None else "-"]
        for peer in tools[1:]:
            theirs = by_tool.get(peer)
            if theirs is None:
                cells.append("-")
            elif ours is None or theirs == 0:
                cells.append(show(theirs, unit))
            else:
                cells.append(f"{show(theirs, unit)} ({ours / theirs:.2f}x)")
        print(f"{measure:<{width}}{cells[0]:>12}" + "".join(f"{c:>24}" for c in cells[1:]))
    print(f"(x) = {tools[0]} / peer: below 1 means {tools[0]} took less time or memory.")
    if tools == TOOLS:
        print("DuckDB's import and export include starting Python and loading duckdb. The HTTP")
        print("rows time one API table page (sums, sort, 50 rows with their series) against the")
        print("peers' bare GROUP BY.")


def main(args):
    commands = {
        "import": (import_csv, 2),
        "export": (export_csv, 2),
        "query": (query, 3),
        "views": (views, 4),
        "table": (table, (1, None)),
        "ingest": (ingest, 3),
        "same-counts": (same_counts, None),
    }
    if not args or args[0] not in commands:
        sys.exit(__doc__)
    run, arity = commands[args[0]]
    given = len(args) - 1
    if arity is None:
        arity = (2, None)
    low, high = arity if isinstance(arity, tuple) else (arity, arity)
    if given < low or (high is not None and given > high):
        sys.exit(__doc__)
    run(*args[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
