#!/usr/bin/env python3
"""Writes the seed inputs of tests/fuzz/corpus/<target>/ from the interop vectors, the
lexicons and a few hand-made cases. Each file is named by the SHA-1 of its content, as
libFuzzer names what it finds, so seeds and later finds (tools/fuzz.sh --keep) sit side by
side. Re-running it removes nothing, and adds back the seeds that a minimizing merge dropped
(delete those again if the corpus should stay minimal)."""
import base64, hashlib, json, os, pathlib, sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "interop"
OUT = ROOT / "tests" / "fuzz" / "corpus"


def put(target, content):
    if isinstance(content, str):
        content = content.encode()
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(content).hexdigest()).write_bytes(content)


def compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def lines(name):
    for line in (DATA / "syntax" / name).read_text().splitlines():
        if line and not line.startswith("#"):
            yield line


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b32(raw):
    return base64.b32encode(raw).decode().lower().rstrip("=")


fixtures = json.loads((DATA / "data-model" / "data-model-fixtures.json").read_text())
valid_dm = json.loads((DATA / "data-model" / "data-model-valid.json").read_text())
invalid_dm = json.loads((DATA / "data-model" / "data-model-invalid.json").read_text())
records_valid = json.loads((DATA / "lexicon" / "record-data-valid.json").read_text())
records_invalid = json.loads((DATA / "lexicon" / "record-data-invalid.json").read_text())
lexicons_valid = json.loads((DATA / "lexicon" / "lexicon-valid.json").read_text())
lexicons_invalid = json.loads((DATA / "lexicon" / "lexicon-invalid.json").read_text())

ALICE = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
BOB = "did:plc:z72i7hdynmk6r22z27h6tvur"
CART = {
    "$type": "com.atiproto.cart",
    "items": [{"type": "com.atiproto.item", "recordUri": f"at://{ALICE}/com.atiproto.item/3lbqbn7ycz22k"},
              {"type": "com.atiproto.subscription",
               "recordUri": f"at://{ALICE}/com.atiproto.subscription/3lbqbnb2tzk2x", "addedBy": "w"}],
    "currency": "USD", "total": 1799, "status": "completed",
    "createdAt": "2024-11-21T10:15:00.000Z", "expiresAt": "2024-11-22T10:15:00.000Z",
    "completedAt": "2024-11-21T10:19:42.318Z", "stripeSession": {"id": "cs_test", "mode": "payment"}}
ITEM = {"$type": "com.atiproto.item", "subject": BOB,
        "recordUri": f"at://{BOB}/app.bsky.feed.post/3lbqbn2vkfc2s", "amount": 500, "currency": "USD",
        "status": "authorized", "message": "Thanks! \U0001F44D\U0001F3FD Ça m'a aidé.",
        "createdAt": "2024-11-21T10:15:00.000Z"}
SUB = {"$type": "com.atiproto.subscription", "subject": BOB, "amount": 300, "currency": "EUR",
       "interval": "monthly", "status": "cancelled", "billingStartDate": "2024-10-01T00:00:00.000Z",
       "cancelledAt": "2024-11-20T08:00:00.000Z", "accessUntil": "2024-12-01T00:00:00.000Z",
       "createdAt": "2024-09-30T23:59:58.000Z"}
PROFILE = {"$type": "com.atiproto.profile", "acceptsItems": True, "acceptsSubscriptions": False,
           "createdAt": "2024-09-01T12:00:00.000Z"}
CID = "bafyreihldkhcwijkde7gx4rpkkuw7pl6lbyu5gieunyc7ihactn5bkd2nm"
INBOUND = {"intent": "clone:abc:1", "responses": [
    {"name": "item-0", "result": {"uri": f"at://{ALICE}/com.atiproto.item/3lbqbn7ycz22k", "cid": CID}},
    {"name": "cart", "error": {"error": "InvalidRecord", "message": "no"}}]}
