"""Data and checks of lab 02, cleaning a raw batch and a leak-free pipeline (after notebook 05).

The lab's raw batch is the clean production batch of March 2025 exported the way the
legacy CRM exports customers (:func:`messy_batch`): categories spelled in many ways, some
of them spellings ``utils.cleaning`` has never seen; repeated rows and repeated customers;
dates as text in three formats; ``autopay`` as yes/no; impossible ages, flipped tenures
and fees in cents. Because the true batch is known (:func:`true_batch`), every check can
say exactly which customers are still wrong. Tasks 4 and 5 build and score a preprocessing
pipeline on the true batch (:func:`pipeline_data`). Introduced in lab 02.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from utils.checks import Feedback, task_check
from utils.data import load_dataset
from utils.i18n import N_, _

LAB = "lab02"
#: The production month the lab's raw batch is made from.
MONTH = "2025-03"
#: The seed of the mess, so every student gets the same raw batch.
SEED = 202503
#: The categorical columns and their one canonical spelling each.
CANONICAL: dict[str, list[str]] = {
    "plan": ["Basic", "Standard", "Premium", "Family"],
    "contract_type": ["month-to-month", "one-year", "two-year"],
    "payment_method": ["credit_card", "debit_card", "paypal", "bank_transfer"],
    "region": ["North", "South", "East", "West", "Central"],
}
#: The spellings injected into the raw batch, by column: canonical value -> variants.
#: The last variants of each column are not in ``utils.cleaning.VOCABULARY``.
SPELLINGS: dict[str, dict[str, list[str]]] = {
    "plan": {
        "Basic": ["basic", "BASIC", "Basic plan"],
        "Standard": ["standard", "Std", "Std."],
        "Premium": ["premium", "Prem.", "PREM"],
        "Family": ["family", "Family plan", "Fam."],
    },
    "contract_type": {
        "month-to-month": ["M2M", "monthly", "month to month"],
        "one-year": ["1 year", "12 months", "1yr"],
        "two-year": ["2 years", "24 months", "2yr"],
    },
    "payment_method": {
        "credit_card": ["Credit card", "CC", "Credit"],
        "debit_card": ["Debit card", "debit", "Debit Card "],
        "paypal": ["PayPal", "Paypal", "Pay Pal"],
        "bank_transfer": ["Bank transfer", "BT", "bank"],
    },
    "region": {
        "North": ["north", " North", "NORTH"],
        "South": ["south", "South ", "Sth"],
        "East": ["east", "EAST", "E."],
        "West": ["west", "West ", "W."],
        "Central": ["central", "CENTRAL", "Centre"],
    },
}
#: Ages that no customer can have, injected into the raw batch.
IMPOSSIBLE_AGES: list[int] = [0, 3, -2, 130, 155, 999]
#: How many rows get each injected problem.
COUNTS: dict[str, int] = {
    "categories": 220,  # per column
    "exact_duplicates": 40,
    "id_duplicates": 12,
    "missing_age": 30,
    "negative_tenure": 8,
    "fee_in_cents": 7,
}


# --- The lab's data ------------------------------------------------------------------------


def true_batch() -> pd.DataFrame:
    """Return the clean production batch the raw batch was made from.

    Returns:
        ``load_dataset("monthly/2025-03")``: one row per customer, monthly-batch dtypes.
    """
    return load_dataset(f"monthly/{MONTH}")


def messy_batch() -> pd.DataFrame:
    """Return the lab's raw batch: the true batch exported with realistic problems.

    Returns:
        A new frame with the columns of a monthly batch, but ``age`` as float (with
        missing and impossible values), ``signup_date`` and ``autopay`` as text,
        categories in many spellings, repeated rows and customers, flipped tenures and
        fees in cents. The same frame on every call.
    """
    rng = np.random.default_rng(SEED)
    truth = true_batch()
    raw = truth.copy()
    n = len(raw)

    def pick(count: int, among: np.ndarray | None = None) -> np.ndarray:
        pool = np.arange(n) if among is None else among
        return np.sort(rng.choice(pool, size=count, replace=False))

    raw["age"] = raw["age"].astype(float)
    raw.loc[pick(COUNTS["missing_age"]), "age"] = np.nan
    raw.loc[pick(len(IMPOSSIBLE_AGES)), "age"] = rng.permutation(IMPOSSIBLE_AGES).astype(float)
    flipped = pick(COUNTS["negative_tenure"], np.flatnonzero(raw["tenure_months"] > 0))
    raw.loc[flipped, "tenure_months"] = -raw.loc[flipped, "tenure_months"]
    cents = pick(COUNTS["fee_in_cents"])
    raw.loc[cents, "monthly_fee"] = (raw.loc[cents, "monthly_fee"] * 100).round()

    for column, spellings in SPELLINGS.items():
        rows = pick(COUNTS["categories"])
        values = raw[column].astype(object).to_numpy().copy()
        for row in rows:
            values[row] = rng.choice(spellings[values[row]])
        raw[column] = pd.array(values, dtype="str")

    dates = raw["signup_date"]
    text = dates.dt.strftime("%Y-%m-%d").astype(object)
    kind = rng.choice(3, size=n, p=[0.8, 0.14, 0.06])
    text[kind == 1] = dates[kind == 1].dt.strftime("%d/%m/%Y")
    text[kind == 2] = dates[kind == 2].dt.strftime("%b %d, %Y")
    raw["signup_date"] = pd.array(text.to_numpy(), dtype="str")
    raw["autopay"] = pd.array(np.where(raw["autopay"], "yes", "no"), dtype="str")

    repeats = raw.iloc[pick(COUNTS["exact_duplicates"])]
    respelled = raw.iloc[pick(COUNTS["id_duplicates"])].copy()
    for offset, index in enumerate(respelled.index):
        column = list(SPELLINGS)[offset % len(SPELLINGS)]
        canonical = truth.at[index, column]
        respelled.at[index, column] = SPELLINGS[column][canonical][offset % 3]
    mixed = pd.concat([raw, repeats, respelled])
    order = rng.permutation(len(mixed))
    return mixed.iloc[order].reset_index(drop=True)


def pipeline_data(
    test_size: float = 0.2, seed: int = 42
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    """Return the training and test rows of tasks 4 and 5, from the true batch.

    Args:
        test_size: The share of customers held out for the test.
        seed: The seed of the stratified split.

    Returns:
        ``(X_train, X_test, y_train, y_test)``, with the features of
        ``utils.features.FEATURES``.
    """
    from sklearn.model_selection import train_test_split

    from utils.features import split_features

    X, y = split_features(true_batch())
    return train_test_split(X, y, test_size=test_size, stratify=y, random_state=seed)


def cv_splitter(seed: int = 42) -> Any:
    """Return the 5-fold stratified cross-validation every pipeline of the lab is scored with."""
    from sklearn.model_selection import StratifiedKFold

    return StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)


# --- Helpers of the checks -----------------------------------------------------------------


def _examples(values: pd.Series | list[Any], limit: int = 3) -> str:
    """``'C100001, C100002 and 3 more'``."""
    items = [str(v) for v in values]
    shown = ", ".join(items[:limit])
    if len(items) > limit:
        return _("{shown} and {count} more").format(shown=shown, count=len(items) - limit)
    return shown


def _columns_present(fb: Feedback, frame: pd.DataFrame, columns: list[str], what: str) -> bool:
    missing = [c for c in columns if c not in frame.columns]
    return fb.expect(
        not missing,
        _("{what} has the columns the check needs").format(what=what),
        _("{what} lacks the columns {missing}; keep every column of the raw batch").format(
            what=what, missing=missing
        ),
    )


def _fitted_attributes(estimator: Any) -> list[str]:
    """The attributes scikit-learn sets when fitting (``mean_``, ``n_features_in_``, ...)."""
    return [k for k in vars(estimator) if k.endswith("_") and not k.startswith("__")]


def _parts(estimator: Any, path: str = "") -> list[tuple[str, Any]]:
    """Every estimator inside a pipeline, with a path such as ``preprocess/numeric/scaler``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    found = [(path or type(estimator).__name__, estimator)]
    if isinstance(estimator, Pipeline):
        for name, step in estimator.steps:
            if not isinstance(step, str) and step is not None:
                found += _parts(step, f"{path}/{name}" if path else name)
    elif isinstance(estimator, ColumnTransformer):
        for name, step, _columns in estimator.transformers:
            if not isinstance(step, str):
                found += _parts(step, f"{path}/{name}" if path else name)
    return found


