"""The estimators' docstrings against the estimators themselves.

``help(MLPClassifier)`` and ``help(MLPRegressor)`` are the reference users
read, so these tests keep them true to the code:

- the Parameters section documents exactly the constructor's parameters, in
  signature order, and each entry's ``default=`` is the signature's default;
- the Attributes section names every public attribute that a fitted model
  has (names ending in ``_``), under each solver, and no attribute that no
  fitted model has;
- the Examples run as doctests.

The sections are read by a small numpydoc-section parser below, written from
the numpydoc format and independent of ``fastmlp._docstrings``, which builds
the text. numpydoc is not a dependency. When it is installed, a last test
checks that its own parser agrees with this one.
"""

import ast
import doctest
import inspect
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from fastmlp import MLPClassifier, MLPRegressor

ESTIMATORS = [MLPClassifier, MLPRegressor]


def _sections(cls):
    """{section title: [(entry header, description lines)]} of the class
    docstring, for the sections made of ``name : type`` entries."""
    lines = inspect.getdoc(cls).splitlines()
    sections, title = {}, None
    for i, line in enumerate(lines):
        underline = lines[i + 1] if i + 1 < len(lines) else ""
        if line and underline == "-" * len(line):
            title = line
            sections[title] = []
        elif title is None or not line or set(line) == {"-"}:
            continue
        elif not line[0].isspace():
            sections[title].append((line, []))
        elif sections[title]:
            sections[title][-1][1].append(line)
    return sections


def _entry_names(header):
    """``'a, b : type'`` -> ``['a', 'b']``; ``'a'`` (no type) -> ``['a']``."""
    return [name.strip() for name in header.split(" : ")[0].split(",")]


def _documented(cls, section):
    return [name for header, _ in _sections(cls)[section] for name in _entry_names(header)]


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_parameters_section_is_the_signature(cls):
    signature = list(inspect.signature(cls).parameters)
    documented = _documented(cls, "Parameters")
    missing = [p for p in signature if p not in documented]
    extra = [p for p in documented if p not in signature]
    assert not missing and not extra, (
        f"{cls.__name__} Parameters: undocumented {missing}, not parameters {extra}"
    )
    assert documented == signature, "Parameters are not in signature order"


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_each_parameter_has_type_default_and_description(cls):
    defaults = {name: p.default for name, p in inspect.signature(cls).parameters.items()}
    for header, description in _sections(cls)["Parameters"]:
        (name,) = _entry_names(header)
        if name not in defaults:
            continue  # test_parameters_section_is_the_signature reports it
        assert " : " in header, f"{name}: no type"
        assert description and any(line.strip() for line in description), (
            f"{name}: no description"
        )
        assert ", default=" in header, f"{name}: no default in {header!r}"
        shown = header.rsplit(", default=", 1)[1]
        assert ast.literal_eval(shown) == defaults[name], (
            f"{name}: documented default {shown} but the signature has "
            f"{defaults[name]!r}"
        )


def _fitted_models(cls):
    """Tiny fitted models under each solver family, with and without the
    validation machinery, so that every attribute fit can set is set."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int) if cls is MLPClassifier else X[:, 0] + 0.1 * X[:, 1]
    X_val, y_val = X[:10], y[:10]
    small = dict(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return [
            cls(**small).fit(X, y),
            cls(solver="lbfgs", **small).fit(X, y),
            cls(early_stopping=True, **small).fit(X, y),
            cls(early_stopping=True, **small).fit(X, y, X_val=X_val, y_val=y_val),
            cls(**small).partial_fit(X, y, **({"classes": [0, 1]} if cls is MLPClassifier else {})),
        ]


def _public_fitted(model):
    return {k for k in vars(model) if k.endswith("_") and not k.startswith("_")}


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_attributes_section_names_every_fitted_attribute(cls):
    documented = set(_documented(cls, "Attributes"))
    for model in _fitted_models(cls):
        undocumented = _public_fitted(model) - documented
        assert not undocumented, (
            f"{cls.__name__}(solver={model.solver!r}, early_stopping="
            f"{model.early_stopping}) has undocumented attributes {sorted(undocumented)}"
        )


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_attributes_section_names_only_attributes_a_model_has(cls):
    pd = pytest.importorskip("pandas")  # for feature_names_in_
    seen = set().union(*map(_public_fitted, _fitted_models(cls)))
    X = pd.DataFrame(np.random.RandomState(0).normal(size=(20, 2)), columns=["a", "b"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        seen |= _public_fitted(cls(hidden_layer_sizes=(2,), max_iter=2).fit(X, np.arange(20) % 2))
    stale = set(_documented(cls, "Attributes")) - seen
    assert not stale, f"{cls.__name__} documents attributes no fitted model has: {stale}"


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_docstring_is_complete(cls):
    doc = inspect.getdoc(cls)
    assert "$" not in doc, "a marker or field of fastmlp._docstrings was left unexpanded"
    for section in ("Parameters", "Attributes", "See Also", "Notes", "Examples"):
        assert f"\n{section}\n{'-' * len(section)}\n" in doc, f"no {section} section"


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_examples_pass_as_doctests(cls):
    finder = doctest.DocTestFinder(recurse=False)
    (test,) = finder.find(cls, cls.__name__, globs={})
    assert test.examples, "no Examples"
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    report = []
    runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_numpydoc_reads_the_same_sections(cls):
    docscrape = pytest.importorskip("numpydoc.docscrape")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpydoc warns on malformed sections
        doc = docscrape.ClassDoc(cls, config={"show_class_members": False})
    assert [p.name for p in doc["Parameters"]] == _documented(cls, "Parameters")
    assert [a.name for a in doc["Attributes"]] == _documented(cls, "Attributes")


def test_no_format_braces_are_left_doubled():
    # a fragment that never went through str.format kept '{{' and '}}' in
    # help(): numeric_scaling : {{'quantile', 'robust', 'both'}}
    import fastmlp

    for name in ("MLPClassifier", "MLPRegressor", "TabularMLPClassifier",
                 "TabularMLPRegressor", "TabularPreprocessor"):
        doc = getattr(fastmlp, name).__doc__
        assert "{{" not in doc and "}}" not in doc, name