OUTBOUND = {"intent": "clone:abc:1", "actions": [
    {"$type": "com.atiproto.actions#create", "repo": ALICE, "name": "item-0",
     "collection": "com.atiproto.item", "rkey": "3lbqbn7ycz22k", "record": ITEM},
    {"$type": "com.atiproto.actions#raise", "message": "stop", "code": "Stopped"}]}

# cbor: the fixtures' encodings.
for f in fixtures:
    put("cbor", base64.b64decode(f["cbor_base64"] + "=" * (-len(f["cbor_base64"]) % 4)))
put("cbor", bytes([0xd8, 0x2a, 0x58, 0x25, 0x00]) + base64.b32decode(CID[1:].upper() + "=" * (-len(CID[1:]) % 8)))
put("cbor", bytes([0x44, 1, 2, 3, 4]))
put("cbor", bytes([0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))

# data_model: fixtures, the valid and invalid data-model vectors, records.
for f in fixtures:
    put("data_model", compact(f["json"]))
for case in valid_dm + invalid_dm:
    put("data_model", compact(case["json"]))
for case in records_valid + records_invalid:
    put("data_model", compact(case["data"]))
for r in (CART, ITEM, SUB, PROFILE):
    put("data_model", compact(r))

# cid: syntax vectors, fixtures, binary forms.
for name in ("cid_syntax_valid.txt", "cid_syntax_invalid.txt"):
    for line in lines(name):
        put("cid", line)
for f in fixtures:
    put("cid", f["cid"])
    put("cid", base64.b32decode(f["cid"][1:].upper() + "=" * (-len(f["cid"][1:]) % 8)))
put("cid", "QmY7Yh4UquoXHLPFo2XbhXkhBvFoPwmQUSa92pxnxjQuPU")
put("cid", "zb2rhe5P4gXftAwvA4eXQ5HJwsER2owDyS9sKaQRRVQPn93bA")

# encoding: texts in each alphabet.
for f in fixtures:
    put("encoding", f["cbor_base64"])
    put("encoding", f["cid"][1:])
put("encoding", "zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme"[1:])
put("encoding", "48656c6c6f")
put("encoding", "SGVsbG8=")
put("encoding", "SGVsbG8")
put("encoding", "-_-_")

# formats: every syntax vector line.
for name in sorted(os.listdir(DATA / "syntax")):
    for line in lines(name):
        put("formats", line)

# flat_json and jwt.
HEADER = {"typ": "JWT", "alg": "ES256K"}
CLAIMS = {"iss": ALICE, "aud": "did:web:pay.example", "lxm": "com.atiproto.payment.cart.clone",
          "iat": 1800000000, "exp": 1800000060, "jti": "0123456789abcdef0123456789abcdef"}
for obj in (HEADER, CLAIMS, {"a": "\u00e9\ud83d\ude00\\\"", "iss": "x", "exp": 1e3},
            {"a": [1, {"b": None}], "": True, "exp": 9007199254740993}):
    put("flat_json", json.dumps(obj))
put("flat_json", '{"iss":"a","iss":"b"}')
put("flat_json", '{"a":"\\ud83d\\ude00","typ":"\\u004a\\u0057\\u0054"}')
sig = b64url(b"\x01" * 64)
for header, claims in ((HEADER, CLAIMS), ({"alg": "ES256", "typ": "JWT", "kid": ALICE + "#atproto"}, CLAIMS),
                       (HEADER, {**CLAIMS, "aud": "did:web:pay.example#atproto_pay", "nbf": 1800000000}),
                       (HEADER, {k: v for k, v in CLAIMS.items() if k != "lxm"})):
    put("jwt", b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode()) + "." + sig)

# did_document.
for did in (ALICE, "did:web:example.com"):
    put("did_document", json.dumps({
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did, "alsoKnownAs": ["at://alice.test"],
        "verificationMethod": [{"id": did + "#atproto", "type": "Multikey", "controller": did,
                                "publicKeyMultibase": "zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme"}],
        "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
                     "serviceEndpoint": "https://pds.example"}]}))

