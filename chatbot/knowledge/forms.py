"""Console forms for FAQ entries. The CSV import validates each row with `FaqEntryForm` too, so
a row and the form accept exactly the same entries and explain a refusal the same way."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from chatbot.knowledge.models import FaqEntry
from chatbot.sites.models import Site
from intents.languages import LANGUAGE_NAMES, normalise_language

QUESTION_MAX = 500
ANSWER_MAX = 10_000
ALTERNATIVES_MAX = 100
TAG_MAX = 50
CSV_MAX_BYTES = 5 * 1024 * 1024


def _one_line(text: str) -> str:
    return " ".join(text.split())


class FaqEntryForm(forms.Form):
    site = forms.ModelChoiceField(queryset=Site.objects.none(), empty_label=None, label=_("Site"))
    question = forms.CharField(
        max_length=QUESTION_MAX, label=_("Question"), help_text=_("How customers usually ask it.")
    )
    alternatives = forms.CharField(
        required=False,
        label=_("Alternatives"),
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("Other ways customers ask it, one per line. The bot matches these too."),
    )
    answer = forms.CharField(max_length=ANSWER_MAX, label=_("Answer"), widget=forms.Textarea(attrs={"rows": 6}))
    tags = forms.CharField(required=False, label=_("Tags"), help_text=_("Comma-separated, e.g. shipping, returns."))
    language = forms.ChoiceField(
        required=False,
        label=_("Language"),
        choices=[("", _("The site's language")), *LANGUAGE_NAMES.items()],
        help_text=_("The language customers ask it in: a customer is answered from the entries in their language."),
    )
    is_active = forms.BooleanField(required=False, initial=True, label=_("Active (the bot answers with it)"))

    def __init__(self, *args: Any, sites: QuerySet[Site], entry: FaqEntry | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.entry = entry
        site_field = self.fields["site"]
        assert isinstance(site_field, forms.ModelChoiceField)
        if entry is not None:
            # An entry stays on its site; editing it never moves it.
            site_field.queryset = Site.objects.filter(pk=entry.site_id)
            site_field.disabled = True
            self.initial.setdefault("site", entry.site_id)
        else:
            site_field.queryset = sites.order_by("name")

    @classmethod
    def initial_for(cls, entry: FaqEntry) -> dict[str, Any]:
        return {
            "site": entry.site_id,
            "question": entry.question,
            "alternatives": "\n".join(entry.alternatives),
            "answer": entry.answer,
            "tags": ", ".join(entry.tags),
            "language": normalise_language(entry.language),
            "is_active": entry.is_active,
        }

    def clean_question(self) -> str:
        question = _one_line(self.cleaned_data["question"])
        if not question:
            raise ValidationError("Write the question.")
        return question

    def clean_answer(self) -> str:
        answer = str(self.cleaned_data["answer"]).strip()
        if not answer:
            raise ValidationError("Write the answer.")
        return answer

    def clean_alternatives(self) -> list[str]:
        lines = [_one_line(line) for line in str(self.cleaned_data["alternatives"]).splitlines()]
        alternatives = list(dict.fromkeys(line for line in lines if line))
        too_long = [n for n, line in enumerate(alternatives, start=1) if len(line) > QUESTION_MAX]
        if too_long:
            raise ValidationError(f"Line {too_long[0]} is longer than {QUESTION_MAX} characters.")
        if any("|" in line for line in alternatives):
            # The CSV export joins alternatives with " | ".
            raise ValidationError("Alternatives cannot contain the character |.")
        if len(alternatives) > ALTERNATIVES_MAX:
            raise ValidationError(f"At most {ALTERNATIVES_MAX} alternatives.")
        return alternatives

    def clean_language(self) -> str:
        """A language code (`zh-hans`), or "" for the site's language."""
        return normalise_language(str(self.cleaned_data["language"])) if self.cleaned_data["language"] else ""

    def clean_tags(self) -> list[str]:
        tags = list(dict.fromkeys(_one_line(tag) for tag in str(self.cleaned_data["tags"]).split(",") if tag.strip()))
        if any(len(tag) > TAG_MAX for tag in tags):
            raise ValidationError(f"A tag can be at most {TAG_MAX} characters long.")
        return tags

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        site, question = data.get("site"), data.get("question")
        if site is not None and question:
            same = FaqEntry.objects.filter(site=site, question=question)
            if self.entry is not None:
                same = same.exclude(pk=self.entry.pk)
            duplicate = same.first()
            if duplicate is not None:
                self.add_error("question", f"{site.name} already has an entry with this question (#{duplicate.pk}).")
            alternatives = data.get("alternatives") or []
            data["alternatives"] = [a for a in alternatives if a != question]
        return data


class FaqImportForm(forms.Form):
    site = forms.ModelChoiceField(queryset=Site.objects.none(), empty_label=None)
    file = forms.FileField(
        label="CSV file",
        help_text=(
            "Columns: id, question, alternatives (separated by |), answer, tags (comma-separated), "
            "language (en, zh-hans), is_active."
        ),
    )

    def __init__(self, *args: Any, sites: QuerySet[Site], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        site_field = self.fields["site"]
        assert isinstance(site_field, forms.ModelChoiceField)
        site_field.queryset = sites.order_by("name")

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > CSV_MAX_BYTES:
            raise ValidationError(f"The file is larger than {CSV_MAX_BYTES // (1024 * 1024)} MB.")
        return upload


class PeriodForm(forms.Form):
    """A date range (both days included) and optionally one site, for the unanswered questions.
    Left empty, the range is the last `DEFAULT_DAYS` days, shown filled in."""

    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="From")
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="To")
    site = forms.ModelChoiceField(queryset=Site.objects.none(), required=False, empty_label="All my sites")

    DEFAULT_DAYS = 30
    MAX_DAYS = 366

    def __init__(self, data: Any = None, *, sites: QuerySet[Site], **kwargs: Any) -> None:
        if data is not None:
            data = data.copy()
            today = timezone.localdate()
            if not data.get("end"):
                data["end"] = today.isoformat()
            if not data.get("start"):
                try:
                    end = date.fromisoformat(data["end"])
                except ValueError:
                    end = today
                data["start"] = (end - timedelta(days=self.DEFAULT_DAYS - 1)).isoformat()
        super().__init__(data, **kwargs)
        site_field = self.fields["site"]
        assert isinstance(site_field, forms.ModelChoiceField)
        site_field.queryset = sites.order_by("name")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start is not None and end is not None:
            if start > end:
                raise ValidationError("The start date is after the end date.")
            if (end - start).days >= self.MAX_DAYS:
                raise ValidationError(f"Choose at most {self.MAX_DAYS} days.")
        return data
