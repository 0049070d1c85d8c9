"""The one error the PDF build raises for problems a course author or instructor can fix.

Its message says what was wrong, where (file and line when known) and what to do; the CLI
prints it as one paragraph without a traceback.
"""


class BuildError(Exception):
    """A problem in the course sources or the machine's set-up that stops the PDF build."""