# --- Task 1 --------------------------------------------------------------------------------


@task_check(
    LAB,
    N_("Task 1 · Inconsistent categories"),
    points=2,
    hint=N_(
        "Strip spaces and lower-case each value, then map it with a dict that knows every "
        "spelling (start from utils.cleaning.VOCABULARY and add the new ones); look at "
        "value_counts() of each column to find them."
    ),
)
def check_categories(fb: Feedback, categories: pd.DataFrame) -> None:
    """Every category is spelled canonically, and no value was lost on the way."""
    if not fb.expect_type(categories, pd.DataFrame, "categories"):
        return
    if not _columns_present(fb, categories, list(CANONICAL), "categories"):
        return
    messy = messy_batch()
    fb.expect(
        len(categories) == len(messy),
        _("all {rows:,} rows are still there").format(rows=len(messy)),
        _(
            "categories has {rows:,} rows, the raw batch {raw:,}: fix the spellings only; "
            "duplicates are Task 2"
        ).format(rows=len(categories), raw=len(messy)),
    )
    for column, canonical in CANONICAL.items():
        values = categories[column]
        odd = values[values.notna() & ~values.isin(canonical)].value_counts()
        listed = ", ".join(f"{value!r} ({count})" for value, count in odd.head(4).items())
        if len(odd) > 4:
            still = _("column {column} still has {listed} and {count} more spellings")
        else:
            still = _("column {column} still has {listed}")
        fb.expect(
            odd.empty,
            _("{column} uses only {canonical}").format(column=column, canonical=canonical),
            still.format(column=column, listed=listed, count=len(odd) - 4),
        )
        lost = int(values.isna().sum() - messy[column].isna().sum())
        if lost > 0:
            text = _(
                "{column} has {lost} more missing values than the raw batch: your mapping "
                "turned spellings it does not know into NaN"
            )
            examples = ""
            if categories.index.equals(messy.index):
                turned = messy.loc[values.isna() & messy[column].notna(), column]
                examples = _examples([repr(v) for v in sorted(set(turned))])
                text = _(
                    "{column} has {lost} more missing values than the raw batch: your mapping "
                    "turned spellings it does not know into NaN, e.g. {examples}"
                )
            fb.problems.append(text.format(column=column, lost=lost, examples=examples))


