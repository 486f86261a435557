"""The labs speak Spanish: every message of ``utils/labs`` is marked for translation and
has a Spanish text, and a student with ``KIT_LANG=es`` reads each lab's feedback in Spanish."""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from utils import checks, i18n
from utils.labs import lab01, lab02, lab03, lab04, lab05, lab06, lab07

LABS_DIR = Path(__file__).resolve().parents[1] / "utils" / "labs"
LAB_MODULES = {m.LAB: m for m in (lab01, lab02, lab03, lab04, lab05, lab06, lab07)}
MARKERS = {"_", "N_"}
#: Calls whose arguments become part of their result (a message built from them).
PASS_THROUGH = {"format", "join", "get", "str", "repr", "sorted", "list", "min", "max", "round"}


# --- Every message is marked ------------------------------------------------------------------


def needs_translation(text: str) -> bool:
    """Words separated by spaces are a sentence to translate; a single token (a column, a
    variable, a file name) is code, which is never translated."""
    return bool(re.search(r"[A-Za-z]{2,}", text)) and bool(re.search(r"\s", text.strip()))


class MessageFinder:
    """Find the string literals that reach a student unmarked, in one module's source.

    A message reaches the student through ``fb.good``/``fb.problems``, ``fb.expect``,
    ``fb.expect_type``'s ``what``, ``task_check``'s title and hint, ``best_of``'s message,
    and the ``what``/``fix`` arguments of the module's own helpers. The finder follows
    local variables, module constants and the return values of the module's functions.
    The arguments of other calls (an MLflow filter string, a dict key) and the plain
    strings of a list or tuple (values the code compares with) are code, not messages.
    """

    def __init__(self, source: str) -> None:
        self.tree = ast.parse(source)
        self.functions: dict[str, ast.FunctionDef] = {}
        self.module_values: dict[str, list[ast.expr]] = {}
        self.scope_of: dict[int, ast.FunctionDef | None] = {}
        for node in self.tree.body:
            self._collect_assignments(node, self.module_values)
        self._index(self.tree, None)
        self.local_values: dict[int, dict[str, list[ast.expr]]] = {}
        self.found: list[tuple[int, str]] = []

    def _index(self, node: ast.AST, scope: ast.FunctionDef | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner = scope
            if isinstance(child, ast.FunctionDef):
                self.functions.setdefault(child.name, child)
                inner = child
            self.scope_of[id(child)] = inner
            self._index(child, inner)

    @staticmethod
    def _collect_assignments(node: ast.AST, into: dict[str, list[ast.expr]]) -> None:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    into.setdefault(target.id, []).append(node.value)
        elif isinstance(node, ast.AnnAssign | ast.AugAssign) and isinstance(node.target, ast.Name):
            if node.value is not None:
                into.setdefault(node.target.id, []).append(node.value)

    def _locals(self, function: ast.FunctionDef | None) -> dict[str, list[ast.expr]]:
        if function is None:
            return {}
        if id(function) not in self.local_values:
            values: dict[str, list[ast.expr]] = {}
            for node in ast.walk(function):
                self._collect_assignments(node, values)
            self.local_values[id(function)] = values
        return self.local_values[id(function)]

    def sinks(self) -> Iterator[tuple[ast.expr, ast.FunctionDef | None]]:
        """Every expression whose value is shown to the student, with its scope."""
        for node in ast.walk(self.tree):
            if not isinstance(node, ast.Call):
                continue
            scope = self.scope_of.get(id(node))
            func = node.func
            named = {k.arg: k.value for k in node.keywords if k.arg}
            picked: list[ast.expr] = []
            if isinstance(func, ast.Attribute):
                owner = func.value
                if (
                    func.attr == "append"
                    and isinstance(owner, ast.Attribute)
                    and owner.attr in ("good", "problems")
                ):
                    picked += node.args[:1]
                elif func.attr == "expect":
                    picked += node.args[1:3] + [named[k] for k in ("good", "problem") if k in named]
                elif func.attr == "expect_type":
                    picked += node.args[2:3] + ([named["what"]] if "what" in named else [])
            elif isinstance(func, ast.Name):
                if func.id == "task_check":
                    picked += node.args[1:2] + node.args[3:4]
                    picked += [named[k] for k in ("task", "hint") if k in named]
                elif func.id == "best_of":
                    picked += node.args[3:4] + ([named["missing"]] if "missing" in named else [])
                elif func.id in self.functions:
                    params = [a.arg for a in self.functions[func.id].args.args]
                    for position, value in enumerate(node.args):
                        if position < len(params) and params[position] in ("what", "fix"):
                            picked.append(value)
                    picked += [v for k, v in named.items() if k in ("what", "fix")]
            for expr in picked:
                yield expr, scope

    def check(self) -> list[tuple[int, str]]:
        """Return ``(line, text)`` of every unmarked message."""
        seen: set[tuple[int, str]] = set()
        for expr, scope in self.sinks():
            self._walk(expr, scope, seen)
        return sorted(set(self.found))

    def _walk(self, node: ast.AST, scope: ast.FunctionDef | None, seen: set) -> None:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str) and needs_translation(node.value):
                self.found.append((node.lineno, node.value))
            return
        if isinstance(node, ast.JoinedStr):
            text = "".join(
                v.value
                for v in node.values
                if isinstance(v, ast.Constant) and isinstance(v.value, str)
            )
            if needs_translation(text):
                self.found.append((node.lineno, "f" + repr(text)))
            for value in node.values:
                if isinstance(value, ast.FormattedValue):
                    self._walk(value.value, scope, seen)
            return
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in MARKERS:
                return
            through = False
            if isinstance(func, ast.Attribute):
                self._walk(func.value, scope, seen)
                through = func.attr in PASS_THROUGH
            elif isinstance(func, ast.Name) and func.id in self.functions:
                through = True
                target = self.functions[func.id]
                if ("def", func.id) not in seen:
                    seen.add(("def", func.id))
                    for inner in ast.walk(target):
                        if isinstance(inner, ast.Return) and inner.value is not None:
                            self._walk(inner.value, target, seen)
            elif isinstance(func, ast.Name):
                through = func.id in PASS_THROUGH
            if through:  # the arguments of other calls (an MLflow filter, a key) are code
                for arg in [*node.args, *(k.value for k in node.keywords)]:
                    self._walk(arg, scope, seen)
            return
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            for element in node.elts:  # a collection's plain strings are data, such as
                if not isinstance(element, ast.Constant):  # the values a model returns
                    self._walk(element, scope, seen)
            return
        if isinstance(node, ast.Name):
            key = (id(scope), node.id)
            if key in seen:
                return
            seen.add(key)
            local = self._locals(scope).get(node.id)
            values = local if local is not None else self.module_values.get(node.id, [])
            owner = scope if local is not None else None
            for value in values:
                self._walk(value, owner, seen)
            return
        if isinstance(node, ast.Lambda):
            return
        for child in ast.iter_child_nodes(node):
            self._walk(child, scope, seen)


