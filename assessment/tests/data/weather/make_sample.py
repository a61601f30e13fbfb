"""Writes the weather samples of this folder (run once; the files are committed, the tests only read them).

- ``isd-history-sample.csv``: three stations in the NOAA ISD station history layout (codes and positions of
  LaGuardia, Central Park and Boston Logan as NOAA lists them).
- ``725030-14732-2026.gz``: NOAA ISD-Lite hourly observations for LaGuardia, 2026-06-01 00:00 to 2026-09-10 23:00
  UTC, made up (a seasonal and a daily cycle), with one missing temperature (-9999) and a three-hour gap (no lines)
  on 2026-08-15; all fields in the ISD-Lite fixed-width layout.
- ``10637.csv``: a few Meteostat hourly bulk rows.
- ``postal-sample.txt``: GeoNames postal code rows (tab-separated).
"""

from __future__ import annotations

import gzip
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).parent


def celsius_tenths(t: datetime) -> int:
    doy = t.timetuple().tm_yday
    local_hour = (t.hour - 4) % 24  # New York summer time
    value = 23 + 5 * math.sin(2 * math.pi * (doy - 110) / 365) + 5 * math.cos(2 * math.pi * (local_hour - 15) / 24)
    return round(value * 10)


def isd_lite() -> int:
    lines, t, end = [], datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 9, 11, tzinfo=UTC)
    gap = (datetime(2026, 8, 15, 6, tzinfo=UTC), datetime(2026, 8, 15, 9, tzinfo=UTC))
    while t < end:
        if not gap[0] <= t < gap[1]:
            temp = -9999 if t == datetime(2026, 7, 4, 12, tzinfo=UTC) else celsius_tenths(t)
            fields = (temp, temp - 60 if temp != -9999 else -9999, 10150, 200, 36, 4, 0, -9999)
            lines.append(f"{t.year:4d} {t.month:02d} {t.day:02d} {t.hour:02d}" + "".join(f"{v:6d}" for v in fields))
        t += timedelta(hours=1)
    with gzip.open(HERE / "725030-14732-2026.gz", "wt") as out:
        out.write("\n".join(lines) + "\n")
    return len(lines)


def isd_history() -> None:
    (HERE / "isd-history-sample.csv").write_text(
        '"USAF","WBAN","STATION NAME","CTRY","STATE","ICAO","LAT","LON","ELEV(M)","BEGIN","END"\n'
        '"725030","14732","LA GUARDIA AIRPORT","US","NY","KLGA","+40.779","-073.880","+0003.4","19730101","20261130"\n'
        '"725053","94728","CENTRAL PARK","US","NY","KNYC","+40.789","-073.967","+0039.6","19430101","20261130"\n'
        '"725090","14739","GEN E L LOGAN INTERNATIONAL AIRPORT","US","MA","KBOS","+42.361","-071.010","+0003.7",'
        '"19430101","20261130"\n'
        '"999999","99999","NO POSITION","US","","","","","","20000101","20001231"\n'
    )


def meteostat() -> None:
    (HERE / "10637.csv").write_text(
        "2026-07-01,0,18.4,12.1,67,,,230,11.2,,1019.9,,2\n"
        "2026-07-01,1,17.9,12.0,69,,,230,9.4,,1019.8,,2\n"
        "2026-07-01,2,,11.8,70,,,220,9.4,,1019.6,,2\n"
        "2026-07-01,3,17.2,11.6,70,0.0,,220,7.6,,1019.6,,1\n"
    )


def postal() -> None:
    (HERE / "postal-sample.txt").write_text(
        "US\t11369\tEast Elmhurst\tNew York\tNY\tQueens\t081\t\t\t40.7635\t-73.8723\t4\n"
        "US\t10001\tNew York\tNew York\tNY\tNew York\t061\t\t\t40.7484\t-73.9967\t4\n"
        "US\t02128\tEast Boston\tMassachusetts\tMA\tSuffolk\t025\t\t\t42.3702\t-71.0389\t4\n"
    )


if __name__ == "__main__":
    print("isd-lite lines:", isd_lite())
    isd_history()
    meteostat()
    postal()