# --- Task 2 --------------------------------------------------------------------------------


@task_check(
    LAB,
    N_("Task 2 · Duplicates"),
    points=2,
    hint=N_(
        "Fix the spellings first (Task 1), then keep one row per customer_id with "
        "drop_duplicates(subset='customer_id', keep='first')."
    ),
)
def check_duplicates(fb: Feedback, deduped: pd.DataFrame) -> None:
    """One row per customer, and every customer of the raw batch kept."""
    if not fb.expect_type(deduped, pd.DataFrame, "deduped"):
        return
    if not _columns_present(fb, deduped, ["customer_id"], "deduped"):
        return
    ids = deduped["customer_id"]
    repeated = ids[ids.duplicated()].unique()
    fb.expect(
        len(repeated) == 0,
        _("every customer_id appears once"),
        _("{count} duplicate customer ids remain, e.g. {examples}").format(
            count=len(repeated), examples=_examples(repeated)
        ),
    )
    truth = set(true_batch()["customer_id"])
    lost = sorted(truth - set(ids))
    fb.expect(
        not lost,
        _("all {count:,} customers of the batch are kept").format(count=len(truth)),
        _(
            "{count} customers were dropped entirely, e.g. {examples}: drop only the "
            "repeats of a customer, never its first row"
        ).format(count=len(lost), examples=_examples(lost)),
    )


# --- Task 3 --------------------------------------------------------------------------------

#: Why a column of a cleaned frame can still differ from the truth, shown with the examples.
_VALUE_HINTS: dict[str, str] = {
    "monthly_fee": N_("fees above 100 USD were typed in cents: divide them by 100"),
    "tenure_months": N_("a negative tenure has its sign flipped: take the absolute value"),
    "signup_date": N_(
        "parse each format explicitly (%Y-%m-%d, %d/%m/%Y, %b %d, %Y); DD/MM/YYYY is day first"
    ),
    "autopay": N_("map 'yes' to True and 'no' to False"),
}


