"""The MLOps loop: a development cycle and an operations cycle joined together, with the
MLflow component that serves each step (lessons 13, 14 and 16)."""

from tools.diagrams import Diagram


def draw(d: Diagram) -> None:
    """Draw the Dev cycle, the Ops cycle and the two hand-overs between them."""
    d.title(
        "MLOps: two cycles, joined",
        "Development iterates on experiments; operations serves, watches and replaces the "
        "model, and sends it back.",
    )
    d.frame(0.4, 1.5, 7.0, 6.9, "Dev: experiments")
    d.frame(8.6, 1.5, 7.0, 6.9, "Ops: production")
    w, h = 3.0, 1.5

    build = d.box(2.4, 2.05, w, h, "Build & train", "MLflow Projects\n`mlflow run`", "mlflow")
    design = d.box(0.6, 6.35, w, h, "Design", "charter and metrics\nas run tags", "mlflow")
    track = d.box(4.2, 6.35, w, h, "Track & evaluate", "MLflow Tracking\n`evaluate()`", "mlflow")
    d.note(3.9, 5.0, "Dev", ha="center", bold=True, size=26)

    retrain = d.box(8.8, 2.05, w, h, "Retrain", "MLflow Projects\nnew @challenger", "mlflow")
    monitor = d.box(12.4, 2.05, w, h, "Monitor", "MLflow Tracking\nmonitoring runs", "mlflow")
    register = d.box(8.8, 6.35, w, h, "Register", "Model Registry\nversions, aliases", "mlflow")
    deploy = d.box(12.4, 6.35, w, h, "Deploy", "MLflow Models\n`@champion`", "mlflow")
    d.note(12.1, 5.0, "Ops", ha="center", bold=True, size=26)

    d.arrow(design.top(0.75), build.bottom(0.25))
    d.arrow(build.bottom(0.75), track.top(0.25))
    d.arrow(track.left(), design.right())
    d.arrow(track.right(), register.left(), "best\nmodel")
    d.arrow(register.right(), deploy.left())
    d.arrow(deploy.top(), monitor.bottom(), "serve")
    d.arrow(monitor.left(), retrain.right(), "drift")
    d.arrow(retrain.left(), build.right(), "back\nto Dev")
