import numpy as np
import pandas as pd

from forecast import schema as S
from forecast.paths import SamplePaths, paths_from_quantiles


def _fc():
    ds = pd.date_range("2025-01-01", periods=3, freq="MS")
    fc = pd.DataFrame({S.UID: "a", S.DS: ds, S.MODEL: "x", S.MEAN: 10.0})
    for q, v in zip(S.QUANTILE_LEVELS, [4, 6, 8, 10, 12, 14, 16]):
        fc[S.qcol(q)] = float(v)
    return fc


def test_paths_reproduce_the_quantiles_and_round_trip(tmp_path):
    p = paths_from_quantiles(_fc(), n_samples=4000, seed=1)
    assert p.values.shape == (1, 4000, 3) and (p.values >= 0).all()
    assert np.allclose(p.quantiles()[0, :, 0], [4, 6, 8, 10, 12, 14, 16], atol=0.4)
    # months move together: the total's spread is wider than independent months would give
    tot = p.totals()[0]
    assert tot.std() > np.sqrt(3) * p.values[0, :, 0].std()
    back = SamplePaths.load(p.save(tmp_path / "p.npz"))
    assert np.array_equal(back.values, p.values) and list(back.unique_ids) == ["a"] and back.ds.equals(p.ds)