@task_check(
    LAB,
    N_("Task 3 · Types and impossible values"),
    points=2,
    hint=N_(
        "Parse the dates format by format, map autopay to booleans, set ages outside "
        "18-100 to missing and fill missing ages with the median, take abs() of tenures, "
        "divide fees above 100 by 100, then .astype(true_types) as the batch has."
    ),
)
def check_clean(fb: Feedback, clean: pd.DataFrame) -> None:
    """The cleaned batch has the batch's dtypes and its true values (any valid age)."""
    if not fb.expect_type(clean, pd.DataFrame, "clean"):
        return
    truth = true_batch()
    if not _columns_present(fb, clean, list(truth.columns), "clean"):
        return
    wrong_types = {
        column: str(clean[column].dtype)
        for column in truth.columns
        if str(clean[column].dtype) != str(truth[column].dtype)
    }
    listed = ", ".join(
        _("{column} is {dtype} (a batch has {expected})").format(
            column=c, dtype=t, expected=truth[c].dtype
        )
        for c, t in list(wrong_types.items())[:4]
    )
    fb.expect(
        not wrong_types,
        _("every column has the dtype of a monthly batch"),
        _("wrong dtypes: {listed}").format(listed=listed),
    )
    ids = clean["customer_id"]
    if ids.duplicated().any() or set(ids) != set(truth["customer_id"]):
        fb.problems.append(
            _(
                "clean must hold each customer of the batch exactly once: build it from your "
                "Task 2 answer, `deduped`"
            )
        )
        return
    age = pd.to_numeric(clean["age"], errors="coerce")
    bad_age = clean.loc[age.isna() | ~age.between(18, 100), ["customer_id", "age"]]
    shown = _examples([f"{r.customer_id}: {r.age}" for r in bad_age.itertuples()])
    fb.expect(
        bad_age.empty,
        _("every age is between 18 and 100"),
        _("{count} ages are missing or outside 18-100, e.g. {examples}").format(
            count=len(bad_age), examples=shown
        ),
    )
    mine = clean.set_index("customer_id").loc[truth["customer_id"]]
    true = truth.set_index("customer_id")
    for column in ["signup_date", "autopay", "tenure_months", "monthly_fee"]:
        if column == "signup_date":
            differs = pd.to_datetime(mine[column], errors="coerce") != true[column]
        elif column == "autopay":
            differs = mine[column].astype(str) != true[column].astype(str)
        else:
            numbers = pd.to_numeric(mine[column], errors="coerce").astype(float)
            differs = ~np.isclose(numbers, true[column].astype(float))
        wrong = mine.index[np.asarray(differs, dtype=bool)]
        shown = _examples(
            [
                _("{customer}: {value} (true {true})").format(
                    customer=i, value=mine.at[i, column], true=true.at[i, column]
                )
                for i in wrong
            ]
        )
        fb.expect(
            len(wrong) == 0,
            _("{column} is right for every customer").format(column=column),
            _(
                "{column} differs from the true value for {count} customers, e.g. {examples}; "
                "{hint}"
            ).format(column=column, count=len(wrong), examples=shown, hint=_(_VALUE_HINTS[column])),
        )


# --- Task 4 --------------------------------------------------------------------------------


