"""The one duration formatter the CLI and the app share."""

from tui_denoiser.core.formatting import format_duration


def test_format_duration():
    assert format_duration(0) == "0:00"
    assert format_duration(59.4) == "0:59"
    assert format_duration(61) == "1:01"
    assert format_duration(3600 + 62) == "1:01:02"
    assert format_duration(None) == format_duration(float("nan")) == format_duration(-1) == "-"
