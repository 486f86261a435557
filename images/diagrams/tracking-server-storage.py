"""Where a tracking server keeps what clients send it: records in the backend store,
files in the artifact store (lesson 08, section 1)."""

from tools.diagrams import Diagram


def draw(d: Diagram) -> None:
    """Draw the tracking server and its two stores."""
    d.title(
        "The tracking server and its two stores",
        "Clients speak HTTP only to the server; the server writes records to a database "
        "and files to an artifact store.",
    )

    notebook = d.box(
        3.9,
        1.55,
        3.6,
        1.6,
        "Notebook or training job",
        "`mlflow.log_*()`\n`MlflowClient`",
        kind="client",
    )
    ui = d.box(8.5, 1.55, 3.6, 1.6, "MLflow UI", "in the browser", kind="client")

    server = d.box(
        4.6,
        3.9,
        6.8,
        1.35,
        "Tracking server",
        "`mlflow server --host 127.0.0.1 --port 5000`",
        kind="mlflow",
    )
    d.arrow(notebook.bottom(), server.top(0.162), "HTTP", both=True)
    d.arrow(ui.bottom(), server.top(0.838), "HTTP", both=True)

    d.frame(0.4, 6.2, 7.4, 2.45, "Backend store: records")
    d.note(0.6, 6.85, "experiments, runs, params, metrics, tags, registered models")
    d.box(
        0.6, 7.15, 2.8, 1.3, "SQLite file", "`mlflow_store/mlflow.db`\nthis course", kind="storage"
    )
    d.box(3.55, 7.15, 2.2, 1.3, "PostgreSQL", "team, production", kind="storage")
    d.box(5.9, 7.15, 1.7, 1.3, "File store", "`./mlruns`\nlegacy", kind="legacy")

    d.frame(8.2, 6.2, 7.4, 2.45, "Artifact store: files")
    d.note(8.4, 6.85, "models, plots, tables, any logged file")
    d.box(
        8.4, 7.15, 3.4, 1.3, "Local folder", "`mlflow_store/artifacts`\nthis course", kind="storage"
    )
    d.box(
        12.0, 7.15, 3.4, 1.3, "Amazon S3", "or an S3-compatible server\nproduction", kind="storage"
    )

    d.arrow(server.bottom(0.2), (5.96, 6.2), "`--backend-store-uri`")
    d.arrow(server.bottom(0.8), (10.04, 6.2), "`--artifacts-destination`\nproxied by the server")
