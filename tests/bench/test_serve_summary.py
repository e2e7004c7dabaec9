from collections import Counter

import numpy as np

from genrec.bench.serve import LoadResult, summarize


def test_summary_says_which_errors_a_point_had():
    result = LoadResult(np.arange(1.0, 11.0), Counter({200: 7, 429: 2, 599: 1}), 0, 2.0, 12)
    row = summarize(result)
    assert (row["requests"], row["ok"], row["errors"]) == (10, 7, 3)
    assert row["error_statuses"] == {"429": 2, "599": 1}
    assert row["rps"] == 3.5  # answered requests only
