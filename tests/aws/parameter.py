"""Prints an SSM parameter's versions as JSON, oldest first: each one's
number and decrypted value (an empty list if there is no such parameter).
Usage: parameter.py ENDPOINT ACCESS_KEY_ID SECRET_ACCESS_KEY NAME"""
import json
import sys

import boto3

endpoint, key_id, key, name = sys.argv[1:5]
ssm = boto3.client("ssm", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key_id, aws_secret_access_key=key)
try:
    pages = ssm.get_paginator("get_parameter_history").paginate(Name=name, WithDecryption=True)
    versions = [{"version": p["Version"], "value": p["Value"]} for page in pages for p in page["Parameters"]]
except ssm.exceptions.ParameterNotFound:
    versions = []
print(json.dumps(sorted(versions, key=lambda v: v["version"])))
