"""Seed the fictional AI startup "Acme AI" into a local moto server.

This is the only code in the project that writes to AWS APIs, and it only ever targets our own
moto server on loopback (the endpoint is required; there is no default). The auditor's own clients
go through tools.aws.session.ReadOnlyAws, which refuses writes.

The mix is deliberate: each AWS check sees at least one compliant and one non-compliant resource.
What each check should find is written down in tools/demo/expected/aws.yaml.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import timedelta
from typing import Any

PRIMARY_REGION = "us-east-1"
SECONDARY_REGION = "eu-west-1"  # EU inference replica: barely set up, as at many startups
DEMO_REGIONS = [PRIMARY_REGION, SECONDARY_REGION]
ACCOUNT_ID = "123456789012"  # moto's default account (MOTO_ACCOUNT_ID changes it; the seeder asks STS)
STALE_CREDENTIAL_AGE_DAYS = 200

ASSUME_EC2 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def _tls_only_policy(bucket: str, *extra_statements: dict[str, Any]) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                *extra_statements,
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": {"AWS": "*"},
                    "Action": "s3:*",
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ],
        }
    )


class _Seeder:
    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url
        self._clients: dict[tuple[str, str], Any] = {}
        # The server's account (moto's default, or $MOTO_ACCOUNT_ID): ARNs and its backend are that account's.
        self.account_id: str = self.client("sts").get_caller_identity()["Account"]

    def client(self, service: str, region: str = PRIMARY_REGION) -> Any:
        # One client per service and region: making a client costs more than most of the calls it sends.
        if (service, region) not in self._clients:
            import boto3  # here: `auditor demo` imports this module for DEMO_REGIONS, and its own process never seeds

            self._clients[(service, region)] = boto3.client(
                service,
                region_name=region,
                endpoint_url=self.endpoint_url,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
        return self._clients[(service, region)]

    def seed(self) -> None:
        kms_keys = self.kms()
        self.iam()
        self.s3(kms_keys["alias/ml-training-data"])
        self.cloudtrail(kms_keys["alias/cloudtrail-logs"])
        self.ec2()
        self.rds(kms_keys["alias/ml-training-data"])
        self.monitoring()
        self.config_and_guardduty()
        self.backup()
        self.sagemaker()
        self.bedrock()

    def _assume_account(self) -> str:
        """A trust policy letting the account's own principals assume a role."""
        principal = {"AWS": f"arn:aws:iam::{self.account_id}:root"}
        statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
        return json.dumps({"Version": "2012-10-17", "Statement": [statement]})

    # -- KMS --------------------------------------------------------------------------------

    def kms(self) -> dict[str, str]:
        kms = self.client("kms")
        key_ids = {}
        for alias, rotate in [
            ("alias/ml-training-data", True),
            ("alias/cloudtrail-logs", True),
            ("alias/legacy-inference-secrets", False),
        ]:
            key_id = kms.create_key(Description=f"Acme AI {alias[6:]}")["KeyMetadata"]["KeyId"]
            kms.create_alias(AliasName=alias, TargetKeyId=key_id)
            if rotate:
                kms.enable_key_rotation(KeyId=key_id)
            key_ids[alias] = key_id
        return key_ids

    # -- IAM --------------------------------------------------------------------------------

    def iam(self) -> None:
        iam = self.client("iam")
        # Weak on length and symbols; reuse and expiry are fine.
        iam.update_account_password_policy(
            MinimumPasswordLength=8,
            RequireUppercaseCharacters=True,
            RequireLowercaseCharacters=True,
            RequireNumbers=True,
            RequireSymbols=False,
            MaxPasswordAge=90,
            PasswordReusePrevention=24,
        )
        read_training_data = iam.create_policy(
            PolicyName="ml-training-data-read",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["s3:GetObject", "s3:ListBucket"],
                            "Resource": ["arn:aws:s3:::ml-training-data", "arn:aws:s3:::ml-training-data/*"],
                        }
                    ],
                }
            ),
        )["Policy"]["Arn"]
        legacy_full_access = iam.create_policy(
            PolicyName="legacy-full-access",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
            ),
        )["Policy"]["Arn"]
        iam.create_group(GroupName="platform-admins")
        iam.attach_group_policy(GroupName="platform-admins", PolicyArn=legacy_full_access)
        iam.create_group(GroupName="ml-engineers")
        iam.attach_group_policy(GroupName="ml-engineers", PolicyArn=read_training_data)

        def console_user(name: str, with_mfa: bool) -> None:
            iam.create_user(UserName=name, Tags=[{"Key": "team", "Value": "engineering"}])
            iam.create_login_profile(UserName=name, Password="Demo-Passw0rd-not-real!")
            if with_mfa:
                serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]["SerialNumber"]
                iam.enable_mfa_device(
                    UserName=name, SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
                )

        console_user("maya.chen", with_mfa=True)  # CTO: MFA, access through groups only
        iam.add_user_to_group(GroupName="platform-admins", UserName="maya.chen")
        console_user("raj.patel", with_mfa=False)  # ML engineer: no MFA, a policy attached to him directly
        iam.add_user_to_group(GroupName="ml-engineers", UserName="raj.patel")
        iam.attach_user_policy(UserName="raj.patel", PolicyArn=read_training_data)
        console_user("ops-admin", with_mfa=True)  # shared admin login with AdministratorAccess on the user
        iam.attach_user_policy(UserName="ops-admin", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")

        iam.create_user(UserName="ci-deployer")  # pipeline user: one fresh key, rights through its group
        iam.add_user_to_group(GroupName="ml-engineers", UserName="ci-deployer")
        iam.create_access_key(UserName="ci-deployer")

        console_user("sam.okafor-contractor", with_mfa=False)  # left months ago; key and login never used
        iam.create_access_key(UserName="sam.okafor-contractor")
        iam.put_user_policy(
            UserName="sam.okafor-contractor",
            PolicyName="notebook-access",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sagemaker:*", "Resource": "*"}]}
            ),
        )
        _backdate_user(self.account_id, "sam.okafor-contractor", days=STALE_CREDENTIAL_AGE_DAYS)

        iam.create_role(RoleName="inference-api-role", AssumeRolePolicyDocument=json.dumps(ASSUME_EC2))
        iam.attach_role_policy(RoleName="inference-api-role", PolicyArn=read_training_data)
        iam.create_role(RoleName="acme-support", AssumeRolePolicyDocument=self._assume_account())
        iam.attach_role_policy(RoleName="acme-support", PolicyArn="arn:aws:iam::aws:policy/AWSSupportAccess")

    # -- S3 ---------------------------------------------------------------------------------

    def s3(self, training_key_id: str) -> None:
        s3 = self.client("s3")
        block_all = {
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        }
        for name in ["ml-training-data", "model-artifacts", "acme-ai-marketing-site", "acme-ai-cloudtrail-logs"]:
            s3.create_bucket(Bucket=name)

        def encrypted_versioned_private(bucket: str, encryption: dict[str, str]) -> None:
            s3.put_bucket_encryption(
                Bucket=bucket,
                ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": encryption}]},
            )
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
            s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=block_all)

        # What each AI bucket holds: AI-02 judges the training data buckets, AI-10 the model artifact buckets
        # (their applies_to in the control library); the others are out of scope for those two controls.
        for name, data_class in [("ml-training-data", "training-data"), ("model-artifacts", "model-artifacts")]:
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "data-class", "Value": data_class}]})

        # Audit log bucket: encrypted, versioned, private, TLS only; it is the logging target, not logged itself.
        encrypted_versioned_private("acme-ai-cloudtrail-logs", {"SSEAlgorithm": "AES256"})
        allow_access_logs = {
            "Sid": "S3ServerAccessLogs",
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::acme-ai-cloudtrail-logs/*",
        }
        s3.put_bucket_policy(
            Bucket="acme-ai-cloudtrail-logs", Policy=_tls_only_policy("acme-ai-cloudtrail-logs", allow_access_logs)
        )

        # Training data: everything right.
        encrypted_versioned_private("ml-training-data", {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": training_key_id})
        s3.put_bucket_logging(
            Bucket="ml-training-data",
            BucketLoggingStatus={
                "LoggingEnabled": {
                    "TargetBucket": "acme-ai-cloudtrail-logs",
                    "TargetPrefix": "s3-access/ml-training-data/",
                }
            },
        )
        s3.put_bucket_policy(Bucket="ml-training-data", Policy=_tls_only_policy("ml-training-data"))

        # Model artifacts: encrypted, versioned, private; no access logging, no TLS-only policy.
        encrypted_versioned_private("model-artifacts", {"SSEAlgorithm": "AES256"})

        # Marketing site: nothing set, and a public-read policy.
        s3.put_bucket_policy(
            Bucket="acme-ai-marketing-site",
            Policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": "*",
                            "Action": "s3:GetObject",
                            "Resource": "arn:aws:s3:::acme-ai-marketing-site/*",
                        }
                    ],
                }
            ),
        )
        # The account-level block is left unset on purpose.

    # -- CloudTrail -------------------------------------------------------------------------

    def cloudtrail(self, trail_key_id: str) -> None:
        logs = self.client("logs")
        logs.create_log_group(logGroupName="acme-cloudtrail")
        log_group_arn = f"arn:aws:logs:{PRIMARY_REGION}:{self.account_id}:log-group:acme-cloudtrail:*"
        cloudtrail = self.client("cloudtrail")
        cloudtrail.create_trail(
            Name="acme-org-trail",
            S3BucketName="acme-ai-cloudtrail-logs",
            IsMultiRegionTrail=True,
            EnableLogFileValidation=True,
            KmsKeyId=trail_key_id,
            CloudWatchLogsLogGroupArn=log_group_arn,
            CloudWatchLogsRoleArn=f"arn:aws:iam::{self.account_id}:role/acme-support",
        )
        cloudtrail.start_logging(Name="acme-org-trail")
        # Created for a proof of concept and never finished: one region, no validation, not logging.
        cloudtrail.create_trail(Name="legacy-audit-trail", S3BucketName="acme-ai-cloudtrail-logs")

    # -- EC2 --------------------------------------------------------------------------------

    def ec2(self) -> None:
        ec2 = self.client("ec2")
        # Volumes made before default encryption was switched on.
        ec2.create_volume(
            AvailabilityZone=f"{PRIMARY_REGION}a",
            Size=500,
            TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": "training-scratch"}]}],
        )
        ec2.create_volume(
            AvailabilityZone=f"{PRIMARY_REGION}a",
            Size=100,
            Encrypted=True,
            TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": "inference-cache"}]}],
        )
        ec2.enable_ebs_encryption_by_default()

        vpc_id = ec2.create_vpc(
            CidrBlock="10.20.0.0/16",
            TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "acme-prod"}]}],
        )["Vpc"]["VpcId"]
        ec2.create_flow_logs(
            ResourceIds=[vpc_id],
            ResourceType="VPC",
            TrafficType="ALL",
            LogDestinationType="cloud-watch-logs",
            LogGroupName="acme-prod-flow-logs",
            DeliverLogsPermissionArn=f"arn:aws:iam::{self.account_id}:role/acme-support",
        )
        # The production VPC's default group is emptied, as CIS asks; the default VPC's is left as is.
        prod_default = ec2.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": ["default"]}]
        )["SecurityGroups"][0]
        ec2.create_tags(Resources=[prod_default["GroupId"]], Tags=[{"Key": "Name", "Value": "acme-prod-default"}])
        if prod_default["IpPermissions"]:
            ec2.revoke_security_group_ingress(
                GroupId=prod_default["GroupId"], IpPermissions=prod_default["IpPermissions"]
            )
        if prod_default["IpPermissionsEgress"]:
            ec2.revoke_security_group_egress(
                GroupId=prod_default["GroupId"], IpPermissions=prod_default["IpPermissionsEgress"]
            )

        bastion = ec2.create_security_group(GroupName="bastion-ssh", Description="SSH bastion", VpcId=vpc_id)["GroupId"]
        ec2.authorize_security_group_ingress(
            GroupId=bastion,
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
        )
        inference = ec2.create_security_group(
            GroupName="inference-api-sg", Description="Public HTTPS for the inference API", VpcId=vpc_id
        )["GroupId"]
        ec2.authorize_security_group_ingress(
            GroupId=inference,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
            ],
        )

    # -- RDS --------------------------------------------------------------------------------

    def rds(self, key_id: str) -> None:
        rds = self.client("rds")
        rds.create_db_instance(
            DBInstanceIdentifier="inference-metadata-db",
            Engine="postgres",
            DBInstanceClass="db.m6g.large",
            AllocatedStorage=100,
            MasterUsername="acme",
            MasterUserPassword="demo-password-not-real",
            StorageEncrypted=True,
            KmsKeyId=key_id,
            BackupRetentionPeriod=14,
            PubliclyAccessible=False,
            DeletionProtection=True,
            MultiAZ=True,
        )
        rds.create_db_instance(
            DBInstanceIdentifier="analytics-sandbox-db",
            Engine="mysql",
            DBInstanceClass="db.t3.micro",
            AllocatedStorage=20,
            MasterUsername="admin",
            MasterUserPassword="demo-password-not-real",
            StorageEncrypted=False,
            BackupRetentionPeriod=1,
            PubliclyAccessible=True,
            DeletionProtection=False,
            MultiAZ=False,
        )

    # -- CloudWatch -------------------------------------------------------------------------

    def monitoring(self) -> None:
        logs = self.client("logs")
        cloudwatch = self.client("cloudwatch")
        count_in_metric(
            logs,
            "root-account-usage",
            "RootAccountUsage",
            '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS '
            '&& $.eventType != "AwsServiceEvent" }',
        )
        alarm_on(cloudwatch, "RootAccountUsage", name="root-account-usage", account_id=self.account_id)
        # The IAM-change filter exists but nobody wired an alarm to it.
        count_in_metric(
            logs,
            "iam-policy-changes",
            "IamPolicyChanges",
            "{($.eventName=DeleteGroupPolicy)||($.eventName=DeleteRolePolicy)||($.eventName=DeleteUserPolicy)||"
            "($.eventName=PutGroupPolicy)||($.eventName=PutRolePolicy)||($.eventName=PutUserPolicy)||"
            "($.eventName=CreatePolicy)||($.eventName=DeletePolicy)||($.eventName=AttachUserPolicy)||"
            "($.eventName=DetachUserPolicy)}",
        )

    # -- Config, GuardDuty, Backup ----------------------------------------------------------

    def config_and_guardduty(self) -> None:
        config = self.client("config")
        config.put_configuration_recorder(
            ConfigurationRecorder={
                "name": "default",
                "roleARN": f"arn:aws:iam::{self.account_id}:role/acme-support",
                "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True},
            }
        )
        config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "acme-ai-cloudtrail-logs"})
        config.start_configuration_recorder(ConfigurationRecorderName="default")
        self.client("guardduty").create_detector(Enable=True, FindingPublishingFrequency="FIFTEEN_MINUTES")

    def backup(self) -> None:
        backup = self.client("backup")
        backup.create_backup_vault(BackupVaultName="acme-vault")
        backup.create_backup_plan(
            BackupPlan={
                "BackupPlanName": "daily-model-backups",
                "Rules": [
                    {
                        "RuleName": "daily",
                        "TargetBackupVaultName": "acme-vault",
                        "ScheduleExpression": "cron(0 5 ? * * *)",
                        "Lifecycle": {"DeleteAfterDays": 35},
                    }
                ],
            }
        )
        backup.create_backup_plan(
            BackupPlan={
                "BackupPlanName": "notebook-snapshots",
                "Rules": [
                    {
                        "RuleName": "nightly",
                        "TargetBackupVaultName": "acme-vault",
                        "ScheduleExpression": "cron(0 2 ? * * *)",
                        "Lifecycle": {"DeleteAfterDays": 3},
                    }
                ],
            }
        )

    # -- AI services -------------------------------------------------------------------------

    def sagemaker(self) -> None:
        """A model registry with an approved and a pending version; the canary endpoint serves the pending one."""
        sagemaker = self.client("sagemaker")
        role = f"arn:aws:iam::{self.account_id}:role/sagemaker-execution"
        image = f"{self.account_id}.dkr.ecr.{PRIMARY_REGION}.amazonaws.com/doc-classifier:latest"
        sagemaker.create_model_package_group(ModelPackageGroupName="doc-classifier")
        packages = {}
        for version, status in [("v1", "Approved"), ("v2", "PendingManualApproval")]:
            packages[version] = sagemaker.create_model_package(
                ModelPackageGroupName="doc-classifier",
                ModelApprovalStatus=status,
                ModelPackageDescription=f"doc-classifier {version}",
                InferenceSpecification={
                    "Containers": [
                        {"Image": image, "ModelDataUrl": f"s3://model-artifacts/doc-classifier/{version}/model.tar.gz"}
                    ],
                    "SupportedContentTypes": ["application/json"],
                    "SupportedResponseMIMETypes": ["application/json"],
                },
            )["ModelPackageArn"]
            sagemaker.create_model(
                ModelName=f"doc-classifier-{version}",
                ExecutionRoleArn=role,
                PrimaryContainer={"ModelPackageName": packages[version]},
            )
        for endpoint, version in [("doc-classifier-prod", "v1"), ("doc-classifier-canary", "v2")]:
            sagemaker.create_endpoint_config(
                EndpointConfigName=f"{endpoint}-config",
                ProductionVariants=[
                    {
                        "VariantName": "primary",
                        "ModelName": f"doc-classifier-{version}",
                        "InitialInstanceCount": 1,
                        "InstanceType": "ml.m5.large",
                    }
                ],
            )
            sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=f"{endpoint}-config")
        # Training: v2 trained on the Q3 document set into the encrypted artifact bucket; an experiment trained on
        # customer support tickets (customer data, no consent record attached to AI-06) and wrote its model to the
        # marketing site's bucket, which has no default encryption.
        for job, data, output in [
            (
                "doc-classifier-v2-training",
                "s3://ml-training-data/documents/2026-q3/",
                "s3://model-artifacts/doc-classifier/",
            ),
            ("summarizer-experiment", "s3://acme-customer-tickets/2026-q3/", "s3://acme-ai-marketing-site/tmp/"),
        ]:
            create_training_job(sagemaker, job, role=role, image=image, data=data, output=output)

    def bedrock(self) -> None:
        """A fine-tuned Bedrock model in us-east-1, where invocation logging is off; logging on in eu-west-1."""
        bedrock = self.client("bedrock")
        bedrock.create_model_customization_job(
            jobName="support-tone-ft-1",
            customModelName="support-tone",
            roleArn=f"arn:aws:iam::{self.account_id}:role/bedrock-customization",
            baseModelIdentifier="amazon.titan-text-express-v1",
            trainingDataConfig={"s3Uri": "s3://ml-training-data/support-tone/train.jsonl"},
            outputDataConfig={"s3Uri": "s3://model-artifacts/support-tone/"},
            hyperParameters={"epochCount": "2"},
        )
        self.client("bedrock", SECONDARY_REGION).put_model_invocation_logging_configuration(
            loggingConfig={
                "cloudWatchConfig": {
                    "logGroupName": "/bedrock/invocations",
                    "roleArn": f"arn:aws:iam::{self.account_id}:role/bedrock-logging",
                },
                "textDataDeliveryEnabled": True,
            }
        )


def count_in_metric(logs: Any, name: str, metric: str, pattern: str) -> None:
    """A metric filter on the CloudTrail log group that counts the events `pattern` matches in `metric`."""
    logs.put_metric_filter(
        logGroupName="acme-cloudtrail",
        filterName=name,
        filterPattern=pattern,
        metricTransformations=[{"metricName": metric, "metricNamespace": "AcmeSecurity", "metricValue": "1"}],
    )


def alarm_on(cloudwatch: Any, metric: str, *, name: str, account_id: str) -> None:
    """An alarm that tells the security team as soon as `metric` counts one event."""
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        MetricName=metric,
        Namespace="AcmeSecurity",
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        AlarmActions=[f"arn:aws:sns:{PRIMARY_REGION}:{account_id}:security-alerts"],
    )


def create_training_job(sagemaker: Any, job: str, *, role: str, image: str, data: str, output: str) -> None:
    """A SageMaker training job reading its one channel from the S3 prefix `data` and writing its model to `output`."""
    sagemaker.create_training_job(
        TrainingJobName=job,
        RoleArn=role,
        AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": data,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        OutputDataConfig={"S3OutputPath": output},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )


def _backdate_user(account_id: str, name: str, days: int) -> None:
    """Make a user, its login and its keys look `days` old.

    AWS has no API to set creation dates, so this edits the in-process moto backend behind our
    own demo server directly; it never touches anything else.
    """
    from moto.core.utils import utcnow
    from moto.iam.models import iam_backends

    user = iam_backends[account_id]["global"].users[name]
    then = utcnow() - timedelta(days=days)
    user.create_date = then
    for key in user.access_keys:
        key.create_date = then


def seed_acme_ai(endpoint_url: str) -> None:
    """Create Acme AI's AWS estate in the moto server at endpoint_url.

    The server must run in this process (tools.demo.server.MotoServer): a few dates are set in
    its backend directly. Expects an empty moto state.
    """
    if not endpoint_url.startswith(("http://127.0.0.1", "http://localhost")):
        raise ValueError(f"refusing to seed {endpoint_url}: the demo seeds only a local moto server")
    _Seeder(endpoint_url).seed()


def serve_seeded_acme_ai(listening_socket: int) -> None:
    """The demo's moto process (tools.demo.server.SeededMotoProcess runs it): seed Acme AI into moto through a
    private port, then serve the same AWS state on `listening_socket` (the parent's, inherited: the requests sent
    meanwhile waited in its backlog), print `ready`, and serve until stdin closes, which it does when the parent
    stops it or dies."""
    from tools.demo.server import READY, MotoServer
    from tools.process import collect_garbage_less_often

    collect_garbage_less_often()
    _only_watched_managed_policies()
    seeding = MotoServer()
    seed_acme_ai(seeding.start())
    MotoServer(listening_socket).start()
    print(READY, flush=True)
    sys.stdin.read()  # returns at end of input: the parent closed the pipe, or exited
    # The process ends here, its server threads and sockets with it: nothing is left to flush, and stopping the
    # servers or tearing down moto's modules first would keep the parent waiting (~0.3 s and ~1.5 s).
    os._exit(0)


def _only_watched_managed_policies() -> None:
    """The demo's AWS holds only the AWS managed policies the checks look for (Acme AI attaches both).

    moto gives every IAM backend it makes all ~1,600 of them, decoded afresh from one 4.7 MB JSON text each time:
    about a second of this process's CPU, before the demo can start."""
    import moto.iam.models as moto_iam

    from tools.aws.collectors import WATCHED_AWS_POLICIES

    every_policy = json.loads(moto_iam.aws_managed_policies_data)
    moto_iam.aws_managed_policies_data = json.dumps({name: every_policy[name] for name in WATCHED_AWS_POLICIES})
