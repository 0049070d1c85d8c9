"""Tests of the course PDF build: one build per session, checked with pypdf and poppler."""
