from openapi_spec_validator import validate


def test_schema_is_a_valid_openapi_3_document(db, client_a):
    response = client_a.get("/api/schema/?format=json")

    assert response.status_code == 200
    spec = response.json()
    validate(spec)
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/audit-log/" in spec["paths"]
    assert spec["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"


def test_every_v1_endpoint_requires_a_key(db, client_a):
    spec = client_a.get("/api/schema/?format=json").json()

    for path, operations in spec["paths"].items():
        assert operations, path
        for operation in operations.values():
            assert {"apiKey": []} in operation["security"], path
        concrete = path.replace("{id}", "1")
        assert client_a.get(concrete).status_code == 401, path


def test_interactive_docs_are_served_without_the_internet(db, client_a):
    response = client_a.get("/api/docs/")

    assert response.status_code == 200
    assert "/static/drf_spectacular_sidecar/" in response.content.decode()
