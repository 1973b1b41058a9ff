"""Creates, on a moto server, a user allowed to use KMS with an access key
(the first three requests, before moto authenticates: it is started with
INITIAL_NO_AUTH_ACTION_COUNT=3), then, as that user (signed requests),
two KMS keys; prints the user's key and the keys' ARNs as JSON."""
import json
import sys

import boto3

endpoint = sys.argv[1]
kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="AKIASETUP000000000000", aws_secret_access_key="setup")
iam = boto3.client("iam", **kw)
iam.create_user(UserName="rekey-store")
policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["kms:*"], "Resource": "*"}]}
iam.put_user_policy(UserName="rekey-store", PolicyName="rekey-kms", PolicyDocument=json.dumps(policy))
user = iam.create_access_key(UserName="rekey-store")["AccessKey"]
kms = boto3.client("kms", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=user["AccessKeyId"], aws_secret_access_key=user["SecretAccessKey"])
arns = [kms.create_key(Description=f"rekey store {n}")["KeyMetadata"]["Arn"] for n in ("a", "b")]
print(json.dumps({"user": [user["AccessKeyId"], user["SecretAccessKey"]], "keys": arns}))
