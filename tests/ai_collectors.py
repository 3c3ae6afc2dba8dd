"""The collectors of the AI governance controls (SageMaker, Bedrock, MLflow, code, vendor register, consent
records), named once for the tests that list them."""

AI_COLLECTORS = (
    "aws.sagemaker.model_registry",
    "aws.sagemaker.endpoints",
    "aws.sagemaker.training_jobs",
    "aws.bedrock.models",
    "git.ai_provider_usage",
    "ai.vendor_register",
    "github.pull_changes",
    "git.branch_changes",
    "mlflow.model_registry",
    "ai.consent_records",
)
