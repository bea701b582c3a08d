"""`python -m contractqa.security TOKEN`: print the sha256 to store in the tokens file."""

import sys

from contractqa.security.tokens import hash_token

if len(sys.argv) != 2:
    sys.exit("usage: python -m contractqa.security JETON  (affiche son sha256)")
print(hash_token(sys.argv[1]))
