"""Load an assignment's probe modules and cut out the part that runs in the sandbox.

Only ``probe`` and the module's imports are sent into the sandbox: inputs generation, the
reference, the checks and their tolerances stay on the trusted side.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
from pathlib import Path
from types import ModuleType

from autograder.contract import Check, ContractError, Exercise
from autograder.python_source import parse

SANDBOX_IMPORTS = ("autograder.sandbox",)


class ProbeError(ValueError):
    """A probe module does not follow the contract (message says what to fix)."""


@dataclasses.dataclass
class Probe:
    exercise: Exercise
    checks: tuple[Check, ...]
    path: Path
    module: ModuleType
    sandbox_source: str

    def inputs(self, rng) -> dict:
        return self.module.inputs(rng)

    def reference(self, inputs: dict) -> dict:
        return self.module.reference(inputs)


def load_probe(path: Path) -> Probe:
    path = Path(path)
    name = f"autograder_probe_{path.parent.name}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ContractError as error:
        raise ProbeError(f"{path}: {error}") from error
    except Exception as error:
        raise ProbeError(f"{path}: the probe module does not import ({error!r})") from error
    for attribute in ("EXERCISE", "CHECKS", "inputs", "probe", "reference"):
        if not hasattr(module, attribute):
            raise ProbeError(f"{path}: a probe module defines EXERCISE, CHECKS, inputs(rng), "
                             f"probe(learner, inputs) and reference(inputs); {attribute} is missing")
    if not isinstance(module.EXERCISE, Exercise):
        raise ProbeError(f"{path}: EXERCISE must be an autograder.contract.Exercise")
    checks = tuple(module.CHECKS)
    if not checks or not all(isinstance(check, Check) for check in checks):
        raise ProbeError(f"{path}: CHECKS must be a non-empty sequence of autograder.contract.Check")
    if len({check.name for check in checks}) != len(checks):
        raise ProbeError(f"{path}: two checks have the same name")
    return Probe(module.EXERCISE, checks, path, module, sandbox_source(path))


def sandbox_source(path: Path) -> str:
    """The module's imports that the sandbox can satisfy, and the ``probe`` function."""
    source = Path(path).read_text()
    tree = parse(source, filename=str(path))
    kept = []
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) \
                else [node.module or ""]
            if all(not m.startswith("autograder") or m.startswith(SANDBOX_IMPORTS) for m in modules):
                kept.append(ast.get_source_segment(source, node))
        elif isinstance(node, ast.FunctionDef) and node.name == "probe":
            kept.append(ast.get_source_segment(source, node))
    if not any(line.startswith("def probe") for line in kept):
        raise ProbeError(f"{path}: no top-level `def probe(learner, inputs)`")
    return "\n\n".join(kept) + "\n"