def unmarked(source: str) -> list[tuple[int, str]]:
    return MessageFinder(source).check()


FIXTURE = """
from utils.checks import Feedback, task_check
from utils.grading import best_of
from utils.i18n import N_, _


def _expect_positive(fb, value, what):
    return fb.expect(value > 0, _("{what} is positive").format(what=what), "")


def _reason(value):
    return "the value is negative" if value < 0 else _("the value is zero")


@task_check("lab98", "Task 1 · Untranslated", points=1, hint="An untranslated hint.")
def check_value(fb: Feedback, value) -> None:
    if not fb.expect_type(value, int, "the answer"):
        return
    _expect_positive(fb, value, "the value")
    fb.expect(value < 10, _("it is small"), f"{value} is too large")
    why = _reason(value)
    fb.problems.append(_("wrong: {why}").format(why=why))
    fb.good.append("all good")
    best_of("lab98", "Task 1 · Untranslated", [], "nothing to grade here")


@task_check("lab98", N_("Task 2 · Translated"), points=1, hint=N_("A marked hint."))
def check_marked(fb: Feedback, value) -> None:
    if fb.expect_type(value, int, "value"):
        fb.problems.append(_("{value} is wrong: {why}").format(value=value, why=_("too big")))
"""


def test_the_finder_reports_every_unmarked_message() -> None:
    texts = {text for _line, text in unmarked(FIXTURE)}
    assert texts == {
        "the value is negative",
        "Task 1 · Untranslated",
        "An untranslated hint.",
        "the answer",
        "the value",
        "f' is too large'",
        "all good",
        "nothing to grade here",
    }


