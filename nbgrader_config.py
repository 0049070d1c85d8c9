"""nbgrader's configuration for this course (read by nbgrader's own commands and formgrader).

The settings live in one place, autograder/nbgrader_settings.py: solutions/ is nbgrader's source
folder, exercises/ its release folder, and the gradebook is gradebook.db unless --db says otherwise.
"""

from autograder.nbgrader_settings import apply

apply(get_config())  # noqa: F821 (nbgrader provides get_config when it reads this file)
