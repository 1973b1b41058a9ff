"""An application: calls sts:GetCallerIdentity, again and again, with the
access key the env file holds, until the stop file appears. Prints the
number of successes and failures. A failure counts only if the file still
holds the same key afterwards (a read just before a deploy is not downtime)."""
import os
import sys

import boto3

env_file, endpoint, stop = sys.argv[1:4]


def key():
    values = dict(line.rstrip("\n").split("=", 1) for line in open(env_file) if "=" in line)
    return values.get("AWS_ACCESS_KEY_ID"), values.get("AWS_SECRET_ACCESS_KEY")


ok = failed = 0
while not os.path.exists(stop):
    current = key()
    sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=current[0], aws_secret_access_key=current[1])
    try:
        sts.get_caller_identity()
        ok += 1
    except Exception as error:
        if key() == current:
            failed += 1
            print("downtime:", error, file=sys.stderr)
print(ok, failed)