@pytest.mark.parametrize("path", sorted(LABS_DIR.glob("lab*.py")), ids=lambda p: p.stem)
def test_every_lab_message_is_marked(path: Path) -> None:
    found = unmarked(path.read_text(encoding="utf-8"))
    assert not found, "mark these messages with _() or N_():\n" + "\n".join(
        f"{path.name}:{line}: {text}" for line, text in found
    )


# --- Every message has its Spanish ------------------------------------------------------------


def _fields(text: str) -> list[tuple[str, str, str | None]]:
    return sorted(
        (name, spec, conversion)
        for _literal, name, spec, conversion in string.Formatter().parse(text)
        if name is not None
    )


def test_every_translation_keeps_the_fields_and_their_formats() -> None:
    for english, spanish in i18n.catalogue("es").items():
        assert _fields(spanish) == _fields(english), english


@pytest.mark.parametrize("lab", sorted(LAB_MODULES))
def test_every_task_title_and_hint_has_its_spanish(lab: str) -> None:
    spanish = i18n.catalogue("es")
    for task in checks.TASKS[lab]:
        assert spanish.get(task, "").startswith("Tarea "), task
        assert checks.HINTS[lab][task] in spanish, checks.HINTS[lab][task]


def test_hints_that_quote_a_constant_quote_its_value() -> None:
    from utils.data import PRICE_CHANGE_MONTH

    hints = checks.HINTS
    assert f"columns='{lab05.DROPPED_COLUMN}'" in hints["lab05"]["Task 5 · Read an error response"]
    assert (
        f"train_start='{PRICE_CHANGE_MONTH}'"
        in hints["lab06"]["Task 2 · Retrain on a recent window"]
    )


# --- A student with KIT_LANG=es reads Spanish ------------------------------------------------

#: English words that a Spanish message never holds outside code.
ENGLISH = re.compile(r"\b(the|should|is|are|has|was|your|of|not|points|failed|Hint)\b")


