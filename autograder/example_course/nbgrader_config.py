# nbgrader's own commands and formgrader read this file in the folder they run in.
from autograder.nbgrader_settings import apply

apply(get_config())  # noqa: F821 - get_config is provided by nbgrader when it loads this file
