"""The command line through main([...]): train, sample, info, export, and every bad input as one line + exit 2."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from tui_denoiser.cli import commands as cli_commands
from tui_denoiser.cli import train as cli_train
from tui_denoiser.cli.args import flag_of
from tui_denoiser.cli.main import build_parser, main
from tui_denoiser.core.config import SAMPLER_NAMES
from tui_denoiser.core.sampling_policy import KEEP
from tui_denoiser.core.checkpoint import load_checkpoint
from tui_denoiser.core.config import ModelConfig, TrainConfig
from tui_denoiser.core.data import load_split
from tui_denoiser.core.training import Trainer


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, tiny_data_dir):
    """A tiny model trained for two steps (a sampling checkpoint for the CLI)."""
    torch.set_num_threads(1)
    data = (*load_split("mnist", tiny_data_dir, train=True), *load_split("mnist", tiny_data_dir, train=False))
    run_dir = tmp_path_factory.mktemp("cli-run")
    result = Trainer(ModelConfig(channels=(8, 16, 16)),
                     TrainConfig(batch_size=32, epochs=1, max_steps=2, device="cpu", preview=False, noise_levels=4),
                     run_dir=run_dir, data=data).run()
    assert result.kind == "finished"
    return run_dir / "last.pt"


def _one_error_line(capsys, rc, *words):
    out, err = capsys.readouterr()
    assert rc == 2, (out, err)
    lines = err.splitlines()
    assert len(lines) == 1 and err.endswith("\n"), err
    assert lines[0].startswith("denoiser-tui")
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_train_writes_checkpoint_and_metrics_then_resumes(tmp_path, tiny_data_dir, capsys):
    run_dir = tmp_path / "run"
    args = ["train", "--data-dir", str(tiny_data_dir), "--run-dir", str(run_dir), "--batch-size", "32",
            "--channels", "8,16,16", "--no-preview", "--device", "cpu", "--seed", "1"]
    assert main([*args, "--max-steps", "3"]) == 0
    assert (run_dir / "last.pt").is_file()
    events = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert events[0]["kind"] == "started" and events[-1]["kind"] == "finished"
    assert events[-1]["global_step"] == 3 and events[-1]["stopped"] is True
    payload = load_checkpoint(run_dir / "last.pt")
    assert payload["model_config"]["channels"] == [8, 16, 16] and payload["train_config"]["seed"] == 1
    assert payload["train_config"]["level_draw"] == "log-normal"  # the original recipe's
    # The precision is the core's choice (tests/cli/conftest.py fakes a probe where nothing pays: fp32).
    assert payload["train_config"]["bf16"] is False and payload["train_config"]["channels_last"] is False
    err = capsys.readouterr().err
    assert err.splitlines()[0].startswith("precision: ")
    assert "resume with: denoiser-tui train --resume" in err

    assert main(["train", "--resume", str(run_dir), "--max-steps", "5"]) == 0
    assert load_checkpoint(run_dir / "last.pt")["global_step"] == 5
    capsys.readouterr()

    forced = tmp_path / "forced"
    assert main([*args[:4], str(forced), *args[5:], "--max-steps", "1", "--bf16", "--channels-last",
                 "--level-draw", "uniform", "--level-spread", "0.5"]) == 0
    saved = load_checkpoint(forced / "last.pt")["train_config"]
    assert saved["bf16"] is True and saved["channels_last"] is True and saved["level_draw"] == "uniform"
    assert saved["level_spread"] == 0.5
    assert "(bf16 + channels-last)" in capsys.readouterr().err

    # The same folder again without --resume is refused.
    _one_error_line(capsys, main([*args, "--max-steps", "3"]), "already holds a run")


@pytest.mark.parametrize("suffix", [".png", ".gif", ".npy"])
def test_sample_to_each_suffix(tmp_path, checkpoint, capsys, suffix):
    out = tmp_path / f"digits{suffix}"
    rc = main(["sample", "--digit", "7", "--count", "3", "--steps", "2", "--checkpoint", str(checkpoint),
                   "--out", str(out), "--seed", "4"])
    assert rc == 0
    assert f"wrote {out}" in capsys.readouterr().out
    if suffix == ".npy":
        arr = np.load(out)
        assert arr.dtype == np.uint8 and arr.shape == (3, 28, 28)
    elif suffix == ".gif":
        with Image.open(out) as im:
            assert im.n_frames == 3  # steps + 1
    else:
        with Image.open(out) as im:
            assert im.size == (3 * 30 + 2, 32)


def test_sample_is_seeded(tmp_path, checkpoint):
    base = ["sample", "--digit", "2", "--count", "2", "--steps", "2", "--checkpoint", str(checkpoint)]
    for name, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        assert main([*base, "--seed", seed, "--out", str(tmp_path / f"{name}.npy")]) == 0
    a, b, c = (np.load(tmp_path / f"{n}.npy") for n in "abc")
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_sample_with_a_guide_model(tmp_path, checkpoint, capsys):
    base = ["sample", "--digit", "2", "--count", "2", "--steps", "2", "--checkpoint", str(checkpoint),
            "--guidance", "2"]
    assert main([*base, "--out", str(tmp_path / "cfg.npy")]) == 0
    assert main([*base, "--guide", str(checkpoint), "--out", str(tmp_path / "auto.npy")]) == 0
    cfg, auto = np.load(tmp_path / "cfg.npy"), np.load(tmp_path / "auto.npy")
    assert not np.array_equal(cfg, auto)  # the guide replaced the null label
    capsys.readouterr()
    bad = tmp_path / "not-a-model.pt"
    bad.write_bytes(b"not a checkpoint")
    _one_error_line(capsys, main([*base, "--guide", str(bad), "--out", str(tmp_path / "x.npy")]), str(bad))


def test_sample_strip(tmp_path, checkpoint):
    out = tmp_path / "strip.png"
    assert main(["sample", "--digit", "0", "--count", "2", "--steps", "3", "--sampler", "euler",
                     "--checkpoint", str(checkpoint), "--out", str(out), "--strip"]) == 0
    with Image.open(out) as im:
        assert im.size == (4 * 30 + 2, 2 * 30 + 2)  # steps + 1 columns, one row per sample


def test_info(checkpoint, capsys):
    assert main(["info", str(checkpoint)]) == 0
    out = capsys.readouterr().out
    assert "global step 2" in out and "parameters" in out and "model config" in out and "train config" in out


def test_export(tmp_path, checkpoint, capsys):
    out = tmp_path / "small.pt"
    assert main(["export", str(checkpoint), str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    slim = load_checkpoint(out)
    assert "optimizer" not in slim and slim["ema"] is None
    _one_error_line(capsys, main(["export", str(out), str(out)]), "overwrite")
    _one_error_line(capsys, main(["export", str(tmp_path / "missing.pt"), str(tmp_path / "x.pt")]),
                    "not found")


@pytest.mark.parametrize("argv, words", [
    (["sample", "--digit", "12", "--out", "{tmp}/x.png"], ["digit must be 0..9"]),
    (["sample", "--digit", "three", "--out", "{tmp}/x.png"], ["digit"]),
    (["sample", "--digit", "3", "--steps", "0", "--out", "{tmp}/x.png"], ["--steps"]),
    (["sample", "--digit", "3", "--count", "-2", "--out", "{tmp}/x.png"], ["--count"]),
    (["sample", "--digit", "3", "--checkpoint", "{tmp}/missing.pt", "--out", "{tmp}/x.png"], ["not found"]),
    (["sample", "--digit", "3", "--checkpoint", "{ckpt}", "--out", "{tmp}/x.bmp"], ["--out must end in"]),
    (["sample", "--digit", "3", "--checkpoint", "{ckpt}", "--out", "{tmp}/x.gif", "--strip"], ["--strip"]),
    (["sample", "--digit", "3", "--checkpoint", "{ckpt}", "--out", "{tmp}/no/such/x.png"], ["does not exist"]),
    (["sample", "--digit", "3", "--checkpoint", "{ckpt}", "--out", "{tmp}/x.png", "--sampler", "magic"],
     ["unknown sampler"]),
    (["sample", "--digit", "3", "--checkpoint", "{ckpt}", "--out", "{tmp}/x.png", "--guidance", "50"],
     ["guidance"]),
    (["sample", "--digit", "3", "--out", "{tmp}/x.png", "--guidance", "nan"], ["finite"]),
    (["sample", "--out", "{tmp}/x.png"], ["--digit"]),
    (["sample", "--digit", "3", "--out", "{tmp}/x.png", "--max-calls", "0"], ["--max-calls", "positive"]),
    (["sample", "--digit", "3", "--out", "{tmp}/x.png", "--max-calls", "-4"], ["--max-calls", "positive"]),
    (["sample", "--digit", "3", "--out", "{tmp}/x.png", "--max-calls", "2.5"], ["--max-calls", "positive"]),
    (["sample", "--digit", "3", "--checkpoint", "{ckpt}", "--out", "{tmp}/x.png", "--max-calls", "4", "--steps",
      "9"], ["--max-calls", "--steps"]),
    (["eval", "--max-calls", "0"], ["--max-calls", "positive"]),
    (["eval", "--max-calls", "four"], ["--max-calls", "positive"]),
    (["eval", "--max-calls", "4", "--guidance", "2"], ["--max-calls", "--guidance"]),
    (["sample", "--digit", "3", "--checkpoint", "{tmp}", "--out", "{tmp}/x.png"], ["folder"]),
    (["info", "{tmp}/missing.pt"], ["not found"]),
    (["info", "{tmp}/notes.pt"], ["{tmp}/notes.pt"]),
    (["train", "--epochs", "0"], ["--epochs"]),
    (["train", "--lr", "2"], ["lr must be"]),
    (["train", "--lr", "inf"], ["--lr"]),
    (["train", "--recipe", "fancy"], ["--recipe"]),
    (["train", "--channels", "8,16"], ["--channels"]),
    (["train", "--ema", "1.5"], ["ema decay"]),
    (["train", "--resume", "{tmp}/no-run"], ["{tmp}/no-run"]),
    (["train", "--bogus"], ["unrecognized"]),
    (["frobnicate"], ["invalid choice"]),
])
def test_bad_input_is_one_stderr_line_and_exit_2(tmp_path, checkpoint, capsys, argv, words):
    (tmp_path / "notes.pt").write_text("not a checkpoint")
    fill = {"tmp": str(tmp_path), "ckpt": str(checkpoint)}
    argv = [a.format(**fill) for a in argv]
    _one_error_line(capsys, main(argv), *[w.format(**fill) for w in words])
    assert not (tmp_path / "x.png").exists()


# -- property-based: argument parsing alone (the commands are stubbed) ------------------------------------
SAMPLE_OPTIONS = ["--digit", "--count", "--seed", "--checkpoint", "--out", "--strip", "--sampler", "--steps",
                  "--guidance", "--guidance-interval", "--start", "--device", "--max-calls"]
TRAIN_OPTIONS = ["--recipe", "--dataset", "--data-dir", "--run-dir", "--epochs", "--batch-size", "--lr",
                 "--steps", "--noise-levels", "--step-size", "--gamma", "--seed", "--device", "--max-steps", "--resume",
                 "--channels", "--res-blocks", "--noise", "--level-draw", "--label-dropout", "--ema", "--bf16", "--no-bf16",
                 "--channels-last", "--preview", "--no-preview"]
_values = st.one_of(
    st.text(max_size=6),
    st.integers(min_value=-20, max_value=2000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "inf", "-1", "1e3", "0", "8,16,16", "1,2", "a.png", "b.gif", "c.npy", "cpu", "tpu",
                     "edm", "original", "heun", "mnist", "continuous", "--", "-", "=", "--out=x.png", "all",
                     "0.3,10", "10,0.3", "1,2,3", "dpm2m", "matched", "uniform", "log-normal"]),
)


def _argv(options):
    token = st.one_of(st.sampled_from(options), st.sampled_from(options).flatmap(
        lambda o: _values.map(lambda v: f"{o}={v}")), _values)
    return st.lists(token, max_size=8)


def _run_main(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


def _check_parse(argv, seen):
    assume(not any(a.startswith(("-h", "--h")) for a in argv))  # help prints usage and exits 0
    seen.clear()
    rc, out, err = _run_main(argv)
    if rc == 0:
        assert err == "" and len(seen) == 1
        return seen[0]
    assert rc == 2, (argv, rc, err)
    assert len(err.splitlines()) == 1 and err.endswith("\n"), (argv, err)
    assert not seen
    return None


@pytest.fixture
def stub_commands(monkeypatch):
    seen: list = []

    def stub(args):
        seen.append(args)
        return 0

    monkeypatch.setattr(cli_commands, "cmd_sample", stub)
    monkeypatch.setattr(cli_train, "cmd_train", stub)
    return seen


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=st.booleans(), rest=_argv(SAMPLE_OPTIONS))
def test_sample_argument_parsing_property(stub_commands, prefix, rest):
    argv = ["sample", *(["--digit", "3", "--out", "a.png"] if prefix else []), *rest]
    args = _check_parse(argv, stub_commands)
    if args is not None:
        assert 0 <= args.digit <= 9 and args.count >= 1 and args.seed >= 0
        assert args.steps is None or args.steps >= 1
        assert args.guidance is None or np.isfinite(args.guidance)  # None: the model's default
        interval = args.guidance_interval  # KEEP: the model's; None: every level
        assert interval is KEEP or interval is None or 0 <= interval[0] <= interval[1] < float("inf")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rest=_argv(TRAIN_OPTIONS))
def test_train_argument_parsing_property(stub_commands, rest):
    args = _check_parse(["train", *rest], stub_commands)
    if args is not None:
        for name in ("epochs", "batch_size", "noise_levels", "step_size", "max_steps"):
            value = getattr(args, name)
            assert value is None or value >= 1
        assert args.lr is None or np.isfinite(args.lr)
        assert args.channels is None or (len(args.channels) == 3 and min(args.channels) >= 1)


def test_eval_prints_the_report_and_writes_json(tmp_path, checkpoint, tiny_data_dir, capsys):
    out = tmp_path / "report.json"
    rc = main(["eval", "--checkpoint", str(checkpoint), "--per-digit", "2", "--data-dir", str(tiny_data_dir),
                   "--json", str(out)])
    text = capsys.readouterr().out
    assert rc == 0
    assert "accuracy" in text.lower() and "frechet" in text.lower()
    report = json.loads(out.read_text())
    assert report["num_samples"] == 20 and 0.0 <= report["accuracy"] <= 1.0
    assert report["sampler"] == "seed" and report["guidance"] == 1.0


def test_sample_start_matched_changes_the_starting_noise(tmp_path, checkpoint, capsys):
    outs = {}
    for start in ("pure", "matched"):
        outs[start] = tmp_path / f"{start}.npy"
        assert main(["sample", "--digit", "1", "--count", "2", "--checkpoint", str(checkpoint), "--steps", "1",
                         "--start", start, "--out", str(outs[start])]) == 0
    assert not np.array_equal(np.load(outs["pure"]), np.load(outs["matched"]))


def test_sample_and_eval_help_name_every_sampler_and_the_guidance_interval(capsys):
    for command in ("sample", "eval"):
        with pytest.raises(SystemExit):
            build_parser().parse_args([command, "--help"])
        text = capsys.readouterr().out
        assert all(name in text for name in SAMPLER_NAMES) and "--guidance-interval" in text


def test_guidance_interval_from_the_command_line(tmp_path, checkpoint, capsys):
    parse = build_parser().parse_args
    assert parse(["sample", "--digit", "1", "--out", "a.png"]).guidance_interval is KEEP
    assert parse(["sample", "--digit", "1", "--out", "a.png", "--guidance-interval", "0.3,10"]).guidance_interval == (
        0.3, 10.0)
    assert parse(["eval", "--guidance-interval", "all"]).guidance_interval is None
    for bad in ("10,0.3", "1", "a,b", "-1,2", "0,inf"):
        argv = ["sample", "--digit", "1", "--out", str(tmp_path / "x.png"), "--guidance-interval", bad]
        _one_error_line(capsys, main(argv), "--guidance-interval")
    # Guidance 2 inside a range that holds no level costs one call a step, as unguided sampling does.
    outs = {}
    for name, interval in (("plain", []), ("outside", ["--guidance", "2", "--guidance-interval", "50,60"]),
                           ("guided", ["--guidance", "2", "--guidance-interval", "all"])):
        outs[name] = tmp_path / f"{name}.npy"
        assert main(["sample", "--digit", "4", "--count", "2", "--checkpoint", str(checkpoint), "--steps", "2",
                         *interval, "--out", str(outs[name])]) == 0
    assert np.array_equal(np.load(outs["plain"]), np.load(outs["outside"]))
    assert not np.array_equal(np.load(outs["plain"]), np.load(outs["guided"]))


def test_a_core_error_is_worded_with_the_flag_that_sets_it(capsys, monkeypatch):
    from tui_denoiser.core import devices
    from tui_denoiser.core.errors import UserError

    def no_gpu(requested="auto"):
        raise UserError("{field} cuda was asked for, but no CUDA GPU is available here", field="device", value="cuda")

    monkeypatch.setattr(devices, "pick_device", no_gpu)
    line = _one_error_line(capsys, main(["sample", "--digit", "1", "--out", "x.png", "--device", "cuda"]))
    assert line.endswith("error: --device cuda was asked for, but no CUDA GPU is available here")
    assert flag_of("ema_decay") == "--ema" and flag_of("batch_size") == "--batch-size"


def test_sample_max_calls_picks_a_setting_within_the_budget(tmp_path, checkpoint, capsys, monkeypatch):
    from tui_denoiser.core import sampling as sampling_mod

    seen = []
    real = sampling_mod.sample

    def spy(model, labels, config, **kw):
        for step in real(model, labels, config, **kw):
            seen.append(step.model_calls)
            yield step

    monkeypatch.setattr("tui_denoiser.core.inference.sample", spy)
    out = tmp_path / "x.npy"
    assert main(["sample", "--digit", "3", "--count", "2", "--checkpoint", str(checkpoint), "--out", str(out),
                     "--max-calls", "3"]) == 0
    assert np.load(out).shape[0] >= 2 and 1 <= seen[-1] <= 3


def test_a_shipped_model_is_named_with_shipped_colon(tmp_path, capsys):
    from tui_denoiser.core import paths

    assert main(["info", "shipped:seed"]) == 0
    assert str(paths.SEED_MODEL) in capsys.readouterr().out
    _one_error_line(capsys, main(["sample", "--digit", "1", "--checkpoint", "shipped:nope",
                                  "--out", str(tmp_path / "x.png")]), "no shipped model 'nope'")
    assert not (tmp_path / "x.png").exists()
