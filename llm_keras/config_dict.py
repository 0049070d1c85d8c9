"""Settings that travel as plain dicts: the base of ``GPTConfig`` and ``TrainingConfig``.

A run directory stores its settings as JSON (``run.json``) and a ``.keras`` file stores the
model's; both come back through ``from_dict``, which names any field it does not know (a typo,
or a file from another version) instead of ignoring it.
"""

from __future__ import annotations

import dataclasses


class ConfigDict:
    """``to_dict`` and ``from_dict`` for a dataclass of settings."""

    def to_dict(self):
        """A plain dict of every field (JSON-ready), the inverse of ``from_dict``."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, config):
        """Builds the settings from ``to_dict()``'s output; unknown keys are an error."""
        fields = [field.name for field in dataclasses.fields(cls)]
        unknown = sorted(set(config) - set(fields))
        if unknown:
            raise ValueError(
                f"Unknown {cls.__name__} field(s) {unknown}: the fields are {', '.join(fields)}."
            )
        return cls(**config)
