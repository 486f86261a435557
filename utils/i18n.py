"""Messages in the student's language: English, the source, or Spanish.

The language comes from ``setup_notebook(..., lang="es")`` or the environment variable
``KIT_LANG`` (``en`` or ``es``; English when unset). Every message of ``utils`` that a
student or an instructor reads is marked ``_("...")`` in the code, with ``{name}``
placeholders that ``.format`` fills after translation, so one catalogue entry serves
every value. The Spanish texts are in gettext's format in
``utils/locale/es/LC_MESSAGES/kit.po``, read with Babel; a message without a Spanish
text stays in English. Introduced in notebook 00.

Example:
    >>> _("{file} is missing").format(file="billing.sqlite")  # doctest: +SKIP
    'billing.sqlite is missing'
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

#: The variable that chooses the language.
LANG_ENV = "KIT_LANG"
#: The languages the kit speaks; the first is the source.
LANGUAGES: tuple[str, ...] = ("en", "es")
DOMAIN = "kit"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"


def catalogue_path(lang: str) -> Path:
    """Return the gettext catalogue (``.po``) of a language."""
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def catalogue(lang: str) -> dict[str, str]:
    """Return ``{English message: translation}`` for ``lang`` (empty for English)."""
    if lang == LANGUAGES[0]:
        return {}
    from babel.messages.pofile import read_po

    with catalogue_path(lang).open("rb") as handle:
        messages = read_po(handle, locale=lang)
    return {m.id: m.string for m in messages if m.id and m.string and not m.fuzzy}


def language() -> str:
    """Return the language in use: ``KIT_LANG`` when it names a known one, else English."""
    lang = os.environ.get(LANG_ENV, "").strip().lower().replace("-", "_").split("_")[0]
    return lang if lang in LANGUAGES else LANGUAGES[0]


def set_language(lang: str) -> str:
    """Choose the language of every message from now on (this process and its children).

    Args:
        lang: ``"en"`` or ``"es"``.

    Returns:
        The language.

    Raises:
        ValueError: The kit does not speak ``lang``.
    """
    code = str(lang).strip().lower()
    if code not in LANGUAGES:
        raise ValueError(
            f"the kit speaks {' and '.join(LANGUAGES)}, not {lang!r}: use lang='es' or lang='en'"
        )
    os.environ[LANG_ENV] = code
    return code


def _(message: str) -> str:
    """Return ``message`` in the language in use (gettext's usual name for it)."""
    return catalogue(language()).get(message, message)


def N_(message: str) -> str:  # noqa: N802 - gettext's name for it
    """Mark a message for translation where it is defined; translate it with ``_`` where used."""
    return message


def with_article(noun: str) -> str:
    """Return a type's name with its indefinite article: ``"an int"``, ``"un int"``."""
    if language() == "es":
        return f"un {noun}"
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"