@task_check(
    LAB,
    N_("Task 4 · A leak-free pipeline, cross-validated"),
    points=2,
    hint=N_(
        "model = Pipeline([('preprocess', ColumnTransformer([...])), ('classifier', "
        "LogisticRegression(max_iter=1000))]) with every step unfitted; then cv_scores = "
        "cross_val_score(model, X_train, y_train, cv=cv, scoring='roc_auc')."
    ),
)
def check_pipeline(fb: Feedback, model: Any, cv_scores: Any) -> None:
    """An unfitted Pipeline of a ColumnTransformer and a classifier, honestly cross-validated."""
    from sklearn.base import clone
    from sklearn.compose import ColumnTransformer
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import Pipeline

    if not fb.expect_type(model, Pipeline, "model"):
        fb.problems.append(
            _(
                "put the preprocessing and the classifier in one Pipeline, so that "
                "cross-validation refits the preprocessing on each fold's training rows"
            )
        )
        return
    parts = _parts(model)
    has_columns = any(isinstance(part, ColumnTransformer) for _path, part in parts)
    fb.expect(
        has_columns,
        _("the pipeline holds a ColumnTransformer"),
        _(
            "the pipeline has no ColumnTransformer: numeric and categorical columns need "
            "different steps"
        ),
    )
    final = model.steps[-1][1]
    fb.expect(
        hasattr(final, "predict_proba"),
        _("the pipeline ends with a classifier ({name})").format(name=type(final).__name__),
        _("the last step, {name}, is not a classifier with predict_proba").format(
            name=type(final).__name__
        ),
    )
    fitted = [(path, part) for path, part in parts[1:] if _fitted_attributes(part)]
    for path, part in fitted:
        fb.problems.append(
            _(
                "your pipeline's {path} ({name}) was fitted before the split: fit it inside "
                "the pipeline (build it unfitted; cross-validation fits it on each fold's "
                "training rows). If a later task fitted `model`, run this task's cell again"
            ).format(path=path, name=type(part).__name__)
        )
    if not fitted:
        fb.good.append(_("no step was fitted before the split"))
    try:
        scores = np.asarray(cv_scores, dtype=float).ravel()
    except (TypeError, ValueError):
        scores = None
    if scores is None or len(scores) != 5:
        fb.problems.append(
            _(
                "cv_scores should be the 5 fold scores from cross_val_score with cv=cv, not a "
                "{type}"
            ).format(type=type(cv_scores).__name__)
        )
        return
    split = pipeline_data()
    X_train, y_train = split[0], split[2]
    try:
        ours = cross_val_score(
            clone(model), X_train, y_train, cv=cv_splitter(), scoring="roc_auc", error_score="raise"
        )
    except Exception as exc:  # noqa: BLE001 - the student's pipeline failed: say how
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        fb.problems.append(
            _(
                "your pipeline fails on the raw features X_train ({error}: {message}): does "
                "it impute missing values and one-hot encode the categorical columns?"
            ).format(error=type(exc).__name__, message=first[:160])
        )
        return
    fb.expect(
        abs(scores.mean() - ours.mean()) < 0.005,
        _("cv_scores match your pipeline cross-validated on X_train (mean {mean:.3f})").format(
            mean=ours.mean()
        ),
        _(
            "your cv_scores average {theirs:.3f}, but your pipeline cross-validated on "
            "X_train with the lab's cv gives {ours:.3f}: score `model` itself, on X_train, "
            "with cv=cv and scoring='roc_auc'"
        ).format(theirs=scores.mean(), ours=ours.mean()),
    )
    fb.expect(
        ours.mean() > 0.7,
        _("a cross-validated ROC AUC of {auc:.3f}").format(auc=ours.mean()),
        _(
            "a cross-validated ROC AUC of only {auc:.3f}; the shared pipeline reaches "
            "about 0.78: are all the features used?"
        ).format(auc=ours.mean()),
    )


# --- Task 5 --------------------------------------------------------------------------------


@task_check(
    LAB,
    N_("Task 5 · One score on the test set"),
    points=2,
    hint=N_(
        "fitted = clone(model).fit(X_train, y_train); test_auc = "
        "roc_auc_score(y_test, fitted.predict_proba(X_test)[:, 1])."
    ),
)
def check_test_score(fb: Feedback, fitted: Any, test_auc: Any) -> None:
    """The pipeline was fitted on the training rows only, and scored once on the test rows."""
    from sklearn.base import clone
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import Pipeline

    if not fb.expect_type(fitted, Pipeline, "fitted"):
        return
    if not fb.expect_type(test_auc, (float, np.floating), "test_auc"):
        return
    X_train, X_test, y_train, y_test = pipeline_data()
    if not _fitted_attributes(fitted.steps[-1][1]):
        fb.problems.append(_("fitted has not been fitted: call .fit(X_train, y_train) on it"))
        return
    theirs = fitted.predict_proba(X_test)[:, 1]
    reference = clone(fitted).fit(X_train, y_train).predict_proba(X_test)[:, 1]
    fb.expect(
        np.allclose(theirs, reference, atol=1e-6),
        _("fitted learned from the training rows only"),
        _(
            "fitted predicts differently from the same pipeline fitted on X_train alone: fit "
            "it on X_train and y_train only, never on the test rows or the whole batch (and "
            "give a random classifier a random_state)"
        ),
    )
    auc = roc_auc_score(y_test, theirs)
    fb.expect(
        abs(float(test_auc) - auc) < 1e-6,
        _("test_auc is the ROC AUC of fitted on X_test ({auc:.3f})").format(auc=auc),
        _(
            "test_auc is {theirs:.4f}, but fitted scores {auc:.4f} on X_test: use "
            "roc_auc_score(y_test, fitted.predict_proba(X_test)[:, 1])"
        ).format(theirs=float(test_auc), auc=auc),
    )
