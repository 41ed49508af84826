"""``zerolog-mw audit``: exact findings on a corpus of leaky and clean snippets, and the output."""

from __future__ import annotations

import json
import tokenize
from pathlib import Path

import pytest

import zerolog_mw
from zerolog_mw.audit import RULES, Finding, main, scan_source
from zerolog_mw.audit.scanner import iter_python_files, scan_file

CORPUS = Path(__file__).parent / "audit_corpus"
LEAKY = sorted(CORPUS.glob("leaky_*.py"))
CLEAN = sorted(CORPUS.glob("clean_*.py"))
PACKAGE = Path(zerolog_mw.__file__).parent


def expected(path: Path) -> set[tuple[int, str]]:
    """The ``# expect: ZL101 ZL102`` annotations of a corpus file, as (line, code)."""
    found: set[tuple[int, str]] = set()
    with path.open(encoding="utf-8") as file:
        for token in tokenize.generate_tokens(file.readline):
            if token.type == tokenize.COMMENT and "expect:" in token.string:
                codes = token.string.split("expect:", 1)[1].split()
                found |= {(token.start[0], code) for code in codes}
    return found


def test_corpus_is_there() -> None:
    assert len(LEAKY) >= 4 and len(CLEAN) >= 3
    annotated = set().union(*(expected(p) for p in LEAKY))
    # every code but ZL000 (tested on a temporary file) is exercised by the corpus
    assert {code for _, code in annotated} == set(RULES) - {"ZL000"}


@pytest.mark.parametrize("path", LEAKY, ids=lambda p: p.name)
def test_leaky_snippet_findings_are_exact(path: Path) -> None:
    findings = {(f.line, f.code) for f in scan_file(path)}
    assert findings == expected(path)


@pytest.mark.parametrize("path", CLEAN, ids=lambda p: p.name)
def test_clean_snippet_has_no_findings(path: Path) -> None:
    assert scan_file(path) == []
    assert expected(path) == set()


def scan(source: str) -> list[tuple[int, str]]:
    return [(f.line, f.code) for f in scan_source(source, Path("snippet.py"))]


def test_logging_is_flagged_only_with_request_data() -> None:
    source = (
        "import logging\n"
        "log = logging.getLogger(__name__)\n"
        "@app.get('/{name}')\n"
        "def greet(name: str) -> str:\n"
        "    log.info('greeting')\n"
        "    log.info('%d chars', len(name))\n"
        "    log.info('%s', name.upper())\n"
        "    greeting = 'hello ' + name\n"
        "    log.info(greeting)\n"
        "    return greeting\n"
    )
    assert scan(source) == [(7, "ZL102"), (9, "ZL102")]


def test_print_outside_request_handling_is_fine() -> None:
    source = "def report(rows: list[str]) -> None:\n    print(len(rows))\n"
    assert scan(source) == []
    assert scan("def view(request):\n    print('hit')\n") == [(2, "ZL101")]


def test_sentry_with_unpacked_options_is_not_guessed() -> None:
    source = "import sentry_sdk\nsentry_sdk.init(**OPTIONS, send_default_pii=True)\n"
    assert scan(source) == [(2, "ZL201")]


def test_ignore_comments() -> None:
    line = "def view(request):\n    print(request.GET)  # zerolog: ignore[{}]\n"
    assert scan(line.format("ZL101")) == []
    assert scan(line.format("ZL102")) == [(2, "ZL101")]
    assert scan(line.replace("ignore[{}]", "ignore")) == []
    assert scan(line.replace("ignore[{}]", "ignored")) == [(2, "ZL101")]


def test_columns_are_one_based_characters() -> None:
    source = "def view(request):\n    x = 'é'; print(x)\n"
    assert [(f.line, f.col) for f in scan_source(source, Path("s.py"))] == [(2, 14)]


def test_unparsable_file_is_a_finding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("def view(request:\n    print('secret-literal')\n", encoding="utf-8")
    assert main([str(broken)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{broken}:1:1: ZL000 ")
    assert "secret-literal" not in out
    (tmp_path / "latin1.py").write_bytes(b"x = '\xe9'\n")
    assert [f.code for f in scan_file(tmp_path / "latin1.py")] == ["ZL000"]


def test_output_never_quotes_the_scanned_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(CORPUS / "leaky_flask_app.py"), "--format", "json"]) == 1
    out = capsys.readouterr().out
    for literal in ("sqlite://", "could not parse", "updating", "/items/<item_id>"):
        assert literal not in out


def test_text_format(capsys: pytest.CaptureFixture[str]) -> None:
    path = CORPUS / "leaky_suppressed.py"
    assert main([str(path)]) == 1
    assert capsys.readouterr().out == f"{path}:18:5: ZL101 {RULES['ZL101'].message}\n"


