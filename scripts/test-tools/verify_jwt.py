#!/usr/bin/env python3
"""Verifies JWTs with PyJWT, independently of this project's Swift code, for the sentry tests.

Reads one request per line on stdin, as JSON: {"token": ..., "audience": ..., "issuer": ... (optional),
"jwks": <a JWK set> | "jwks_url": <https URL>, "ca_file": <PEM> (for the URL)}. Writes one line per request:
{"ok": true, "header": {...}, "claims": {...}} or {"ok": false, "error": "..."}. Signature, exp, nbf, aud and (when
given) iss are checked by PyJWT; the caller checks the rest of the claims.
"""
import json
import ssl
import sys
import urllib.request

import jwt


def key_set(request):
    if "jwks" in request:
        return jwt.PyJWKSet.from_dict(request["jwks"])
    context = ssl.create_default_context(cafile=request.get("ca_file"))
    with urllib.request.urlopen(request["jwks_url"], context=context, timeout=10) as response:
        return jwt.PyJWKSet.from_dict(json.load(response))


def verify(request):
    token = request["token"]
    header = jwt.get_unverified_header(token)
    keys = key_set(request)
    matching = [key for key in keys.keys if key.key_id == header.get("kid")]
    if not matching:
        raise ValueError(f"no key with kid {header.get('kid')!r} in the set")
    options = {"require": ["exp", "iat", "nbf", "sub", "aud", "jti"]}
    claims = jwt.decode(
        token, matching[0].key, algorithms=[header["alg"]], audience=request["audience"],
        issuer=request.get("issuer"), options=options, leeway=0)
    return {"ok": True, "header": header, "claims": claims}


for line in sys.stdin:
    if not line.strip():
        continue
    try:
        print(json.dumps(verify(json.loads(line))), flush=True)
    except Exception as error:  # every failure is an answer, not a crash
        print(json.dumps({"ok": False, "error": f"{type(error).__name__}: {error}"}), flush=True)
