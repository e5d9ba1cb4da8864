"""Inputs that once crashed a stage (found by the hypothesis property tests), kept as fixed examples."""

import pytest

from buildopt.dockerfile import parse_string
from buildopt.optimize import analyze_and_optimize
from buildopt.rules import analyze

EMPTY_JSON_FORMS = [
    "FROM python:3.10-slim\nRUN []\nWORKDIR /app\n",
    'FROM python:3.11-slim\nCMD []\nENTRYPOINT []\n',
    'FROM python:3.11-slim\nRUN [""]\nHEALTHCHECK CMD []\n',
    "FROM python:3.11-slim\nSHELL []\nRUN echo hi\n",
]


@pytest.mark.parametrize("text", EMPTY_JSON_FORMS)
def test_empty_json_forms_are_analyzed_and_optimized_without_crashing(text):
    parsed = parse_string(text)
    analyze(parsed)
    result = analyze_and_optimize(parsed)
    parse_string(result.text)  # the output always parses
