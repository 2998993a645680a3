"""The dashboard's filters, read from the query string: `site` (an id; empty: all my sites),
`start` and `end` (ISO dates, inclusive; default: today, and 30 days up to the end) and `tz` (an IANA time zone
the days are counted in; default: the server's)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS
from django.utils import timezone

from chatbot.analytics.selectors import MAX_RANGE_DAYS
from chatbot.console.access import site_ids_for
from chatbot.console.models import Operator

DEFAULT_DAYS = 30


def default_range(tz: tzinfo) -> tuple[date, date]:
    """The last DEFAULT_DAYS days, today included, in `tz`."""
    end = timezone.localdate(timezone=tz)
    return end - timedelta(days=DEFAULT_DAYS - 1), end


@dataclass(frozen=True)
class Filters:
    site_ids: set[int]
    site: int | None  # the one chosen site, or None for all the operator's sites
    start: date
    end: date
    tz: tzinfo


class DashboardFilterForm(forms.Form):
    site = forms.IntegerField(required=False, min_value=1)
    start = forms.DateField(required=False, input_formats=["%Y-%m-%d"])
    end = forms.DateField(required=False, input_formats=["%Y-%m-%d"])
    tz = forms.CharField(required=False, max_length=64)

    def __init__(self, data: Any, *, operator: Operator) -> None:
        super().__init__(data)
        self.operator = operator

    def clean_site(self) -> int | None:
        site: int | None = self.cleaned_data.get("site")
        # The same answer for a site that exists elsewhere and one that does not exist at all.
        if site is not None and site not in site_ids_for(self.operator):
            raise forms.ValidationError(f"You have no access to site {site}.")
        return site

    def clean_tz(self) -> tzinfo:
        name: str = self.cleaned_data.get("tz") or ""
        if not name:
            return timezone.get_current_timezone()
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise forms.ValidationError(f"Unknown time zone {name!r}.") from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if any(field in self.errors for field in ("start", "end", "tz")):
            return cleaned
        end = cleaned.get("end") or timezone.localdate(timezone=cleaned["tz"])
        start = cleaned.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            raise forms.ValidationError("The start date is after the end date.")
        if (end - start).days + 1 > MAX_RANGE_DAYS:
            raise forms.ValidationError(f"Choose a range of at most {MAX_RANGE_DAYS} days.")
        cleaned["start"], cleaned["end"] = start, end
        return cleaned

    def filters(self) -> Filters:
        """The cleaned filters; call after `is_valid()` returned True."""
        data = self.cleaned_data
        site: int | None = data["site"]
        return Filters(
            site_ids={site} if site is not None else site_ids_for(self.operator),
            site=site,
            start=data["start"],
            end=data["end"],
            tz=data["tz"],
        )

    def error_text(self) -> str:
        """All errors in one line, e.g. `end: Enter a valid date.`"""
        parts: list[str] = []
        for field, errors in self.errors.items():
            prefix = "" if field == NON_FIELD_ERRORS else f"{field}: "
            parts.extend(f"{prefix}{error}" for error in errors)
        return " ".join(parts)
