"""A service's refusal reads on a portal form in the form's own words."""

from django import forms

from common.errors import ValidationFailed
from common.portal import form_errors_from, in_form_words


class _Form(forms.Form):
    label_column = forms.CharField(label="Label column (fairness)", required=False)
    due_date = forms.DateField(label="Due by", required=False)
    kind = forms.CharField(required=False)


def test_internal_names_become_the_fields_labels():
    form = _Form()
    assert in_form_words(form, "A job needs params.label_column.", "params.") == \
        "A job needs “Label column (fairness)”."
    assert in_form_words(form, "params.threshold must be a number.", "params.") == \
        "threshold must be a number."
    assert in_form_words(form, "due_date is in the past; kind stays.") == \
        "“Due by” is in the past; kind stays."


def test_errors_land_on_their_fields():
    form = _Form(data={})
    assert form.is_valid()
    form_errors_from(form, ValidationFailed("x", errors={
        "params.label_column": ["params.label_column names no column."],
        "params.filters": ["params.filters: bad."],
    }), prefix="params.")
    assert form.errors["label_column"] == ["“Label column (fairness)” names no column."]
    assert form.non_field_errors() == ["filters: bad."]
