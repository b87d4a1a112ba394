"""Tiny markdown table helper for the benchmark result files (no extra dependency)."""
from __future__ import annotations

import pandas as pd


def md_table(df: pd.DataFrame, fmt: str = ".3f") -> str:
    def cell(v: object) -> str:
        return format(v, fmt) if isinstance(v, float) else str(v)

    head = "| " + " | ".join(map(str, df.columns)) + " |"
    sep = "|" + "---|" * len(df.columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, sep, *body])
