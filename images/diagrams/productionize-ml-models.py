"""The machine learning lifecycle of the course, from a business question to a model in
production, and what MLflow records at each stage (lessons 01, 12 and 16)."""

from tools.diagrams import PALETTE, Diagram

RECORDS = PALETTE["mlflow"].edge


def draw(d: Diagram) -> None:
    """Draw the seven stages, the two phases and the retraining loops."""
    d.title(
        "From a business question to a model in production",
        "The seven stages of the course; above each stage, in blue, what MLflow records there.",
    )
    d.frame(0.4, 1.45, 9.55, 3.35, "Development (experiments)")
    d.frame(10.2, 1.45, 5.4, 6.75, "Production (operations)")

    row, h, w = 2.75, 1.75, 1.95
    business = d.box(0.6, row, w, h, "Business\nunderstanding", "lesson 01")
    acquisition = d.box(3.0, row, w, h, "Data\nacquisition", "lesson 02")
    processing = d.box(5.4, row, w, h, "Data\nprocessing", "lessons 03-05")
    building = d.box(7.8, row, w, h, "Model\nbuilding", "lessons 06-07")
    deployment = d.box(10.45, row, w, h, "Model\ndeployment", "lesson 12")
    monitoring = d.box(13.45, row, w, h, "Monitoring &\nmaintenance", "lesson 13")
    retraining = d.box(13.45, 5.5, w, 1.6, "Retraining", "lesson 14")

    d.note(1.575, 2.3, "charter tags", ha="center", color=RECORDS)
    d.note(3.975, 2.3, "dataset inputs", ha="center", color=RECORDS)
    d.note(6.375, 2.3, "figures, steps", ha="center", color=RECORDS)
    d.note(8.775, 2.3, "runs, models", ha="center", color=RECORDS)
    d.note(11.425, 2.3, "registered model,\nserved endpoint", ha="center", color=RECORDS)
    d.note(14.425, 2.3, "monitoring\nmetrics", ha="center", color=RECORDS)
    d.note(14.425, 7.6, "new version,\n@challenger", ha="center", color=RECORDS)

    d.arrow(business.right(), acquisition.left())
    d.arrow(acquisition.right(), processing.left())
    d.arrow(processing.right(), building.left())
    d.arrow(building.right(), deployment.left())
    d.arrow(deployment.right(), monitoring.left())
    d.arrow(monitoring.bottom(), retraining.top(), "drift or\ndecay", label_at=(14.425, 5.0))
    d.arrow(
        retraining.left(0.3),
        deployment.bottom(),
        "promote if it\nbeats the champion",
        via=((11.425, 5.98),),
        label_at=(11.425, 5.15),
    )
    d.arrow(
        retraining.left(0.75),
        building.bottom(),
        "retrain on recent data: a new model version",
        via=((8.775, 6.7),),
        label_at=(11.1, 6.7),
    )
    d.note(
        0.6,
        6.2,
        "Development: many experiments,\ntracked and compared.\n"
        "Production: one served model,\nwatched, then replaced.",
    )
