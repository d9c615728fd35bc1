def test_public_host_redirects_to_admin(db, public_client):
    response = public_client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
