"""Messages in Spanish (utils.i18n): the lab feedback, a damaged dataset and a server
that fails to start speak the student's language, from one gettext catalogue."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

from tools import messages
from utils import data, i18n, servers
from utils.checks import Feedback, task_check


@pytest.fixture
def spanish(monkeypatch: pytest.MonkeyPatch) -> None:
    from utils import results

    monkeypatch.setenv(i18n.LANG_ENV, "es")
    monkeypatch.setenv(results.OFF_ENV, "off")


@task_check("lab97", "Tarea 1 · Proporción", points=2, hint="Entre 0 y 1.")
def check_share(fb: Feedback, share: float) -> None:
    if fb.expect_type(share, float, "la proporción"):
        fb.expect(0 <= share <= 1, "la proporción está en [0, 1]", f"{share} no está en [0, 1]")


def test_feedback_speaks_spanish(spanish: None) -> None:
    assert str(check_share(...)).startswith(
        "⏳ Tarea 1 · Proporción: sin terminar (0/2 puntos). Reemplaza el `...` por tu respuesta"
    )
    wrong = str(check_share("25%"))
    assert "fallida (0/2 puntos)" in wrong
    assert "la proporción debería ser un float, no un str" in wrong
    assert "Pista: Entre 0 y 1." in wrong
    assert "✅ Tarea 1 · Proporción: superada (2/2 puntos)" in str(check_share(0.5))
    assert check_share(...).message == "sin terminar: la respuesta sigue siendo `...`"


def test_english_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(i18n.LANG_ENV, raising=False)
    assert i18n.language() == "en" and i18n._("passed") == "passed"
    monkeypatch.setenv(i18n.LANG_ENV, "es_AR.UTF-8")
    assert i18n.language() == "es"
    monkeypatch.setenv(i18n.LANG_ENV, "fr")
    assert i18n.language() == "en"
    assert i18n.with_article("int") == "an int"


def test_the_language_is_chosen_by_setup_or_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(i18n.LANG_ENV, "en")  # restored after the test, whatever it sets
    with pytest.raises(ValueError, match="the kit speaks en and es, not 'fr'"):
        i18n.set_language("fr")
    assert i18n.set_language("es") == "es" and i18n._("failed") == "fallida"


def test_a_damaged_dataset_is_reported_in_spanish(
    spanish: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "datasets"
    shutil.copytree(data.datasets_dir(), copy)
    monkeypatch.setenv("KIT_DATASETS_DIR", str(copy))
    raw = copy / "customers_raw.csv"
    raw.write_bytes(raw.read_bytes()[:1000])
    data._VERIFIED.clear()
    with pytest.raises(data.DatasetError) as error:
        data.load_dataset("customers_raw")
    message = str(error.value)
    assert "datasets/customers_raw.csv está truncado (1000 de" in message
    assert "la suma de verificación no coincide" in message
    assert "Para restaurarlo, ejecuta `git checkout -- datasets/customers_raw.csv`" in message


def test_a_server_that_fails_is_reported_in_spanish(spanish: None, isolated_store: Path) -> None:
    command = [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"]
    with pytest.raises(servers.ServerError) as error:
        with servers.managed_process("roto", command, servers.free_port(), timeout=20):
            pass
    assert "roto terminó con el código 3 antes de estar listo" in str(error.value)
    assert "Su registro" in str(error.value) and "boom" in str(error.value)


def test_missing_postgresql_is_reported_in_spanish(
    spanish: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(servers.shutil, "which", lambda name: None)
    monkeypatch.setattr(servers.Path, "glob", lambda self, pattern: iter([]))
    with pytest.raises(servers.PostgresNotInstalled, match="no están instalados. Instálalos"):
        servers.postgres_bin_dir()


def test_the_catalogue_matches_the_code() -> None:
    assert messages.problems("es") == []
    assert messages.main(["--check"]) == 0


def test_a_message_without_spanish_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "es" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    text = i18n.catalogue_path("es").read_text(encoding="utf-8")
    text = text.replace('msgstr "fallida"', 'msgstr ""')
    (folder / "kit.po").write_text(text + '\nmsgid "gone"\nmsgstr "ido"\n', encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    found = messages.problems("es")
    assert "es: no translation for 'failed'" in found
    assert "es: 'gone' is no longer in the code" in found


def test_every_translation_keeps_the_placeholders() -> None:
    for english, spanish in i18n.catalogue("es").items():
        fields = sorted(re.findall(r"\{(\w*)\}", english))
        assert sorted(re.findall(r"\{(\w*)\}", spanish)) == fields, english
