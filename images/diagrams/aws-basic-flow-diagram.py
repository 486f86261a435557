"""MLflow's AWS architecture and the stand-ins this kit runs on one machine
(lesson 15, section 1)."""

from tools.diagrams import Diagram


def draw(d: Diagram) -> None:
    """Draw the AWS services, each with its local stand-in under it."""
    d.title(
        "MLflow on AWS, and the stand-ins on this machine",
        "Each AWS service (purple) has a local stand-in (green) that lesson 15 runs at zero cost.",
    )
    w, h, sh = 3.2, 1.25, 1.0
    clients = d.box(0.4, 1.7, 2.6, h, "Clients", "only need\n`MLFLOW_TRACKING_URI`", "client")

    server = d.box(3.8, 1.7, w, h, "MLflow server", "on EC2 or ECS", "external")
    d.box(3.8, 3.05, w, sh, "mlflow server", "`127.0.0.1`", "standin")

    rds = d.box(7.9, 1.7, 2.8, h, "Amazon RDS", "PostgreSQL: backend store", "external")
    d.box(7.9, 3.05, 2.8, sh, "PostgreSQL", "a throw-away local server", "standin")

    s3 = d.box(7.9, 4.9, 2.8, h, "Amazon S3 bucket", "artifact store, proxied", "external")
    d.box(7.9, 6.25, 2.8, sh, "moto's S3 server", "s3:// on 127.0.0.1", "standin")

    d.box(12.2, 1.7, w, h, "Amazon ECR", "the mlflow-pyfunc image", "external")
    ecr = d.box(12.2, 3.05, w, sh, "moto's ECR", "an empty repository", "standin")
    sagemaker = d.box(12.2, 4.9, w, h, "SageMaker endpoint", "`POST /invocations`", "external")
    d.box(12.2, 6.25, w, sh, "moto's SageMaker API", "records only, no container", "standin")

    d.arrow(clients.right(), server.left(), "HTTPS")
    d.arrow(server.right(0.35), rds.left(0.35), "records")
    d.arrow(
        server.right(0.8),
        s3.left(0.5),
        "files",
        via=((7.5, 2.7), (7.5, 5.525)),
        label_at=(7.5, 4.55),
    )
    d.arrow(s3.right(), sagemaker.left(), "model.tar.gz")
    d.arrow(ecr.bottom(), sagemaker.top(), "image")

    d.note(0.4, 4.95, "The server, started on AWS:", bold=True)
    d.note(
        0.4,
        5.75,
        "`mlflow server \\`\n`  --backend-store-uri postgresql://...`\n"
        "`  --artifacts-destination s3://<bucket>`",
    )
    d.note(0.4, 6.9, "make aws-stack starts the green\nstand-ins on this machine.")
    d.legend(
        0.4,
        8.35,
        [("client", "client"), ("external", "AWS service"), ("standin", "this kit's stand-in")],
        step=3.0,
    )
