"""jieba's dictionary as data, read once per process: the segmenter of the features and the common-word list of
the privacy masks both read it (one module below both, so neither imports the other)."""

from __future__ import annotations

from functools import cache

import pandas as pd


@cache
def jieba_table() -> pd.DataFrame:
    """jieba's main dictionary as a table (word, freq, tag), parsed once per process (pyarrow CSV)."""
    import jieba
    import pyarrow as pa
    import pyarrow.csv as pcsv

    with jieba.get_dict_file() as f:
        data = f.read()
    t = pcsv.read_csv(pa.py_buffer(data), read_options=pcsv.ReadOptions(column_names=["word", "freq", "tag"]),
                      parse_options=pcsv.ParseOptions(delimiter=" ", quote_char=False, invalid_row_handler=lambda r: "skip"),
                      convert_options=pcsv.ConvertOptions(column_types={"word": pa.string(), "freq": pa.int64(),
                                                                        "tag": pa.string()}))
    return t.to_pandas()
