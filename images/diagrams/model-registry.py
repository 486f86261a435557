"""Where the Model Registry fits: logged models become versions of a registered model,
aliases point at versions, and the deployment loads an alias (lesson 10, section 1)."""

from tools.diagrams import PALETTE, Diagram


def draw(d: Diagram) -> None:
    """Draw runs, versions, aliases and the deployment."""
    d.title(
        "The Model Registry: versions and aliases",
        "The deployment loads an alias; moving the alias promotes or rolls back a version "
        "without touching the application.",
    )
    d.frame(0.4, 1.5, 3.5, 5.5, "Training runs")
    runs = [
        d.box(
            0.6,
            2.1 + 1.6 * i,
            3.1,
            1.25,
            f"Run {i + 1}",
            "logs a model\n`models:/m-<id>`",
            "client",
        )
        for i in range(3)
    ]
    d.frame(4.7, 1.5, 4.1, 5.5, "Registered model: churn")
    details = ["tag: baseline", "tag: validated=true", "description: retrained"]
    versions = [
        d.box(4.9, 2.1 + 1.6 * i, 3.7, 1.25, f"Version {i + 1}", details[i], "mlflow")
        for i in range(3)
    ]
    for run, version in zip(runs, versions, strict=True):
        d.arrow(run.right(), version.left())

    champion = d.box(9.7, 3.7, 2.2, 1.25, "@champion", "alias", "accent")
    challenger = d.box(9.7, 5.3, 2.2, 1.25, "@challenger", "alias", "storage")
    d.arrow(champion.left(), versions[1].right())
    d.arrow(challenger.left(), versions[2].right())

    app = d.box(12.8, 3.45, 2.8, 1.75, "Deployment", "loads\n`models:/churn@champion`", "client")
    d.arrow(champion.right(), app.left(), "loads")

    d.note(
        9.7,
        2.25,
        "set_registered_model_alias()\nmoves an alias to another version",
        color=PALETTE["mlflow"].edge,
    )
    d.box(
        0.4,
        7.35,
        7.0,
        1.25,
        "Legacy stages: Staging / Production",
        "deprecated since MLflow 2.9: use aliases",
        "legacy",
    )
    d.box(
        7.9,
        7.35,
        7.7,
        1.25,
        "Promote between registries",
        "dev registry → prod registry with copy_model_version()",
        "mlflow",
    )
