"""The tls provider under the mocks: real keys and certificates, made with
`cryptography` from a resource's inputs as pulumi-tls 5.6.2 makes them
(it is terraform-provider-tls, bridged), so a test can check a chain with a
real X.509 library. The outputs the program reads, by the provider's docs
(pulumi-tls sdk/python/pulumi_tls: private_key.py, self_signed_cert.py,
cert_request.py, locally_signed_cert.py): PrivateKey `privateKeyPem` (PEM; for
RSA the PKCS#1 "RSA PRIVATE KEY" block) and `publicKeyPem`; CertRequest
`certRequestPem`; SelfSignedCert and LocallySignedCert `certPem`. A locally
signed certificate takes its subject and names from the request
(hashicorp/terraform-provider-tls internal/provider/resource_locally_signed_cert.go:
`Subject: certReq.Subject, DNSNames: certReq.DNSNames, ...`)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
SELF_SIGNED_CERT = "tls:index/selfSignedCert:SelfSignedCert"
CERT_REQUEST = "tls:index/certRequest:CertRequest"
LOCALLY_SIGNED_CERT = "tls:index/locallySignedCert:LocallySignedCert"
TLS_TYPES = (PRIVATE_KEY, SELF_SIGNED_CERT, CERT_REQUEST, LOCALLY_SIGNED_CERT)

# The provider's subject fields (pulumi_tls/_inputs.py SelfSignedCertSubjectArgs) and their OIDs.
_SUBJECT_FIELDS = {
    "commonName": NameOID.COMMON_NAME,
    "organization": NameOID.ORGANIZATION_NAME,
    "organizationalUnit": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "locality": NameOID.LOCALITY_NAME,
    "province": NameOID.STATE_OR_PROVINCE_NAME,
    "country": NameOID.COUNTRY_NAME,
}
# allowed_uses that are key usages (the rest are extended key usages, which a CA here does not use).
_KEY_USAGES = {
    "digital_signature": "digital_signature",
    "content_commitment": "content_commitment",
    "key_encipherment": "key_encipherment",
    "data_encipherment": "data_encipherment",
    "key_agreement": "key_agreement",
    "cert_signing": "key_cert_sign",
    "crl_signing": "crl_sign",
}


def _private_key(inputs: Mapping[str, Any]) -> dict[str, Any]:
    algorithm = inputs.get("algorithm")
    if algorithm == "RSA":
        key: Any = rsa.generate_private_key(public_exponent=65537, key_size=int(inputs.get("rsaBits") or 2048))
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    elif algorithm == "ECDSA":
        curves = {"P224": ec.SECP224R1(), "P256": ec.SECP256R1(), "P384": ec.SECP384R1(), "P521": ec.SECP521R1()}
        key = ec.generate_private_key(curves[inputs.get("ecdsaCurve") or "P224"])
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    else:
        raise NotImplementedError(f"the mocks do not make {algorithm} keys")
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {**inputs, "privateKeyPem": pem.decode(), "publicKeyPem": public.decode()}


def _name(subject: Mapping[str, Any] | None) -> x509.Name:
    fields = subject or {}
    return x509.Name(
        [x509.NameAttribute(oid, str(fields[field])) for field, oid in _SUBJECT_FIELDS.items() if fields.get(field)]
    )


def _load_key(pem: str) -> Any:
    return serialization.load_pem_private_key(pem.encode(), password=None)


def _certificate(
    inputs: Mapping[str, Any], subject: x509.Name, public_key: Any, issuer: x509.Name, signer: Any, dns_names: list[str]
) -> str:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(hours=int(inputs["validityPeriodHours"])))
    )
    is_ca = bool(inputs.get("isCaCertificate"))
    builder = builder.add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    uses = set(inputs.get("allowedUses") or [])
    flags = {name: name in {_KEY_USAGES[use] for use in uses if use in _KEY_USAGES} for name in _KEY_USAGES.values()}
    builder = builder.add_extension(x509.KeyUsage(**flags, encipher_only=False, decipher_only=False), critical=True)
    if dns_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False
        )
    return builder.sign(signer, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


def tls_resource(type_: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The outputs the tls provider gives a resource of `type_` with these inputs."""
    if type_ == PRIVATE_KEY:
        return _private_key(inputs)
    if type_ == CERT_REQUEST:
        key = _load_key(inputs["privateKeyPem"])
        builder = x509.CertificateSigningRequestBuilder().subject_name(_name(inputs.get("subject")))
        if inputs.get("dnsNames"):
            names = [x509.DNSName(n) for n in inputs["dnsNames"]]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        request = builder.sign(key, hashes.SHA256())
        return {**inputs, "certRequestPem": request.public_bytes(serialization.Encoding.PEM).decode()}
    if type_ == SELF_SIGNED_CERT:
        key = _load_key(inputs["privateKeyPem"])
        name = _name(inputs.get("subject"))
        cert = _certificate(inputs, name, key.public_key(), name, key, list(inputs.get("dnsNames") or []))
        return {**inputs, "certPem": cert}
    if type_ == LOCALLY_SIGNED_CERT:
        request = x509.load_pem_x509_csr(inputs["certRequestPem"].encode())
        ca = x509.load_pem_x509_certificate(inputs["caCertPem"].encode())
        try:
            alternative = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            dns_names = [str(name) for name in alternative.get_values_for_type(x509.DNSName)]
        except x509.ExtensionNotFound:
            dns_names = []
        cert = _certificate(
            inputs, request.subject, request.public_key(), ca.subject, _load_key(inputs["caPrivateKeyPem"]), dns_names
        )
        return {**inputs, "certPem": cert}
    raise NotImplementedError(f"the mocks do not know tls resource {type_}")
