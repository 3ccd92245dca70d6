"""StatisticsGen samples logs above STATISTICS_EXAMPLES rows."""

from cdnrec.pipeline import data_size


def test_large_logs_are_sampled(tmp_path, monkeypatch):
  (tmp_path / "log.inter").write_text("user_id:token\titem_id:token\n" +
                                      "u1\ti1\n" * 2000)
  (tmp_path / "log.item").write_text("item_id:token\ni1\n")
  assert abs(data_size.estimated_rows(str(tmp_path)) - 2001) <= 1
  assert data_size.statistics_sample_rate(str(tmp_path)) is None
  monkeypatch.setattr(data_size, "STATISTICS_EXAMPLES", 100)
  assert 0.049 < data_size.statistics_sample_rate(str(tmp_path)) < 0.051
  assert data_size.statistics_sample_rate("gs://bucket/logs") is None
