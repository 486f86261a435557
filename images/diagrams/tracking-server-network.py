"""What travels over the network between MLflow's clients and its servers
(lesson 08, section 6)."""

from tools.diagrams import Diagram


def draw(d: Diagram) -> None:
    """Draw the clients, the tracking server's endpoints and the model server."""
    d.title(
        "What travels over the network",
        "Every client speaks REST with JSON bodies over HTTP; the messages are defined in "
        "protobuf, but this is not gRPC.",
    )
    python = d.box(
        0.4, 1.55, 3.7, 1.35, "Python client", "`MlflowClient`\n`mlflow.log_*()`", "client"
    )
    ui = d.box(0.4, 3.2, 3.7, 1.35, "MLflow UI", "in the browser", "client")
    plain = d.box(0.4, 4.85, 3.7, 1.35, "Plain HTTP", "requests, curl", "client")

    server = d.box(
        6.0,
        1.55,
        5.0,
        4.65,
        "Tracking server",
        "`mlflow server`\n\n`/api/2.0/mlflow/...`\nruns, metrics, registry\n\n"
        "`/api/2.0/mlflow-artifacts/...`\nartifact upload, download\n\n`/health`",
        "mlflow",
    )
    d.arrow(python.right(), server.left(0.145), "REST/JSON", both=True)
    d.arrow(ui.right(), server.left(0.5), "REST/JSON", both=True)
    d.arrow(plain.right(), server.left(0.855), "REST/JSON", both=True)

    d.box(
        11.8,
        1.55,
        3.8,
        2.15,
        "Protobuf messages",
        "service.proto defines the\nmessages, sent as JSON:\nREST, not gRPC",
        "stage",
    )
    d.box(
        11.8,
        4.05,
        3.8,
        2.15,
        "Batching",
        "100 × log_metric():\n100 requests\n\nlog_batch(): one request\nfor many metrics",
        "stage",
    )

    app = d.box(0.4, 6.85, 3.7, 1.6, "Application", "any HTTP client", "client")
    model = d.box(
        6.0,
        6.85,
        5.0,
        1.6,
        "Model server",
        "`mlflow models serve`\n`POST /invocations`\n`GET /ping`",
        "mlflow",
    )
    d.arrow(app.right(), model.left(), "JSON rows in,\npredictions out", both=True)
    d.note(11.8, 7.65, "A separate process:\nit serves one model,\nnot the tracking API.")