def _cases(tmp_path: Path) -> dict[str, list[tuple[Callable[..., Any], tuple, list[str]]]]:
    """Per lab: a check, wrong answers (a wrong type, a wrong value), and Spanish to find."""
    from utils.serving import ServingError

    return {
        "lab01": [
            (
                lab01.check_break_even,
                ("0.3",),
                ["el umbral de equilibrio debería ser un número, no str '0.3'"],
            ),
            (
                lab01.check_break_even,
                (0.5,),
                [
                    "0.500 no es el umbral de equilibrio; con esa probabilidad una oferta vale "
                    "en promedio"
                ],
            ),
            (lab01.check_threshold, (1.5, [0, 1], [0.2, 0.8]), ["1.5 no está en [0, 1]"]),
        ],
        "lab02": [
            (lab02.check_categories, ("x",), ["categories debería ser un DataFrame, no un str"]),
            (
                lab02.check_duplicates,
                (pd.DataFrame({"id": [1]}),),
                ["a deduped le faltan las columnas ['customer_id']; conserva todas las columnas"],
            ),
            (
                lab02.check_pipeline,
                ("model", [0.7] * 5),
                ["pon el preprocesamiento y el clasificador en un solo Pipeline"],
            ),
        ],
        "lab03": [
            (lab03.check_search_space, ("x",), ["configurations debería ser un list, no un str"]),
            (
                lab03.check_search_space,
                ([{"max_depth": 2, "min_samples_leaf": 1}, {"max_depth": 2}],),
                [
                    "hay 2 configuraciones: deja entre 4 y 8",
                    "la configuración 2 no tiene ['min_samples_leaf']: usa exactamente las claves "
                    "max_depth y min_samples_leaf",
                ],
            ),
        ],
        "lab04": [
            (lab04.check_clean_inputs, (42,), ["clean_inputs debería ser una función, no un int"]),
            (
                lab04.check_clean_inputs,
                (lambda frame: frame,),
                [
                    "algunas categorías no están escritas como en el entrenamiento; region: ",
                    "volvió como",
                ],
            ),
            (
                lab04.check_evaluation,
                (123, "models:/m-1"),
                ["evaluation_run_id debería ser un str, no un int"],
            ),
        ],
        "lab05": [
            (lab05.check_server, (42, 42), ["model_uri debería ser un str, no un int"]),
            (
                lab05.check_server,
                ("models:/lab05-churn/1", "ftp://host"),
                ["fija una versión; sirve por alias", "'ftp://host' no es una dirección http://"],
            ),
            (
                lab05.check_error,
                (KeyError("tenure_months"),),
                [
                    "error debería ser un ServingError, no un KeyError",
                    "un KeyError viene de pandas",
                ],
            ),
            (
                lab05.check_error,
                (ServingError("http://host/invocations", 500, "boom"),),
                ["el error tiene el estado 500, no 400: envía la muestra sin una de sus columnas"],
            ),
        ],
        "lab06": [
            (
                lab06.check_promotion,
                ("yes", None, None),
                ["promoted debería ser un bool, no un str"],
            ),
            (
                lab06.check_challenger,
                (42,),
                [
                    "challenger_version debería ser la ModelVersion que devuelve "
                    "mlflow.register_model, no un int"
                ],
            ),
            (
                lab06.check_drift,
                (pd.DataFrame({"a": [1]}), "age"),
                [
                    "el informe tiene las columnas ['a']: usa utils.drift.drift_report",
                    "drifted debería ser una lista de nombres de variables",
                ],
            ),
        ],
        "lab07": [
            (
                lab07.check_project,
                (42, "", ""),
                ["project_dir debería ser un Path o str, no un int"],
            ),
            (
                lab07.check_project,
                (tmp_path, "name: x", "python: '3.11'"),
                ["no contiene train.py: ejecuta la celda de configuración, que lo escribe"],
            ),
            (lab07.check_project_run, ("run", "stack"), ["aws debería ser un AwsStack, no un str"]),
        ],
    }


def _code_free(text: str) -> str:
    """The text without code: backticks, calls, quoted values and identifiers with _ . = /."""
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"'[^']*'|\"[^\"]*\"", " ", text)
    return " ".join(w for w in text.split() if not re.search(r"[_.=/()\[\]{}<>]", w))


@pytest.fixture
def spanish(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from utils import results

    monkeypatch.setenv(results.OFF_ENV, "off")
    i18n.set_language("es")  # the autouse fixture of conftest.py restores English afterwards
    yield
    i18n.set_language("en")


@pytest.mark.parametrize("lab", sorted(LAB_MODULES))
def test_each_lab_gives_its_feedback_in_spanish(lab: str, spanish: None, tmp_path: Path) -> None:
    es = i18n.catalogue("es")
    for check, answers, expected in _cases(tmp_path)[lab]:
        feedback = check.unrecorded(*answers)
        text = str(feedback)
        assert feedback.status == "failed", text
        title, hint = es[check.task], es[checks.HINTS[lab][check.task]]
        points = checks.POINTS[lab][check.task]
        assert text.startswith(f"❌ {title}: fallida (0/{points} puntos)"), text
        assert f"   Pista: {hint}" in text, text
        for snippet in expected:
            assert snippet in text, f"{snippet!r} not in:\n{text}"
        for line in [*feedback.problems, *feedback.good]:
            words = ENGLISH.findall(_code_free(line))
            assert not words, f"English words {words} in: {line}"
        # the record keeps the English task label: the gradebook's key
        assert feedback.as_record()["task"] == check.task


@pytest.mark.parametrize("lab", sorted(LAB_MODULES))
def test_english_stays_the_default(lab: str) -> None:
    check, answers, _expected = _cases(Path("."))[lab][0]
    text = str(check.unrecorded(*answers))
    assert text.startswith(f"❌ {check.task}: failed (0/{checks.POINTS[lab][check.task]} points)")
    assert "   Hint: " + checks.HINTS[lab][check.task] in text
