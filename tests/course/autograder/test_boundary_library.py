"""``Sandbox(library=folder)``: the learner's code imports that folder as ``llm_keras`` (issue 19).

The grader gives the sandbox a copy of the library without the pieces an assignment grades
(``autograder.library_view``); here a stand-in package shows that the folder given, and not the
installed ``llm_keras``, is what ``import llm_keras`` finds, read-only in the sandbox and first
on the path without it.
"""

from __future__ import annotations

import pytest

from autograder.sandbox.launcher import Limits, Sandbox

CELL = '''import llm_keras
print(llm_keras.WHICH, llm_keras.__file__.endswith("llm_keras/__init__.py"))
try:
    open(llm_keras.__file__, "a").close()
    print("writable")
except OSError:
    print("read-only")
'''


@pytest.mark.parametrize("sandboxed", [True, False], ids=["sandbox", "no-sandbox"])
def test_the_library_folder_is_what_llm_keras_imports(tmp_path, sandboxed, sandbox_available):
    if sandboxed and not sandbox_available:
        pytest.skip("bubblewrap cannot create a sandbox on this machine")
    library = tmp_path / "copy"
    library.mkdir()
    (library / "__init__.py").write_text("WHICH = 'the copy'\n")
    tmp_path.chmod(0o755)
    box = Sandbox("torch", Limits(cell_timeout=30, submission_timeout=60), sandboxed=sandboxed,
                  library=library)
    box.start()
    try:
        outcome = box.run([{"source": CELL}], [], b"")
    finally:
        box.close()
    # without the sandbox the grader's own files are writable to it (it is the grader's user)
    expected = "read-only" if sandboxed else "writable"
    assert (outcome.status, outcome.output) == ("finished", f"the copy True\n{expected}\n")
