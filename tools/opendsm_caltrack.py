"""OpenDSM's CalTRACK hourly model on its own sample meters, for the suite's cross-check (run in its own venv).

Run by ``assessment/tests/test_caltrack_vs_opendsm.py`` with the interpreter of ``make opendsm-venv`` (OpenDSM
1.2.7 and its ~60 dependencies stay out of the project's environment). Input (argv[1], JSON): the sample, and per
season the local day the model is fitted up to (365 days before it) and the event days and hours to predict.
Output (stdout, JSON): the sample's hourly load and temperature (°F) by local hour, so the project's model is fitted
on exactly the same data, and OpenDSM's prediction (kWh) for each event window.
"""

import json
import sys
from datetime import date, timedelta

import pandas as pd
from opendsm import eemeter
from opendsm.eemeter.models.hourly_caltrack import HourlyBaselineData, HourlyModel, HourlyReportingData

TZ = "Etc/GMT+6"  # the samples' fixed local offset (-06:00)


def main() -> None:
    spec = json.loads(sys.argv[1])
    meter, temperature, _ = eemeter.load_sample(spec["sample"])
    load = meter["value"].tz_convert(TZ)
    temp = temperature.tz_convert(TZ)
    out = {"hours": [], "load": [], "temp_f": [], "predictions": []}
    for season in spec["seasons"]:
        fit_end = date.fromisoformat(season["fit_end"])
        start = pd.Timestamp(fit_end - timedelta(days=365), tz=TZ)
        end = pd.Timestamp(fit_end, tz=TZ)
        base = HourlyBaselineData.from_series(load[start : end - pd.Timedelta(hours=1)], temp[start:end], True)
        model = HourlyModel().fit(base)
        for day in season["days"]:
            h0, h1 = season["hours"]
            d = pd.Timestamp(date.fromisoformat(day), tz=TZ)
            w0, w1 = d + pd.Timedelta(hours=h0), d + pd.Timedelta(hours=h1)
            window_temp = temp[w0 : w1 - pd.Timedelta(hours=1)]
            report = HourlyReportingData.from_series(None, window_temp, True)
            predicted = model.predict(report)["predicted"]
            out["predictions"].append({"day": day, "hours": [h0, h1], "kwh": float(predicted.sum())})
    hourly = pd.concat([load.rename("load"), temp.rename("temp")], axis=1)
    out["hours"] = [t.strftime("%Y-%m-%dT%H") for t in hourly.index]
    out["load"] = [None if pd.isna(v) else float(v) for v in hourly["load"]]
    out["temp_f"] = [None if pd.isna(v) else float(v) for v in hourly["temp"]]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
