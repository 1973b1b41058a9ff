"""Prints every version of a Secrets Manager secret as JSON: its id, labels
and value (an empty list if there is no such secret).
Usage: secret.py ENDPOINT ACCESS_KEY_ID SECRET_ACCESS_KEY SECRET_ID"""
import json
import sys

import boto3

endpoint, key_id, key, secret_id = sys.argv[1:5]
sm = boto3.client("secretsmanager", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key_id, aws_secret_access_key=key)
try:
    described = sm.describe_secret(SecretId=secret_id)
except sm.exceptions.ResourceNotFoundException:
    print("[]")
    sys.exit(0)
versions = []
for version_id, labels in described.get("VersionIdsToStages", {}).items():
    value = sm.get_secret_value(SecretId=secret_id, VersionId=version_id).get("SecretString", "")
    versions.append({"id": version_id, "labels": labels, "value": value})
print(json.dumps(versions))
