"""The admin console's forms: the settlement run window (UTC hours, as settlement periods are: ADR 0001)."""

from __future__ import annotations

from datetime import UTC

from django import forms

HOUR_PICKER = forms.DateTimeInput(attrs={"type": "datetime-local", "step": 3600}, format="%Y-%m-%dT%H:%M")
INPUT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]


class SettlementRunForm(forms.Form):
    """A run's window from two date-time pickers read as UTC, on whole hours (settlement periods are UTC hours)."""

    window_start = forms.DateTimeField(label="From (UTC)", widget=HOUR_PICKER, input_formats=INPUT_FORMATS)
    window_end = forms.DateTimeField(label="To (UTC)", widget=HOUR_PICKER, input_formats=INPUT_FORMATS)

    def clean(self):
        data = super().clean()
        for name in ("window_start", "window_end"):
            value = data.get(name)
            if value is None:
                continue
            value = value.replace(tzinfo=UTC)
            if value.minute or value.second:
                self.add_error(name, "Settlement periods are whole UTC hours: pick a time on the hour.")
            data[name] = value
        start, end = data.get("window_start"), data.get("window_end")
        if start and end and end <= start:
            self.add_error("window_end", "The window must end after it starts.")
        return data
