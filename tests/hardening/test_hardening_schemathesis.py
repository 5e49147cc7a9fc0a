"""Property-based fuzzing of every operation in the app's own OpenAPI spec (schemathesis), bounded in
examples per operation: no 5xx, documented status codes and content types, every response body valid
against its documented schema, and invalid input rejected."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from api_helpers import Client, NoEngines, insert_record
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import checks as st_checks
from schemathesis.specs.openapi import checks as oa_checks

from assistant.api.app import create_app
from assistant.api.auth import add_user
from assistant.config import Settings

MAX_EXAMPLES = 30  # per operation: ~15 operations, well under a minute on 2 cores
CHECKS = [
    st_checks.not_a_server_error,
    oa_checks.status_code_conformance,
    oa_checks.content_type_conformance,
    oa_checks.response_schema_conformance,
    oa_checks.response_headers_conformance,
    oa_checks.negative_data_rejection,
]


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str, str]]:
    from support import REPO

    data: Path = tmp_path_factory.mktemp("fuzz")
    s = Settings(data_dir=data, models_cache_dir=REPO / ".cache" / "models", auth_required=True,
                 max_upload_bytes=256 * 1024, max_audio_seconds=60)
    app = create_app(s, engines=NoEngines())  # type: ignore[arg-type]
    with TestClient(app, raise_server_exceptions=False) as http:
        token = add_user(app.state.db, "fuzzer")
        record = insert_record(Client(http, token))  # one real object, so some ids resolve
        yield http, token, record


def test_api_conforms_to_its_own_spec(fuzz_app: tuple[TestClient, str, str]) -> None:
    """One hypothesis run per operation (schemathesis' pytest plugin is not used: it predates pytest 9)."""
    http, token, record = fuzz_app
    schema = schemathesis.openapi.from_asgi("/openapi.json", http.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    failures: list[str] = []
    calls = 0
    for op in operations:

        @given(case=op.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        def run(case: schemathesis.Case) -> None:
            nonlocal calls
            if case.path_parameters and case.path_parameters.get("record_id") == "x":
                case.path_parameters["record_id"] = record
            calls += 1
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

        try:
            run()
        except BaseException as exc:  # noqa: BLE001 - collect every operation's failure (an ExceptionGroup)
            failures.append(f"{op.label}: {type(exc).__name__}: {str(exc)[:1500]}")
    print(f"schemathesis: {len(operations)} operations, {calls} calls")
    assert not failures, "\n\n".join(failures)
