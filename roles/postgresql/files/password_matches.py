# Exit 0 when a PostgreSQL password verifier (pg_authid.rolpassword) accepts a password, else 1.
# Reads {"user": ..., "password": ..., "verifier": ...} as JSON on stdin, so the secret never shows in argv.
import base64
import hashlib
import hmac
import json
import sys
import unicodedata

data = json.load(sys.stdin)
password, verifier = data["password"], data["verifier"] or ""
matches = False
if verifier.startswith("SCRAM-SHA-256$"):
    # SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey> (RFC 5802, RFC 7677)
    iterations_salt, keys = verifier[len("SCRAM-SHA-256$"):].split("$")
    iterations, salt = iterations_salt.split(":")
    stored_key = keys.split(":")[0]
    # PostgreSQL normalises with SASLprep; NFKC gives the same bytes for ASCII and most other passwords.
    salted = hashlib.pbkdf2_hmac("sha256", unicodedata.normalize("NFKC", password).encode(),
                                 base64.b64decode(salt), int(iterations))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    computed = base64.b64encode(hashlib.sha256(client_key).digest()).decode()
    matches = hmac.compare_digest(computed, stored_key)
elif verifier.startswith("md5"):
    computed = "md5" + hashlib.md5((password + data["user"]).encode()).hexdigest()
    matches = hmac.compare_digest(computed, verifier)
sys.exit(0 if matches else 1)
