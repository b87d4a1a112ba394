"""Readers: one module per input format, all returning canonical frames plus rejects.

Every input record ends in exactly one place: accepted, or rejected with its file, record number,
field and reason (duplicates are marked later, in the store). :mod:`forecast.ingest.formats` says
which reader reads which file.
"""
from __future__ import annotations

from forecast.ingest.common import Reject, RejectError, ReadResult, expand_paths
from forecast.ingest.lheo import read_lheo
from forecast.ingest.offers_json import iter_offer_batches, read_offers_json

__all__ = ["Reject", "RejectError", "ReadResult", "expand_paths", "iter_offer_batches", "read_lheo",
           "read_offers_json"]
