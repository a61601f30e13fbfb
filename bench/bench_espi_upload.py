"""Benchmark of a large Green Button (ESPI XML) upload through the real upload path: memory and seconds.

Run from the project root (PostgreSQL by default; the database is created and migrated if missing)::

    .venv/bin/python bench/bench_espi_upload.py [--mb 50] [--database-url URL]

Generates an ESPI feed of about ``--mb`` megabytes (linked feed, two channels — delivered and received —
15-minute readings, one IntervalBlock per day and channel, a ReadingQuality on every 50th reading), writes the
multipart request body to a file on disk and hands it to the project's WSGI application as ``wsgi.input``, as a
server would: authentication, the permission check, Django's multipart parser (which spools the file to disk),
the streaming ESPI parser and the chunked store all run as in production. The body never sits in this process's
memory, so what is measured is the server's own memory:

- seconds for the request (run 1, without tracemalloc);
- peak RSS above the RSS before the request (run 1; ``VmHWM`` reset through ``/proc/self/clear_refs``);
- peak Python allocations (run 2, on a second meter, under ``tracemalloc``, which slows Python down).

The bound (issue 14): under 200 MB extra for a 50 MB file, answered in seconds. Not imported by the test suite.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

FIRST_DAY = datetime(2020, 1, 1, 5, 0, tzinfo=UTC)  # local midnight in New York
BASE = "https://utility.example/DataCustodian/espi/1_1/resource"
UP = f"{BASE}/Subscription/1/UsagePoint/1"


def _ensure_database(url: str) -> None:
    if not url.startswith("postgres"):
        return
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flexplatform.settings.local")
    os.environ["DJANGO_DEBUG"] = "False"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _entry(links: str, content: str) -> str:
    return f"<entry><id>urn:uuid:x</id>{links}<content>{content}</content></entry>\n"


def write_feed(path: Path, megabytes: float) -> int:
    """An ESPI feed of about ``megabytes`` MB; returns the number of IntervalReadings."""
    target = int(megabytes * 1_000_000)
    n = 0
    with path.open("w") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" '
                  'xmlns:espi="http://naesb.org/espi"><id>urn:uuid:bench</id><title>bench</title>\n')  # fmt: skip
        out.write(_entry(f'<link rel="self" href="{UP}"/>', "<espi:UsagePoint><espi:ServiceCategory><espi:kind>0"
                         "</espi:kind></espi:ServiceCategory></espi:UsagePoint>"))  # fmt: skip
        for k, flow in (("01", 1), ("02", 19)):
            out.write(_entry(f'<link rel="self" href="{BASE}/ReadingType/{k}"/>',
                             "<espi:ReadingType><espi:accumulationBehaviour>4</espi:accumulationBehaviour>"
                             f"<espi:flowDirection>{flow}</espi:flowDirection><espi:intervalLength>900"
                             "</espi:intervalLength><espi:powerOfTenMultiplier>0</espi:powerOfTenMultiplier>"
                             "<espi:uom>72</espi:uom></espi:ReadingType>"))  # fmt: skip
            out.write(_entry(f'<link rel="self" href="{UP}/MeterReading/{k}"/>'
                             f'<link rel="related" href="{BASE}/ReadingType/{k}"/>', "<espi:MeterReading/>"))  # fmt: skip
        day = 0
        while out.tell() < target:
            first = FIRST_DAY + timedelta(days=day)
            epoch = int(first.timestamp())
            for k in ("01", "02"):
                parts = [f"<espi:IntervalBlock><espi:interval><espi:duration>86400</espi:duration><espi:start>{epoch}"
                         "</espi:start></espi:interval>\n"]  # fmt: skip
                for i in range(96):
                    quality = "<espi:ReadingQuality><espi:quality>8</espi:quality></espi:ReadingQuality>" if (
                        i % 50 == 0) else ""  # fmt: skip
                    value = (i * 37 + day) % 2500 if k == "01" else (i * 11) % 300
                    parts.append(f"  <espi:IntervalReading>{quality}<espi:timePeriod><espi:duration>900</espi:duration>"
                                 f"<espi:start>{epoch + 900 * i}</espi:start></espi:timePeriod><espi:value>{value}"
                                 "</espi:value></espi:IntervalReading>\n")  # fmt: skip
                    n += 1
                parts.append("</espi:IntervalBlock>")
                links = (f'<link rel="self" href="{UP}/MeterReading/{k}/IntervalBlock/{day}"/>'
                         f'<link rel="up" href="{UP}/MeterReading/{k}/IntervalBlock"/>')  # fmt: skip
                out.write(_entry(links, "".join(parts)))
            day += 1
        out.write("</feed>\n")
    return n


def write_body(feed: Path, body: Path, boundary: str) -> int:
    with body.open("wb") as out, feed.open("rb") as src:
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="gb.xml"\r\n'
                  "Content-Type: application/xml\r\n\r\n".encode())  # fmt: skip
        while block := src.read(1 << 20):
            out.write(block)
        out.write(f"\r\n--{boundary}--\r\n".encode())
    return body.stat().st_size


def _world(tag: str):
    from django.contrib.auth.hashers import make_password
    from rest_framework.authtoken.models import Token

    from accounts import services as acc
    from accounts.models import Organisation, Premise

    zone = acc.zone_create(code=f"espi-bench-{tag}", name="ESPI bench zone")
    org = acc.organisation_create(name=f"ESPI bench consumer {tag}", kind=Organisation.Kind.CONSUMER)
    user = acc.user_create(
        email=f"espi-bench-{tag}@bench.test", password=make_password(None), password_is_hashed=True, organisation=org
    )
    premise = acc.premise_create(organisation=org, name="ESPI bench site", segment=Premise.Segment.RESIDENTIAL,
                                 grid_zone=zone, timezone="America/New_York")  # fmt: skip
    meters = [
        acc.meter_create(premise=premise, meter_id=f"GB-{tag}-{i}", interval_minutes=15, has_export_channel=True)
        for i in (1, 2)
    ]
    return Token.objects.create(user=user).key, meters


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def upload(app, body: Path, boundary: str, token: str, meter_id: str) -> tuple[str, bytes]:
    status: list[str] = []
    with body.open("rb") as wsgi_input:
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": f"/api/v1/assessment/meters/{meter_id}/green-button/",
            "QUERY_STRING": "",
            "CONTENT_TYPE": f"multipart/form-data; boundary={boundary}",
            "CONTENT_LENGTH": str(body.stat().st_size),
            "HTTP_AUTHORIZATION": f"Token {token}",
            "HTTP_HOST": "localhost",
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.input": wsgi_input,
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.version": (1, 0),
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        chunks = app(environ, lambda s, headers, exc_info=None: status.append(s))
        content = b"".join(chunks)
    return status[0], content


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=50.0)
    parser.add_argument("--database-url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/flex_interop_ingest"))  # fmt: skip
    args = parser.parse_args()
    _ensure_database(args.database_url)
    _setup(args.database_url)
    import logging

    from django.core.handlers.wsgi import WSGIHandler

    logging.basicConfig(format="       %(message)s")
    logging.getLogger("assessment.ingest.store").setLevel(logging.INFO)

    app = WSGIHandler()
    tag = f"{int(time.time())}"
    token, meters = _world(tag)
    with tempfile.TemporaryDirectory() as tmp:
        feed, body = Path(tmp) / "feed.xml", Path(tmp) / "body.bin"
        readings = write_feed(feed, args.mb)
        boundary = "benchboundary7f3a"
        size = write_body(feed, body, boundary)
        print(
            f"file {feed.stat().st_size / 1e6:.1f} MB, {readings:,} IntervalReadings (two channels); body {size / 1e6:.1f} MB"
        )

        gc.collect()
        rss_before = _rss_kb("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        t0, c0 = time.perf_counter(), time.process_time()
        status, content = upload(app, body, boundary, token, meters[0].meter_id)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        peak_rss = _rss_kb("VmHWM")
        print(f"run 1: {status}; {seconds:.2f} s ({cpu:.2f} s CPU in this process); peak RSS {(peak_rss - rss_before) / 1024:.0f} MB above "
              f"{rss_before / 1024:.0f} MB before the request")  # fmt: skip
        print(f"       response: {content[:300].decode(errors='replace')}")

        gc.collect()
        tracemalloc.start()
        t0 = time.perf_counter()
        status, _ = upload(app, body, boundary, token, meters[1].meter_id)
        traced_seconds = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"run 2 (tracemalloc): {status}; peak Python allocations {peak / 1e6:.0f} MB ({traced_seconds:.2f} s "
              "under tracemalloc)")  # fmt: skip


if __name__ == "__main__":
    main()