def test_json_format(capsys: pytest.CaptureFixture[str]) -> None:
    path = CORPUS / "leaky_django_views.py"
    assert main([str(path), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report[0] == {
        "path": str(path),
        "line": 15,
        "col": 5,
        "code": "ZL101",
        "message": RULES["ZL101"].message,
    }
    assert [(item["line"], item["code"]) for item in report] == sorted(expected(path))


def test_sarif_format(capsys: pytest.CaptureFixture[str]) -> None:
    path = CORPUS / "leaky_fastapi_app.py"
    assert main([str(path), "--format", "sarif"]) == 1
    sarif = json.loads(capsys.readouterr().out)
    assert sarif["version"] == "2.1.0"
    assert sarif["$schema"].endswith("sarif-2.1.0.json")
    (run,) = sarif["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [rule["id"] for rule in rules] == list(RULES)
    for rule in rules:
        assert rule["shortDescription"]["text"] == RULES[rule["id"]].message
        assert rule["defaultConfiguration"]["level"] in ("warning", "error")
    results = run["results"]
    assert len(results) == len(expected(path))
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["message"]["text"] == RULES[result["ruleId"]].message
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"] == path.as_uri()
        assert physical["region"]["startLine"] >= 1
        assert physical["region"]["startColumn"] >= 1


def test_sarif_uri_is_relative_for_relative_paths(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(CORPUS.parent)
    assert main(["audit_corpus/leaky_suppressed.py", "--format", "sarif"]) == 1
    (result,) = json.loads(capsys.readouterr().out)["runs"][0]["results"]
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "audit_corpus/leaky_suppressed.py"


def test_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(p) for p in CLEAN]) == 0
    assert main([str(CORPUS / "clean_flask_app.py"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main([str(tmp_path / "missing")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main([]) == 2
    assert main([str(tmp_path), "--format", "xml"]) == 2
    assert main([str(tmp_path)]) == 0  # an empty folder is clean


def test_directories_are_walked_skipping_tool_folders(tmp_path: Path) -> None:
    leak = "def view(request):\n    print(request)\n"
    for folder in ("app", ".venv/lib", "node_modules/x", "build", "app/__pycache__"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "views.py").write_text(leak, encoding="utf-8")
    (tmp_path / "app" / "notes.txt").write_text(leak, encoding="utf-8")
    assert list(iter_python_files(tmp_path)) == [tmp_path / "app" / "views.py"]
    assert main([str(tmp_path)]) == 1


def test_findings_sort_by_location() -> None:
    a, b = Finding("a.py", 2, 1, "ZL101"), Finding("a.py", 10, 1, "ZL101")
    assert sorted([b, a]) == [a, b]


def test_the_library_itself_is_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(PACKAGE)]) == 0, capsys.readouterr().out


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("app.config.update(DEBUG=True)\n", [(1, "ZL302")]),
        ("app.config.update(DEBUG=False)\n", []),
        ("import ddtrace.auto\n", [(1, "ZL205")]),
        (
            "from opentelemetry.instrumentation.flask import FlaskInstrumentor\n"
            "FlaskInstrumentor().instrument_app(app)\n",
            [(2, "ZL204")],
        ),
        ("import logging\nlogging.basicConfig(level='DEBUG')\n", [(2, "ZL105")]),
        ("import logging\nlogging.basicConfig(level=logging.WARNING)\n", []),
        (
            "from sqlalchemy import create_engine\ncreate_engine(URL, echo='debug')\n",
            [(2, "ZL301")],
        ),
        ("from sqlalchemy import create_engine\ncreate_engine(URL, echo=1)\n", []),
        ("import flask_debugtoolbar\n", [(1, "ZL501")]),
        ("DEBUG = True\n", []),  # not a settings module: no INSTALLED_APPS, not settings.py
        (
            "from flask import request\nfrom loguru import logger as lg\n"
            "@app.get('/')\ndef view():\n    lg.info('q {}', request.args)\n",
            [(5, "ZL102")],
        ),
        (
            "import loguru\nfrom flask import request\nlg = loguru.logger\n"
            "@app.get('/')\ndef view():\n    lg.info(request.args)\n"
            "    lg.bind(user=1).opt(lazy=True).warning(request.args)\n",
            [(6, "ZL102"), (7, "ZL102")],
        ),
        # Handlers registered by a call rather than a decorator, whatever their parameter's name.
        (
            "from starlette.routing import Route\nasync def item(req):\n"
            "    print(req.path_params)\nroutes = [Route('/items/{id}', item)]\n",
            [(3, "ZL101")],
        ),
        (
            "async def item(req):\n    print(req.query_params)\n"
            "app.add_api_route('/items', endpoint=item)\n",
            [(2, "ZL101")],
        ),
        (
            "from django.urls import path\ndef item(req, pk):\n    print(pk)\n"
            "urlpatterns = [path('items/<int:pk>/', item)]\n",
            [(3, "ZL101")],
        ),
        # Not a framework's: a dataclass named Route, a helper named path.
        (
            "import logging\nlog = logging.getLogger(__name__)\n"
            "def haversine(a):\n    log.info('%s', a)\nr = Route('A-B', haversine)\n",
            [],
        ),
        ("def scale(p):\n    print(p)\nd = path('M0 0', scale)\n", []),
        (
            "def item(item_id):\n    print(item_id)\n"
            "app.add_url_rule('/items/<item_id>', 'item', item)\n",
            [(2, "ZL101")],
        ),
        ("def helper(x):\n    print(x)\nroutes = [Route('/items', 'item')]\n", []),
    ],
)
def test_one_liners(source: str, found: list[tuple[int, str]]) -> None:
    assert scan(source) == found
