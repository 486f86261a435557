"""Keep the kit's message catalogues in step with the code: ``make messages``.

Extracts every message marked ``_("...")`` or ``N_("...")`` in ``utils/`` (Babel's
extractor, as ``pybabel extract`` does) and merges them into each language's gettext
catalogue, ``utils/locale/<lang>/LC_MESSAGES/kit.po``: a new message is added without a
translation, a message the code no longer has is dropped, translations are kept.
``--check`` changes nothing and exits 1 when a catalogue lacks a message, holds one the
code no longer has, or leaves one untranslated (the test suite runs it).
"""

from __future__ import annotations

import argparse
import io
import sys

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from tools.notebook_checks import ROOT
from utils import i18n

SOURCES = ROOT / "utils"
KEYWORDS = {"_": None, "N_": None}


def extracted() -> Catalog:
    """Return every marked message of ``utils/``, with where it appears."""
    catalog = Catalog(project="mlflow-kit", domain=i18n.DOMAIN)
    for filename, lineno, message, _comments, _context in extract_from_dir(
        SOURCES, method_map=[("**.py", "python")], keywords=KEYWORDS, comment_tags=("NOTE:",)
    ):
        catalog.add(message, locations=[(f"utils/{filename}", lineno)])
    return catalog


def read_catalogue(lang: str) -> Catalog:
    """Read a language's catalogue (empty when it does not exist yet)."""
    path = i18n.catalogue_path(lang)
    if not path.exists():
        return Catalog(locale=lang, domain=i18n.DOMAIN)
    with path.open("rb") as handle:
        return read_po(handle, locale=lang)


def merged(lang: str) -> Catalog:
    """Return the catalogue of ``lang`` updated to the code's messages."""
    old = read_catalogue(lang)
    new = Catalog(locale=lang, domain=i18n.DOMAIN, project="mlflow-kit")
    for message in extracted():
        if not message.id:
            continue
        known = old.get(message.id)
        new.add(message.id, known.string if known else "", locations=message.locations)
    return new


def po_text(catalog: Catalog) -> str:
    """The catalogue as a ``.po`` file, without dates (so regenerating changes nothing)."""
    out = io.BytesIO()
    write_po(out, catalog, width=90, omit_header=True, sort_output=True, include_lineno=False)
    return out.getvalue().decode("utf-8")


def problems(lang: str) -> list[str]:
    """What keeps ``lang``'s catalogue from matching the code."""
    old = {m.id: m.string for m in read_catalogue(lang) if m.id}
    code = {m.id for m in extracted() if m.id}
    found = [f"{lang}: no translation for {mid!r}" for mid in sorted(code) if not old.get(mid)]
    found += [f"{lang}: {mid!r} is no longer in the code" for mid in sorted(set(old) - code)]
    return found


def main(argv: list[str] | None = None) -> int:
    """Merge (or with ``--check`` only verify) every language's catalogue."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="report, change nothing")
    args = parser.parse_args(argv)
    status = 0
    for lang in i18n.LANGUAGES[1:]:
        path = i18n.catalogue_path(lang)
        text = po_text(merged(lang))
        if args.check:
            found = problems(lang)
            stale = not path.exists() or path.read_text(encoding="utf-8") != text
            if stale:
                found.append(f"{path.relative_to(ROOT)} is out of date: run `make messages`")
            for problem in found:
                print(problem)
            status = status or (1 if found else 0)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"updated {path.relative_to(ROOT)}; {len(problems(lang))} messages to translate")
    return status


if __name__ == "__main__":
    sys.exit(main())
