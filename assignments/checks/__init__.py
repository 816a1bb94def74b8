"""The checks of each assignment, one module per assignment, each with a ``checklist``.

Public checks run with a fixed seed and few examples, so that a student's self-check is
repeatable; hidden ones use other seeds, more examples and edge cases.  Every formula is
compared with a reference written here in plain numpy, which a submission cannot reach
through ``layers`` or the solutions (the checklists forbid running their code).
"""