# xrpc_wire: targets, query strings and bodies.
for text in ("/xrpc/com.atiproto.payment.cart.get?uri=at%3A%2F%2Fdid%3Aplc%3Aabc%2Fcom.atiproto.cart%2F3l&x=",
             "limit=10&cursor=3l%2B&status=open&status=expired&a+b=c%ZZ",
             "-9223372036854775808", "0042", "true", compact(INBOUND), b'{"a":1\xc3}',
             '{"k":"\u20ac\u20ac" \u20ac}', "[" * 70 + "]" * 70):
    put("xrpc_wire", text)

# lexicon_data: a selector byte (see kSchemas in lexicon_data_fuzz.cc), then JSON.
for selector, value in ((0, CART), (1, ITEM), (2, SUB), (3, PROFILE), (4, {"workflow": INBOUND}),
                        (4, INBOUND), (5, OUTBOUND),
                        (6, {"uri": f"at://{ALICE}/com.atiproto.cart/3lbqbmz6xvc2k", "redirectUrl": "https://x.example/"}),
                        (6, {"uri": f"at://{ALICE}/com.atiproto.cart/3l", "workflow": INBOUND}),
                        (7, {"currency": "USD", "items": []}),
                        (9, {"subject": BOB, "amount": 500, "currency": "USD", "message": "hi"}),
                        (10, {"subject": BOB, "amount": 300, "currency": "EUR", "interval": "yearly"}),
                        (11, {"acceptsItems": True})):
    put("lexicon_data", bytes([selector]) + compact(value).encode())

# lexicon_document: the interop lexicons and our own.
for case in lexicons_valid + lexicons_invalid:
    put("lexicon_document", compact(case["lexicon"]))
for path in sorted((ROOT / "lexicons" / "atiproto").glob("*.json")):
    put("lexicon_document", path.read_bytes())

# workflow: callback templates (see workflow_fuzz.cc): flags line, then the inbound workflow.
def response(i, uri=None, cid=None, action=None):
    return {"action": action or ("update" if i == 3 else "create"), "name": f"@N{i}@",
            "result": {"uri": uri or f"@U{i}@", "cid": cid or f"@C{i}@"}}
FAITHFUL = {"intent": "@I@", "responses": [response(i) for i in range(4)]}
for flags, body in (
        ("", FAITHFUL), ("b", FAITHFUL), ("f", FAITHFUL),
        ("", {"intent": "@I@", "responses": [response(1), response(0), response(3), response(2)]}),
        ("", {"intent": "@I@", "responses": [response(0, cid="@C1@")] + [response(i) for i in (1, 2, 3)]}),
        ("", {"intent": "@I@", "responses": [response(0, uri="at://@X@/com.atiproto.item/3kitem")] + [response(i) for i in (1, 2, 3)]}),
        ("", {"intent": "@I@", "responses": [response(i) for i in range(3)]}),
        ("", {"intent": "@I@", "responses": [response(i) for i in range(4)] + [{"action": "create", "name": "zzz/x", "result": {"uri": "@U0@", "cid": "@C0@"}}]}),
        ("", {"intent": "@I@", "responses": [response(0, action="delete")] + [response(i) for i in (1, 2, 3)]}),
        ("", {"intent": "cart.clone:3kzzzzzzzzzzz:1", "responses": [response(i) for i in range(4)]}),
        ("", {"intent": "error", "responses": [response(0), response(1)],
              "error": {"action": "create", "name": "@N2@", "message": "Record already exists", "code": "InvalidRequest"}}),
        ("", {"intent": "error", "responses": [response(0, uri="at://@R@/com.atiproto.item/other")],
              "error": {"action": "create", "name": "@N1@", "message": "no"}}),
        ("", {"intent": "@I@", "responses": [response(i) for i in range(4)], "error": {"message": "x"}})):
    put("workflow", flags + "\n" + compact(body))

for d in sorted(OUT.iterdir()):
    print(f"{d.name}: {len(list(d.iterdir()))} files", file=sys.stderr)
