"""``train`` takes bf16 and channels-last from the core's one decision: its first line says what was
chosen and why, the flags force it (no probe), a resume decides again, ``--nproc`` decides once in
the launcher. Faked capabilities and probe timings (tests/cli/conftest.py): no real probe runs."""

from __future__ import annotations

import platform

import pytest

from tui_denoiser.cli.main import main
from tui_denoiser.core import precision
from tui_denoiser.core.checkpoint import load_checkpoint
from tui_denoiser.core.precision import Capabilities
from tui_denoiser.core.training import distributed

from helpers.processes import start_train

AVX2_CPU = Capabilities("cpu", False, "test CPU", 2, ("avx2",))
BF16_CPU = Capabilities("cpu", True, "test CPU", 2, ("avx2", "avx512_bf16"))
PROBE_LINE = ("precision: timing fp32, fp32+channels-last on this CPU "
              "(once for this machine, model and batch size)…")


@pytest.fixture
def caps(monkeypatch):
    """Set the capabilities the core detects: ``caps(AVX2_CPU)``."""
    def use(capabilities: Capabilities) -> None:
        monkeypatch.setattr(precision, "detect_capabilities", lambda device: capabilities)

    use(AVX2_CPU)
    return use


def _train(run_dir, data_dir, *more: str) -> list[str]:
    return ["train", "--data-dir", str(data_dir), "--run-dir", str(run_dir), "--batch-size", "32",
            "--channels", "8,16,16", "--no-preview", "--no-eval", "--device", "cpu", "--max-steps", "1", *more]


def _saved(run_dir) -> tuple[bool, bool]:
    saved = load_checkpoint(run_dir / "last.pt")["train_config"]
    return saved["bf16"], saved["channels_last"]


def test_the_first_line_says_what_was_chosen_and_why_after_a_probe_once(tmp_path, tiny_data_dir, capsys,
                                                                         caps, fake_probe):
    fake_probe.seconds["fp32+channels-last"] = 0.8
    assert main(_train(tmp_path / "a", tiny_data_dir)) == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == PROBE_LINE
    assert lines[1] == ("precision: bf16 off: this CPU has no native bf16; "
                        "channels-last on: measured 1.25x contiguous on this CPU")
    assert lines[2].startswith("training on cpu (channels-last)")
    assert _saved(tmp_path / "a") == (False, True)
    # The probe's timings are cached: the next run's first line is the choice itself.
    assert main(_train(tmp_path / "b", tiny_data_dir)) == 0
    assert capsys.readouterr().err.splitlines()[0] == lines[1]
    assert fake_probe.calls == [["fp32", "fp32+channels-last"]]


def test_the_flags_force_the_choice_and_skip_the_probe(tmp_path, tiny_data_dir, capsys, caps, fake_probe):
    caps(BF16_CPU)
    assert main(_train(tmp_path / "a", tiny_data_dir, "--no-bf16", "--no-channels-last")) == 0
    assert capsys.readouterr().err.splitlines()[0] == \
        "precision: bf16 forced off (--no-bf16); channels-last forced off (--no-channels-last)"
    assert fake_probe.calls == [] and _saved(tmp_path / "a") == (False, False)
    # One flag: the other option alone is timed.
    assert main(_train(tmp_path / "b", tiny_data_dir, "--bf16")) == 0
    assert capsys.readouterr().err.splitlines()[1].startswith("precision: bf16 forced on (--bf16); channels-last")
    assert fake_probe.calls == [["bf16", "bf16+channels-last"]]


def test_a_resume_decides_again_unless_a_flag_is_given(tmp_path, tiny_data_dir, capsys, caps, fake_probe):
    run_dir = tmp_path / "run"
    # A run begun with bf16 + channels-last (as the old CPU default did) on a CPU without native bf16...
    assert main(_train(run_dir, tiny_data_dir, "--bf16", "--channels-last")) == 0
    assert _saved(run_dir) == (True, True)
    capsys.readouterr()
    # ...goes on in what this machine runs best.
    assert main(["train", "--resume", str(run_dir), "--max-steps", "2", "--no-eval"]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == PROBE_LINE
    assert lines[1] == ("precision: bf16 off: this CPU has no native bf16; "
                        "channels-last off: measured 1.00x contiguous on this CPU")
    assert lines[2].startswith("resuming on cpu ->")
    assert _saved(run_dir) == (False, False)
    assert load_checkpoint(run_dir / "last.pt")["global_step"] == 2
    # A flag given with --resume forces it again.
    assert main(["train", "--resume", str(run_dir), "--max-steps", "3", "--no-eval", "--bf16"]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines[1].startswith("precision: bf16 forced on (--bf16; this CPU has no native bf16: expect it slower")
    assert _saved(run_dir) == (True, False)
    assert fake_probe.calls == [["fp32", "fp32+channels-last"], ["bf16", "bf16+channels-last"]]


def test_nproc_decides_once_in_the_launcher_and_hands_the_flags_on(tmp_path, tiny_data_dir, capsys, caps,
                                                                     fake_probe, monkeypatch):
    launched: list[list[str]] = []
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the launcher would set it for the processes
    monkeypatch.setattr(distributed, "launch", lambda nproc, argv: launched.append(argv) or distributed.LaunchOutcome())
    fake_probe.seconds["fp32+channels-last"] = 0.5
    assert main([*_train(tmp_path / "run", tiny_data_dir), "--nproc", "2"]) == 0
    assert capsys.readouterr().err.splitlines() == [
        PROBE_LINE,
        "precision: bf16 off: this CPU has no native bf16; channels-last on: measured 2.00x contiguous on this CPU"]
    assert fake_probe.batch_sizes == [16]  # each process's share of the batch
    assert launched[0][-2:] == ["--no-bf16", "--channels-last"] and "--nproc" not in launched[0]


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="ONEDNN_MAX_CPU_ISA=AVX2 is an x86 cap")
def test_a_real_cpu_capped_at_avx2_trains_in_fp32(tmp_path, tiny_data_dir):
    """Nothing faked: oneDNN capped at AVX2 (no native bf16, as on the plain AVX2 CPU where bf16 ran 10x
    slower) makes the real detection and probe choose fp32, on any x86 CPU, bf16-capable or not."""
    proc = start_train(_train(tmp_path / "run", tiny_data_dir)[1:], tmp_path / "home",
                       extra_env={"ONEDNN_MAX_CPU_ISA": "AVX2", "CUDA_VISIBLE_DEVICES": ""})
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    precision_line = next(line for line in err.splitlines() if line.startswith("precision: bf16"))
    assert precision_line.startswith("precision: bf16 off: this CPU has no native bf16; channels-last "), err
    assert _saved(tmp_path / "run")[0] is False
