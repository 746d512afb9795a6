"""fastmlp reaches scikit-learn's private names only through _sklearn_compat."""
import ast
import pathlib

import fastmlp

PACKAGE = pathlib.Path(fastmlp.__file__).parent


def _private_sklearn_imports(path):
    """(line, name) of each private scikit-learn module or name imported."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sklearn"):
            parts = node.module.split(".")
            names = [a.name for a in node.names]
            if any(p.startswith("_") for p in parts) or any(n.startswith("_") for n in names):
                found.append((node.lineno, node.module, names))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("sklearn") and any(
                    p.startswith("_") for p in alias.name.split(".")
                ):
                    found.append((node.lineno, alias.name, []))
    return found


def test_only_the_compat_module_imports_sklearn_privates():
    offenders = {
        path.name: _private_sklearn_imports(path)
        for path in sorted(PACKAGE.glob("*.py"))
        if path.name != "_sklearn_compat.py"
    }
    assert {k: v for k, v in offenders.items() if v} == {}
    # and the check can see one: the compat module itself is full of them
    assert len(_private_sklearn_imports(PACKAGE / "_sklearn_compat.py")) >= 5


def test_compat_exports_what_it_imports():
    from fastmlp import _sklearn_compat

    for name in _sklearn_compat.__all__:
        assert hasattr(_sklearn_compat, name), name
