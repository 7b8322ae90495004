"""What bench/run and bench/profile share: the server's configuration and the registration body."""

# One registration, as both scripts post it.
APPOINTMENT = {
    "resourceType": "Appointment", "status": "booked",
    "start": "2030-02-01T10:51:23.620+00:00", "created": "2026-11-24T09:00:00+00:00",
    "participant": [{"actor": {"identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number",
                                              "value": "1234554321"}}, "status": "accepted"}],
}


def config_toml(port, base, pki):
    """config.toml for a server on 127.0.0.1:`port` with the dev PKI in `pki` (from
    `appointment-registry dev-certs`), an HS256 secret, and expiry off."""
    return f"""[server]
listen = "127.0.0.1:{port}"
base_url = "{base}"
[tls]
cert = "{pki}/server.crt"
key = "{pki}/server.key"
client_ca = "{pki}/ca.crt"
generate_dev_pki = false
[auth]
audience = "{base}"
hs256_secret_file = "{pki}/jwt-secret"
[expiry]
enabled = false
[log]
level = "info"
"""
