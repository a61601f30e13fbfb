"""Writes the Green Button fixtures of this folder (run once; the files are committed, the tests only read them).

Written from the ESPI schema (NAESB REQ.21 ``espiDerived.xsd``) and the utilities' "Download My Data" CSV layout,
for a meter in America/New_York:

- ``oldstyle_hourly.xml``: an older feed as several utilities still send it: no Atom ``related``/``up`` links, no
  LocalTimeParameters, ``accumulationBehaviour`` 0, hourly intervals, one IntervalBlock per local day (three), over
  2026-10-31 .. 2026-11-02 local: the fall-back day (25 hours) and a three-hour gap on 2 November (10:00-13:00
  local). Values in Wh (``uom`` 72, ``powerOfTenMultiplier`` 0).
- ``linked_15min.xml``: a newer linked feed: UsagePoint, two MeterReadings (delivered, flowDirection 1; received,
  flowDirection 19) each related to its ReadingType (``accumulationBehaviour`` 4, ``powerOfTenMultiplier`` -1, i.e.
  values in 0.1 Wh), LocalTimeParameters (EST), 15-minute intervals over 2026-10-31 .. 2026-11-01 local (96 + 100
  intervals per channel) in one IntervalBlock per day and channel, ReadingQuality 8 (estimated) on four readings and
  four projected (12) readings after the last day, a gas UsagePoint (therms) that is skipped.
- ``download_my_data.csv``: the utility CSV, hourly, 2026-03-07 .. 2026-03-09 local (the spring-forward day has
  23 hours), with the customer header lines and an account number.

Usage: python make_fixtures.py (from this folder).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

HERE = Path(__file__).parent
NY = ZoneInfo("America/New_York")
HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
NS = 'xmlns="http://www.w3.org/2005/Atom" xmlns:espi="http://naesb.org/espi"'


def local_midnight(y, m, d):
    return datetime(y, m, d, tzinfo=NY).astimezone(UTC)


def hours(first, last):
    t = first
    while t < last:
        yield t
        t += timedelta(hours=1)


def reading(start, duration, value, quality=None):
    q = f"<espi:ReadingQuality><espi:quality>{quality}</espi:quality></espi:ReadingQuality>" if quality else ""
    return (
        f"      <espi:IntervalReading>{q}<espi:timePeriod><espi:duration>{duration}</espi:duration>"
        f"<espi:start>{int(start.timestamp())}</espi:start></espi:timePeriod><espi:value>{value}</espi:value>"
        "</espi:IntervalReading>\n"
    )


def entry(content, links="", title=""):
    return f"  <entry>\n    <id>urn:uuid:{title or 'x'}</id>\n{links}    <title>{title}</title>\n    <content>\n{content}    </content>\n  </entry>\n"


def oldstyle():
    out = [HEAD, f"<feed {NS}>\n  <id>urn:uuid:old-feed</id>\n  <title>Usage</title>\n"]
    out.append(
        entry(
            "      <espi:UsagePoint><espi:ServiceCategory><espi:kind>0</espi:kind></espi:ServiceCategory></espi:UsagePoint>\n",
            title="up",
        )
    )
    out.append(entry("      <espi:MeterReading/>\n", title="mr"))
    out.append(
        entry(
            "      <espi:ReadingType><espi:accumulationBehaviour>0</espi:accumulationBehaviour><espi:commodity>1</espi:commodity>"
            "<espi:dataQualifier>12</espi:dataQualifier><espi:flowDirection>1</espi:flowDirection>"
            "<espi:intervalLength>3600</espi:intervalLength><espi:kind>12</espi:kind>"
            "<espi:powerOfTenMultiplier>0</espi:powerOfTenMultiplier><espi:uom>72</espi:uom></espi:ReadingType>\n",
            title="rt",
        )
    )
    gap = (datetime(2026, 11, 2, 10, tzinfo=NY).astimezone(UTC), datetime(2026, 11, 2, 13, tzinfo=NY).astimezone(UTC))
    n, total = 0, 0
    for day in (31, 1, 2):
        first = local_midnight(2026, 10 if day == 31 else 11, day)
        last = local_midnight(2026, 11, 1) if day == 31 else local_midnight(2026, 11, day + 1)
        body = [
            f"      <espi:IntervalBlock>\n      <espi:interval><espi:duration>{int((last - first).total_seconds())}</espi:duration><espi:start>{int(first.timestamp())}</espi:start></espi:interval>\n"
        ]
        for t in hours(first, last):
            if gap[0] <= t < gap[1]:
                continue
            value = 400 + (t.hour * 37) % 900  # Wh
            body.append(reading(t, 3600, value))
            n, total = n + 1, total + value
        body.append("      </espi:IntervalBlock>\n")
        out.append(entry("".join(body), title=f"ib-{day}"))
    out.append("</feed>\n")
    (HERE / "oldstyle_hourly.xml").write_text("".join(out))
    return n, total


def linked():
    base = "https://utility.example/DataCustodian/espi/1_1/resource"
    up = f"{base}/Subscription/7/UsagePoint/1"
    gas = f"{base}/Subscription/7/UsagePoint/2"
    out = [HEAD, f"<feed {NS}>\n  <id>urn:uuid:linked-feed</id>\n  <title>Usage</title>\n"]
    link = lambda rel, href: f'    <link rel="{rel}" href="{href}"/>\n'  # noqa: E731
    out.append(
        entry(
            "      <espi:LocalTimeParameters><espi:dstEndRule>B40E2000</espi:dstEndRule><espi:dstOffset>3600</espi:dstOffset><espi:dstStartRule>360E2000</espi:dstStartRule><espi:tzOffset>-18000</espi:tzOffset></espi:LocalTimeParameters>\n",
            link("self", f"{base}/LocalTimeParameters/1"),
            "ltp",
        )
    )
    out.append(
        entry(
            "      <espi:UsagePoint><espi:ServiceCategory><espi:kind>0</espi:kind></espi:ServiceCategory></espi:UsagePoint>\n",
            link("self", up) + link("related", f"{up}/MeterReading"),
            "up-electric",
        )
    )
    for k, flow in (("01", 1), ("02", 19)):
        out.append(
            entry(
                f"      <espi:ReadingType><espi:accumulationBehaviour>4</espi:accumulationBehaviour><espi:commodity>1</espi:commodity>"
                f"<espi:flowDirection>{flow}</espi:flowDirection><espi:intervalLength>900</espi:intervalLength><espi:kind>12</espi:kind>"
                f"<espi:powerOfTenMultiplier>-1</espi:powerOfTenMultiplier><espi:uom>72</espi:uom></espi:ReadingType>\n",
                link("self", f"{base}/ReadingType/{k}"),
                f"rt-{k}",
            )
        )
        out.append(
            entry(
                "      <espi:MeterReading/>\n",
                link("self", f"{up}/MeterReading/{k}")
                + link("up", f"{up}/MeterReading")
                + link("related", f"{base}/ReadingType/{k}")
                + link("related", f"{up}/MeterReading/{k}/IntervalBlock"),
                f"mr-{k}",
            )
        )
    totals = {1: 0, 19: 0}
    counts = {1: 0, 19: 0}
    for k, flow in (("01", 1), ("02", 19)):
        for day in (31, 1):
            first = local_midnight(2026, 10 if day == 31 else 11, day)
            last = local_midnight(2026, 11, 1) if day == 31 else local_midnight(2026, 11, 2)
            body = [
                f"      <espi:IntervalBlock>\n      <espi:interval><espi:duration>{int((last - first).total_seconds())}</espi:duration><espi:start>{int(first.timestamp())}</espi:start></espi:interval>\n"
            ]
            t, i = first, 0
            while t < last:
                if flow == 1:
                    value = 1500 + (i * 53) % 2000  # 0.1 Wh
                else:
                    value = 0 if not 14 * 4 <= (t.astimezone(NY).hour * 4) <= 18 * 4 else 800 + i % 7 * 10
                quality = 8 if flow == 1 and day == 1 and i in (10, 11, 12, 13) else None
                body.append(reading(t, 900, value, quality))
                totals[flow] += value
                counts[flow] += 1
                t += timedelta(minutes=15)
                i += 1
            if flow == 1 and day == 1:  # four projected values after the last day: not measurements
                for j in range(4):
                    body.append(reading(last + timedelta(minutes=15 * j), 900, 9999, 12))
            body.append("      </espi:IntervalBlock>\n")
            out.append(
                entry(
                    "".join(body),
                    link("self", f"{up}/MeterReading/{k}/IntervalBlock/{day}")
                    + link("up", f"{up}/MeterReading/{k}/IntervalBlock"),
                    f"ib-{k}-{day}",
                )
            )
    out.append(
        entry(
            "      <espi:UsagePoint><espi:ServiceCategory><espi:kind>1</espi:kind></espi:ServiceCategory></espi:UsagePoint>\n",
            link("self", gas),
            "up-gas",
        )
    )
    out.append(
        entry(
            "      <espi:MeterReading/>\n",
            link("self", f"{gas}/MeterReading/09") + link("related", f"{base}/ReadingType/09"),
            "mr-gas",
        )
    )
    out.append(
        entry(
            "      <espi:ReadingType><espi:accumulationBehaviour>4</espi:accumulationBehaviour><espi:commodity>7</espi:commodity><espi:flowDirection>1</espi:flowDirection><espi:intervalLength>86400</espi:intervalLength><espi:kind>58</espi:kind><espi:powerOfTenMultiplier>-3</espi:powerOfTenMultiplier><espi:uom>169</espi:uom></espi:ReadingType>\n",
            link("self", f"{base}/ReadingType/09"),
            "rt-gas",
        )
    )
    gas_first = local_midnight(2026, 10, 31)
    out.append(
        entry(
            "      <espi:IntervalBlock>\n" + reading(gas_first, 86400, 2130) + "      </espi:IntervalBlock>\n",
            link("self", f"{gas}/MeterReading/09/IntervalBlock/1") + link("up", f"{gas}/MeterReading/09/IntervalBlock"),
            "ib-gas",
        )
    )
    out.append("</feed>\n")
    (HERE / "linked_15min.xml").write_text("".join(out))
    return counts, totals


def csv_download():
    lines = [
        "Name,ALEX EXAMPLE",
        'Address,"1 MAIN ST, SPRINGFIELD NY 10001"',
        "Account Number,ACCT-ALICE-1",
        "Service,Service 1",
        "",
        "TYPE,DATE,START TIME,END TIME,USAGE,UNITS,COST,NOTES",
    ]
    total, n = 0, 0
    for day in (7, 8, 9):
        first, last = local_midnight(2026, 3, day), local_midnight(2026, 3, day + 1)
        for t in hours(first, last):
            local = t.astimezone(NY)
            end = local + timedelta(minutes=59)
            usage = 200 + (local.hour * 13) % 150  # in 0.001 kWh
            lines.append(
                f"Electric usage,{local:%Y-%m-%d},{local:%H:%M},{end:%H:%M},{usage / 1000:.3f},kWh,${usage * 0.00017:.2f},"
            )
            total, n = total + usage, n + 1
    (HERE / "download_my_data.csv").write_text("\n".join(lines) + "\n")
    return n, total


if __name__ == "__main__":
    print("oldstyle (count, Wh):", oldstyle())
    print("linked (counts, 0.1 Wh):", linked())
    print("csv (count, Wh):", csv_download())
