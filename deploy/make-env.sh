#!/usr/bin/env bash
# Prints a deploy/.env with fresh random secrets for the compose stack, and
# the demo tenant's API key on stderr (the .env holds only its hash):
#   deploy/make-env.sh > deploy/.env
set -euo pipefail
secret() { python3 -c 'import secrets; print(secrets.token_urlsafe(24))'; }
sha256() { printf '%s' "$1" | python3 -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.read().strip().encode()).hexdigest())'; }
demo_key=$(secret)
media_token=$(secret)
cat <<ENV
MINIO_ROOT_USER=admin-$(python3 -c 'import secrets; print(secrets.token_hex(4))')
MINIO_ROOT_PASSWORD=$(secret)
S3_BUCKET=accommador-media
S3_ACCESS_KEY_ID=media-$(python3 -c 'import secrets; print(secrets.token_hex(6))')
S3_SECRET_ACCESS_KEY=$(secret)
POSTGRES_USER=accommador
POSTGRES_PASSWORD=$(secret)
POSTGRES_DB=contacts
CONTACTS_CREDENTIALS=tenant demo-key demo $(sha256 "$demo_key")
MEDIA_CREDENTIALS=service contacts-svc $(sha256 "$media_token")
MEDIA_TOKEN=$media_token
ENV
echo "demo tenant API key (keep it; only its hash is in the .env): $demo_key" >&2
