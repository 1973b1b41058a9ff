"""Creates, on a moto server, an admin user allowed to manage IAM, Secrets
Manager and SSM parameters, an application user `app` with one access key, and a user `kit` with
none (for the conformance kit, which makes two keys); prints their keys as
JSON.
Exactly eight requests: moto authenticates every request after the first
INITIAL_NO_AUTH_ACTION_COUNT=8, like AWS does."""
import json
import sys

import boto3

endpoint = sys.argv[1]
kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="AKIASETUP000000000000", aws_secret_access_key="setup")
iam = boto3.client("iam", **kw)


def allow(user, actions):
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
    iam.put_user_policy(UserName=user, PolicyName="rekey-test", PolicyDocument=json.dumps(policy))


iam.create_user(UserName="rekey-admin")
allow("rekey-admin", ["iam:ListAccessKeys", "iam:CreateAccessKey", "iam:UpdateAccessKey", "iam:DeleteAccessKey", "iam:GetAccessKeyLastUsed", "sts:GetCallerIdentity", "secretsmanager:*", "ssm:*"])
admin = iam.create_access_key(UserName="rekey-admin")["AccessKey"]
iam.create_user(UserName="app")
allow("app", ["sts:GetCallerIdentity"])
app = iam.create_access_key(UserName="app")["AccessKey"]
iam.create_user(UserName="kit")
allow("kit", ["sts:GetCallerIdentity"])
print(json.dumps({"admin": [admin["AccessKeyId"], admin["SecretAccessKey"]], "app": [app["AccessKeyId"], app["SecretAccessKey"]]}))
