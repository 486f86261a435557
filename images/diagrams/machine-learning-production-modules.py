"""The modules of a production ML system around the model, and where this kit covers
each one (lesson 12 introduction)."""

from tools.diagrams import Diagram


def draw(d: Diagram) -> None:
    """Draw the small model box among the larger modules."""
    d.title(
        "The model is a small part of a production ML system",
        "Every module around the ML code is needed too; each says where this kit covers it.",
    )
    top, middle, bottom = 1.55, 3.95, 6.35
    h = 2.05
    d.box(0.4, top, 3.6, h, "Configuration", "MLproject parameters\nlesson 11")
    d.box(4.27, top, 3.6, h, "Data collection", "CSV, SQL and JSON sources\nlesson 02")
    d.box(8.13, top, 3.6, h, "Data verification", "`utils.quality`\nlessons 02-03")
    d.box(12.0, top, 3.6, h, "Feature extraction", "scikit-learn pipeline\nlesson 05")

    d.box(0.4, middle, 5.0, h, "Machine resource\nmanagement", "server workers, scaling\nlesson 12")
    d.box(7.0, 4.5, 2.0, 0.95, "ML code", "the model", kind="accent")
    d.box(10.6, middle, 5.0, h, "Analysis tools", "MLflow UI, search_runs()\nlesson 07")

    d.box(0.4, bottom, 4.93, h, "Process management", "MLflow Projects\nlesson 11")
    d.box(5.53, bottom, 4.93, h, "Serving infrastructure", "`mlflow models serve`\nlesson 12")
    d.box(10.67, bottom, 4.93, h, "Monitoring", "drift, performance, alerts\nlesson 13")
