"""Throwaway certificate authorities and server certificates for test_verify_tls.py.

Run with the tooling venv's Python (cryptography is pinned in requirements/tooling.txt):
    python throwaway_ca.py OUT_DIR
writes, in OUT_DIR:
    ca.crt            the CA the tests trust
    other-ca.crt      another CA, which signed nothing the servers present
    good.crt/.key     signed by ca.crt, valid now, for 127.0.0.1 and localhost
    expired.crt/.key  signed by ca.crt, for the same names, valid from ten days ago to yesterday
    wrong-name.crt/.key  signed by ca.crt, valid now, for other.example and 192.0.2.10 only
Each key is made for this run and written next to its certificate; nothing is kept after the test.
"""

import datetime
import ipaddress
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime.datetime.now(datetime.UTC)


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(common_name):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(days=30))
        .not_valid_after(NOW + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def make_server(ca_cert, ca_key, dns_names, addresses, not_before, not_after):
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName(n) for n in dns_names] + [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name((dns_names or addresses)[0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def write(out, stem, cert, key=None):
    (out / (stem + ".crt")).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        (out / (stem + ".key")).write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )


def main(out):
    out.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = make_ca("verify-tls test CA")
    other_cert, _ = make_ca("verify-tls other CA")
    write(out, "ca", ca_cert)
    write(out, "other-ca", other_cert)
    day = datetime.timedelta(days=1)
    local = (["localhost"], ["127.0.0.1"])
    write(out, "good", *make_server(ca_cert, ca_key, *local, NOW - day, NOW + 10 * day))
    write(out, "expired", *make_server(ca_cert, ca_key, *local, NOW - 10 * day, NOW - day))
    write(out, "wrong-name", *make_server(ca_cert, ca_key, ["other.example"], ["192.0.2.10"], NOW - day, NOW + day))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: throwaway_ca.py OUT_DIR")
    main(Path(sys.argv[1]))
