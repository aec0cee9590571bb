"""The live server answers the discovery endpoint with devpi's headers."""


def test_api_answers_with_devpi_headers(api):
    reply = api.get("/+api")
    assert reply.status_code == 200
    assert reply.headers["X-Devpi-Api-Version"] == "2"
    assert reply.json()["type"] == "apiconfig"
    assert reply.json()["result"]["login"].endswith("/+login")
