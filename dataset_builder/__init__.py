"""Rebuild an MM-Skin-style dataset from textbook PDFs, stage by stage.

See docs/dataset_builder.md.

Stages, each reading the previous stage's files under one work folder and writing its own:
extract -> align -> modality -> demographics -> filter -> vqa -> write (+ statistics).
"""
