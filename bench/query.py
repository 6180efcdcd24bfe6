"""Benchmark of "within 50 m of a river": hehu's index against the usual ways to ask it.

Run: ``.venv/bin/python -m bench.query`` (options: ``--points``, ``--rivers``,
``--no-postgis``, ``--seed``).

A deterministic synthetic district (seeded): 300 winding rivers (random walks of 60 m
steps, 6-42 km long) and 1,000,000 violation points spread evenly over Jintan's extent,
in EPSG:4549. Measured in the same run:

- single river: every point within 50 m of the longest river, warm (median of runs);
- all rivers: the number of points within 50 m of each of the 300 rivers;
- keeping current: 1,000 inserts, then the next query, against rebuilding the index.

Baselines: (a) naive geopandas ``distance() <= 50``; (b) a plain shapely STRtree over
the points queried with each whole river; (c) PostGIS ``ST_DWithin`` with a GiST index,
on whole rivers and on pre-split pieces (hehu's size and 8 vertices), on a local PostgreSQL that
this script starts in a temporary folder (Debian packages ``postgresql`` and
``postgresql-15-postgis-3``; the output says so when they are missing); (d) an ``rtree``
(libspatialindex) index, the incremental alternative to hehu's STRtree plus delta.
Every method's answer is checked against the others. Ratios are against hehu.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import from_metric, to_metric
from geo.query import count_near, rows_near
from geo.spatial_index import PIECE_VERTICES, LayerIndex, split_lines

DISTANCE_M = 50.0
HEHU = f"hehu (STRtree over {PIECE_VERTICES}-vertex pieces + delta)"
# Jintan's extent in EPSG:4549 metres (119.32-119.72E, 31.55-31.95N, rounded).
EXTENT = (450_000.0, 3_491_000.0, 488_000.0, 3_535_000.0)


def timed(fn: Callable[[], object], repeat: int = 1, warmup: int = 0) -> tuple[float, object]:
    """Median wall time in seconds over ``repeat`` runs, and the last result."""
    result = None
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def make_workload(n_points: int, n_rivers: int, seed: int):
    """Rivers (metric LineStrings) and points (lon/lat frame + metric array), seeded."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = EXTENT
    rivers = []
    for _ in range(n_rivers):
        n = int(rng.integers(100, 700))
        heading = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.25, n))
        steps = np.c_[np.cos(heading), np.sin(heading)] * 60.0
        start = rng.uniform([minx, miny], [maxx, maxy])
        coords = start + np.cumsum(steps, axis=0)
        coords[:, 0] = np.clip(coords[:, 0], minx, maxx)
        coords[:, 1] = np.clip(coords[:, 1], miny, maxy)
        rivers.append(shapely.LineString(coords))
    rivers = np.array(rivers, dtype=object)
    xy = rng.uniform([minx, miny], [maxx, maxy], size=(n_points, 2))
    lonlat = from_metric(shapely.points(xy))
    frame = gpd.GeoDataFrame(
        {"code": pd.array([f"QSL-{i:07d}" for i in range(1, n_points + 1)], dtype=object)},
        geometry=lonlat,
        index=pd.Index(np.arange(1, n_points + 1, dtype=np.int64), name="fid"),
        crs="EPSG:4326",
    )
    return rivers, frame


# -- PostGIS --------------------------------------------------------------------------------


class PostGIS:
    """A throwaway PostgreSQL + PostGIS cluster in a temporary folder."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.conn = None
        self.reason = ""
        self.version = ""
        self.started = False

    def start(self) -> bool:
        try:
            import psycopg
        except ImportError:
            self.reason = "psycopg is not installed (pip install -e .[bench])"
            return False
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            self.reason = "PostgreSQL is not installed (apt-get install postgresql postgresql-15-postgis-3)"
            return False
        bindir = Path(bins[-1]).parent
        major = bindir.parent.name
        if not Path(f"/usr/share/postgresql/{major}/extension/postgis.control").exists():
            self.reason = f"PostGIS for PostgreSQL {major} is not installed (apt-get install postgresql-{major}-postgis-3)"
            return False
        self.pg_ctl = str(bindir / "pg_ctl")
        self.data = self.workdir / "pgdata"
        self.sock = self.workdir / "sock"
        self.sock.mkdir()
        run_as: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            run_as = ["runuser", "-u", "postgres", "--"]
            os.chmod(self.workdir, 0o755)
            shutil.chown(self.sock, "postgres")
        self.run_as = run_as
        self.data.mkdir()
        if run_as:
            shutil.chown(self.data, "postgres")
        try:
            subprocess.run([*run_as, str(bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
                            "--auth=trust", "-E", "UTF8"], check=True, capture_output=True)
            opts = (f"-k {self.sock} -p 54329 -c listen_addresses='' -c fsync=off "
                    "-c shared_buffers=512MB -c work_mem=64MB -c max_parallel_workers_per_gather=0")
            subprocess.run([*run_as, self.pg_ctl, "-D", str(self.data), "-o", opts, "-l",
                            str(self.data / "log"), "-w", "start"], check=True, capture_output=True)
            self.started = True
            self.conn = psycopg.connect(host=str(self.sock), port=54329, user="postgres",
                                        dbname="postgres", autocommit=True)
            self.conn.execute("CREATE EXTENSION postgis")
            self.version = self.conn.execute("SELECT postgis_lib_version()").fetchone()[0]
        except (subprocess.CalledProcessError, psycopg.Error) as exc:
            detail = exc.stderr.decode(errors="replace").strip() if hasattr(exc, "stderr") and exc.stderr else str(exc)
            self.reason = f"could not start PostgreSQL/PostGIS: {detail[:200]}"
            return False
        return True

    def load(self, points_m: np.ndarray, rivers: np.ndarray, pieces: dict[int, tuple[np.ndarray, np.ndarray]]) -> float:
        """Load points, rivers and river pieces (SRID 4549) with GiST indexes; returns seconds."""
        t0 = time.perf_counter()
        c = self.conn
        xy = shapely.get_coordinates(points_m)
        c.execute("CREATE UNLOGGED TABLE pts (id integer, x float8, y float8)")
        with c.cursor().copy("COPY pts (id, x, y) FROM STDIN") as copy:
            for i in range(0, len(xy), 100_000):
                chunk = xy[i : i + 100_000]
                ids = np.arange(i, i + len(chunk))
                copy.write("".join(f"{a}\t{x!r}\t{y!r}\n" for a, x, y in zip(ids.tolist(), chunk[:, 0].tolist(), chunk[:, 1].tolist(), strict=True)))
        c.execute("ALTER TABLE pts ADD COLUMN geom geometry(Point, 4549)")
        c.execute("UPDATE pts SET geom = ST_SetSRID(ST_MakePoint(x, y), 4549)")
        c.execute("CREATE INDEX pts_gist ON pts USING gist (geom)")
        c.execute("CREATE UNLOGGED TABLE rivers (id integer primary key, geom geometry(LineString, 4549))")
        with c.cursor() as cur:
            cur.executemany("INSERT INTO rivers VALUES (%s, ST_GeomFromWKB(%s, 4549))",
                            [(i, shapely.to_wkb(g)) for i, g in enumerate(rivers)])
        for size, (geoms, owner) in pieces.items():
            t = f"river_pieces_{size}"
            c.execute(f"CREATE UNLOGGED TABLE {t} (river integer, geom geometry(LineString, 4549))")
            with c.cursor() as cur:
                cur.executemany(f"INSERT INTO {t} VALUES (%s, ST_GeomFromWKB(%s, 4549))",
                                [(int(o), shapely.to_wkb(g)) for o, g in zip(owner, geoms, strict=True)])
            c.execute(f"CREATE INDEX {t}_gist ON {t} USING gist (geom)")
            c.execute(f"CREATE INDEX {t}_river ON {t} (river)")
            c.execute(f"VACUUM ANALYZE {t}")
        c.execute("VACUUM ANALYZE pts")
        c.execute("VACUUM ANALYZE rivers")
        return time.perf_counter() - t0

    def near_whole(self, river: int) -> np.ndarray:
        rows = self.conn.execute(
            "SELECT p.id FROM pts p, rivers r WHERE r.id = %s AND ST_DWithin(p.geom, r.geom, %s)",
            (river, DISTANCE_M),
        ).fetchall()
        return np.array(sorted(r[0] for r in rows), dtype=np.int64)

    def near_pieces(self, river: int, size: int) -> np.ndarray:
        rows = self.conn.execute(
            f"SELECT DISTINCT p.id FROM river_pieces_{size} r JOIN pts p ON ST_DWithin(p.geom, r.geom, %s) "
            "WHERE r.river = %s",
            (DISTANCE_M, river),
        ).fetchall()
        return np.array(sorted(r[0] for r in rows), dtype=np.int64)

    def counts_pieces(self, n: int, size: int) -> np.ndarray:
        rows = self.conn.execute(
            f"SELECT r.river, count(DISTINCT p.id) FROM river_pieces_{size} r JOIN pts p "
            "ON ST_DWithin(p.geom, r.geom, %s) GROUP BY r.river",
            (DISTANCE_M,),
        ).fetchall()
        out = np.zeros(n, dtype=np.int64)
        for river, count in rows:
            out[river] = count
        return out

    def counts_whole(self, n: int) -> np.ndarray:
        rows = self.conn.execute(
            "SELECT r.id, count(*) FROM rivers r JOIN pts p ON ST_DWithin(p.geom, r.geom, %s) GROUP BY r.id",
            (DISTANCE_M,),
        ).fetchall()
        out = np.zeros(n, dtype=np.int64)
        for river, count in rows:
            out[river] = count
        return out

    def stop(self) -> None:
        if self.conn is not None:
            self.conn.close()
        if self.started:
            subprocess.run([*self.run_as, self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop"],
                           capture_output=True)


# -- the run -----------------------------------------------------------------------------------


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.query", description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--rivers", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--no-postgis", action="store_true", help="skip the PostGIS baseline")
    parser.add_argument("--repeat", type=int, default=20, help="runs of each fast single-river query")
    args = parser.parse_args(argv)

    print(f"workload: {args.rivers} rivers, {args.points:,} points, seed {args.seed}, within {DISTANCE_M:g} m (EPSG:4549)")
    rivers, frame = make_workload(args.points, args.rivers, args.seed)
    lengths = shapely.length(rivers)
    target = int(np.argmax(lengths))
    river = rivers[target]
    print(f"rivers {lengths.min() / 1000:.1f}-{lengths.max() / 1000:.1f} km; single-river query on river {target} "
          f"({lengths[target] / 1000:.1f} km, {len(river.coords)} vertices)")

    results: dict[str, dict[str, float | None]] = {}
    notes: list[str] = []

    # hehu: build, then warm queries
    build_s, index = timed(lambda: LayerIndex("violations", frame))
    points_m = index.base.metric
    rows, _ = rows_near(index, river, DISTANCE_M)
    truth = np.sort(index.fids_of(rows) - 1)
    single_s, _ = timed(lambda: rows_near(index, river, DISTANCE_M), repeat=args.repeat, warmup=2)
    single_frame_s, _ = timed(lambda: index.take(rows_near(index, river, DISTANCE_M)[0]), repeat=args.repeat, warmup=1)
    counts_s, counts = timed(lambda: count_near(index, rivers, DISTANCE_M), repeat=3, warmup=1)
    results[HEHU] = {"single": single_s, "all": counts_s}
    results["hehu, single river as a GeoDataFrame"] = {"single": single_frame_s, "all": None}
    print(f"found {len(truth)} points near the river; {int(counts.sum()):,} river-point pairs over all rivers")

    # (a) naive geopandas
    series = gpd.GeoSeries(points_m, crs="EPSG:4549")
    naive_s, naive = timed(lambda: np.flatnonzero((series.distance(river) <= DISTANCE_M).to_numpy()), repeat=2)
    assert np.array_equal(naive, truth), "naive and hehu disagree"
    results["(a) naive geopandas distance() <= 50"] = {"single": naive_s, "all": naive_s * args.rivers}
    notes.append(f"(a) all rivers extrapolated as {args.rivers} × the single-river time, not run")

    # (b) plain STRtree over points, queried with the whole river
    tree_build_s, tree = timed(lambda: shapely.STRtree(points_m))
    plain_s, plain = timed(lambda: np.sort(tree.query(river, predicate="dwithin", distance=DISTANCE_M)),
                           repeat=max(3, args.repeat // 4), warmup=1)
    assert np.array_equal(plain, truth), "plain STRtree and hehu disagree"
    plain_all_s, pairs = timed(lambda: tree.query(rivers, predicate="dwithin", distance=DISTANCE_M))
    plain_counts = np.bincount(pairs[0], minlength=len(rivers))
    assert np.array_equal(plain_counts, counts), "plain STRtree counts and hehu disagree"
    results["(b) plain STRtree, whole river"] = {"single": plain_s, "all": plain_all_s}

    # (d) rtree (libspatialindex): query by pieces' boxes, exact distance on candidates
    pieces, owner = split_lines(np.array([river], dtype=object), PIECE_VERTICES)
    xy = shapely.get_coordinates(points_m)
    from rtree import index as rindex

    rtree_build_s, rtree_idx = timed(lambda: rindex.Index((np.arange(len(xy)), xy, xy)))

    def rtree_near():
        b = shapely.bounds(pieces)
        ids, _ = rtree_idx.intersection_v(b[:, :2] - DISTANCE_M, b[:, 2:] + DISTANCE_M)
        cand = np.unique(ids)
        d = shapely.distance(points_m[cand], river)
        return cand[d <= DISTANCE_M]

    rtree_s, rt = timed(rtree_near, repeat=args.repeat, warmup=1)
    assert np.array_equal(rt, truth), "rtree and hehu disagree"
    results["(d) rtree by pieces' boxes + exact distance"] = {"single": rtree_s, "all": None}

    # (c) PostGIS
    pg_load_s = None
    workdir = Path(tempfile.mkdtemp(prefix="hehu-bench-"))
    pg = PostGIS(workdir)
    try:
        if args.no_postgis:
            notes.append("(c) PostGIS: skipped (--no-postgis)")
        elif pg.start():
            sizes = sorted({PIECE_VERTICES, 8})
            pg_load_s = pg.load(points_m, rivers, {k: split_lines(rivers, k) for k in sizes})
            whole_s, whole = timed(lambda: pg.near_whole(target), repeat=max(3, args.repeat // 2), warmup=1)
            assert np.array_equal(whole, truth), "PostGIS and hehu disagree"
            wc_s, wc = timed(lambda: pg.counts_whole(len(rivers)))
            assert np.array_equal(wc, counts), "PostGIS whole-river counts and hehu disagree"
            results[f"(c) PostGIS {pg.version} ST_DWithin + GiST, whole river"] = {"single": whole_s, "all": wc_s}
            for k in sizes:
                piece_s, piece = timed(lambda k=k: pg.near_pieces(target, k), repeat=max(3, args.repeat // 2), warmup=1)
                assert np.array_equal(piece, truth), "PostGIS pieces and hehu disagree"
                pc_s, pc = timed(lambda k=k: pg.counts_pieces(len(rivers), k))
                assert np.array_equal(pc, counts), "PostGIS piece counts and hehu disagree"
                results[f"(c) PostGIS {pg.version} ST_DWithin + GiST, {k}-vertex pieces"] = {"single": piece_s, "all": pc_s}
            notes.append(f"(c) PostGIS loaded {args.points:,} points + GiST in {pg_load_s:.1f} s; times include the psycopg round trip")
        else:
            notes.append(f"(c) PostGIS NOT AVAILABLE: {pg.reason}")
    finally:
        pg.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    # keeping current: 1,000 inserts
    rng = np.random.default_rng(args.seed + 1)
    minx, miny, maxx, maxy = EXTENT
    new_xy = rng.uniform([minx, miny], [maxx, maxy], size=(1000, 2))
    new_geoms = from_metric(shapely.points(new_xy))
    start_fid = int(frame.index.max()) + 1
    singles = [
        gpd.GeoDataFrame({"code": pd.array([f"NEW-{i}"], dtype=object)}, geometry=[g], index=pd.Index([start_fid + i], name="fid"), crs="EPSG:4326")
        for i, g in enumerate(new_geoms)
    ]

    def hehu_inserts():
        for one in singles:
            index.apply(one, [int(one.index[0])])
        return rows_near(index, river, DISTANCE_M)  # the next query indexes the burst

    inc_s, _ = timed(hehu_inserts)
    assert index.delta_size == 1000
    batch = pd.concat(singles)
    batch.index = batch.index + 1000
    batch_s, _ = timed(lambda: (index.apply(batch, batch.index.tolist()), rows_near(index, river, DISTANCE_M)))
    assert index.delta_size == 2000
    one_s, _ = timed(lambda: (index.apply(singles[0], [int(singles[0].index[0])]), rows_near(index, river, DISTANCE_M)),
                     repeat=5)
    new_m = to_metric(new_geoms)
    all_m = np.concatenate([points_m, new_m])

    def rtree_inserts():
        for i, (x, y) in enumerate(new_xy.tolist()):
            rtree_idx.insert(len(xy) + i, (x, y, x, y))

    rtree_inc_s, _ = timed(rtree_inserts)
    rebuild_tree_s, _ = timed(lambda: shapely.STRtree(all_m))
    full = pd.concat([frame, *singles])
    rebuild_index_s, _ = timed(lambda: LayerIndex("violations", gpd.GeoDataFrame(full, crs="EPSG:4326")))

    # -- report --------------------------------------------------------------------------------
    hehu_single = results[HEHU]["single"]
    hehu_all = results[HEHU]["all"]
    print()
    print(f"{'method':58s} {'one river':>11s} {'× hehu':>8s} {'all rivers':>11s} {'× hehu':>8s}")
    print("-" * 100)
    for name, r in results.items():
        s, a = r["single"], r["all"]
        rs = f"{s / hehu_single:.1f}×" if s is not None else "—"
        ra = f"{a / hehu_all:.1f}×" if a is not None else "—"
        print(f"{name:58s} {fmt_time(s):>11s} {rs:>8s} {fmt_time(a):>11s} {ra:>8s}")
    print()
    print(f"{'keeping current (index of ' + format(args.points, ',') + ' points)':58s} {'time':>11s} {'× rebuild':>10s}")
    print("-" * 82)
    rows_inc = [
        ("hehu: 1,000 inserts caught up in one batch + next query", batch_s),
        ("hehu: 1 insert + the next query", one_s),
        ("hehu: 1,000 one-row apply() calls + next query (*)", inc_s),
        ("rtree: 1,000 inserts", rtree_inc_s),
        ("rebuild: plain STRtree over all points", rebuild_tree_s),
        ("rebuild: hehu index (CRS transform, pieces, tree)", rebuild_index_s),
    ]
    for name, s in rows_inc:
        print(f"{name:58s} {fmt_time(s):>11s} {s / rebuild_tree_s:>9.3f}×")
    print()
    print(f"builds: hehu index {fmt_time(build_s)}, plain STRtree {fmt_time(tree_build_s)}, rtree bulk {fmt_time(rtree_build_s)}"
          + (f", PostGIS load + GiST {fmt_time(pg_load_s)}" if pg_load_s else ""))
    notes.append("(*) not the registry's path: the registry re-reads the features its edit history names "
                 "and applies them in one batch per question; 1,000 one-row GeoDataFrames cost pandas' concat")
    for note in notes:
        print("note:", note)
    print("all methods returned the same points and counts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
