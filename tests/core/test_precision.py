"""bf16 and channels-last chosen from faked capabilities and fake probe timings (no real probe here)."""

from __future__ import annotations

import json

import torch

from tui_denoiser.core import precision, precision_probe
from tui_denoiser.core.config import ModelConfig, TrainConfig
from tui_denoiser.core.precision import Capabilities, choose_for_training, choose_precision, decide

AVX2_CPU = Capabilities("cpu", False, "AMD EPYC", 2, ("avx2",))
BF16_CPU = Capabilities("cpu", True, "AMD EPYC", 2, ("avx2", "avx512f", "avx512_bf16"))
BF16_GPU = Capabilities("cuda", True, "NVIDIA H200", 1, ("sm_90", "cuda 13.0"))
OLD_GPU = Capabilities("cuda", False, "Tesla T4", 1, ("sm_75", "cuda 12.1"))
MPS = Capabilities("mps", False, "arm64", 8)


class FakeProbe:
    """Seconds per step by variant name; records the variants each probe was asked for."""

    def __init__(self, **seconds: float):
        self.seconds = {name.replace("_", "+").replace("channels+last", "channels-last"): s
                        for name, s in seconds.items()}
        self.calls: list[list[str]] = []

    def __call__(self, device, model_config, batch_size, variants):
        names = [precision.variant_name(v) for v in variants]
        self.calls.append(names)
        return {name: self.seconds[name] for name in names}

    @property
    def probed(self) -> list[str]:
        return [name for call in self.calls for name in call]


def choose(caps, probe, tmp_path, **kwargs):
    return choose_precision("cpu", ModelConfig(), 128, capabilities=caps, probe=probe,
                            cache=tmp_path / "probe.json", **kwargs)


# -- the pure decision ------------------------------------------------------------------------------
def test_decide_no_native_bf16_is_off_whatever_the_timings():
    choice = decide(AVX2_CPU, {"fp32": 1.0, "bf16": 0.1, "fp32+channels-last": 1.0})
    assert not choice.bf16
    assert choice.bf16_reason == "bf16 off: this CPU has no native bf16"


def test_decide_native_but_slower_is_off():
    choice = decide(BF16_CPU, {"fp32": 1.0, "fp32+channels-last": 1.2, "bf16": 10.0, "bf16+channels-last": 9.0})
    assert (choice.bf16, choice.channels_last) == (False, False)
    assert choice.bf16_reason == "bf16 off: measured 0.10x fp32 on this CPU"
    assert choice.channels_last_reason == "channels-last off: measured 0.83x contiguous on this CPU"


def test_decide_native_and_faster_is_on():
    choice = decide(BF16_CPU, {"fp32": 1.0, "fp32+channels-last": 0.9, "bf16": 0.6, "bf16+channels-last": 0.55})
    assert (choice.bf16, choice.channels_last) == (True, True)
    assert choice.bf16_reason == "bf16 on: measured 1.64x fp32 on this CPU"
    assert choice.channels_last_reason == "channels-last on: measured 1.09x contiguous on this CPU"
    assert choice.line == f"{choice.bf16_reason}; {choice.channels_last_reason}"


def test_decide_within_the_margin_keeps_fp32_contiguous():
    choice = decide(BF16_CPU, {"fp32": 1.0, "fp32+channels-last": 0.97, "bf16": 0.98, "bf16+channels-last": 0.99})
    assert (choice.bf16, choice.channels_last) == (False, False)


def test_decide_without_timings_keeps_the_options_off():
    choice = decide(BF16_CPU, {})
    assert (choice.bf16, choice.channels_last) == (False, False)
    assert "not measured" in choice.bf16_reason


def test_decide_cuda():
    fast = decide(BF16_GPU, {"fp32": 1.0, "fp32+channels-last": 1.0, "bf16": 0.5, "bf16+channels-last": 0.6})
    assert (fast.bf16, fast.channels_last) == (True, False)
    assert fast.bf16_reason == "bf16 on: measured 2.00x fp32 on this GPU"
    old = decide(OLD_GPU, {"fp32": 1.0, "fp32+channels-last": 1.0})
    assert not old.bf16 and old.bf16_reason == "bf16 off: this GPU has no native bf16"


def test_decide_mps_is_off_without_probing():
    choice = decide(MPS, {})
    assert (choice.bf16, choice.channels_last) == (False, False)
    assert precision.candidates(MPS) == [(False, False)]


# -- the probe, the forcing and the cache -----------------------------------------------------------
def test_no_native_bf16_never_probes_bf16(tmp_path):
    probe = FakeProbe(fp32=1.0, fp32_channels_last=1.0)
    choice = choose(AVX2_CPU, probe, tmp_path)
    assert not choice.bf16 and choice.bf16_reason == "bf16 off: this CPU has no native bf16"
    assert probe.calls == [["fp32", "fp32+channels-last"]]


def test_no_probe_at_all_when_nothing_is_left_to_choose(tmp_path):
    probe = FakeProbe()
    choice = choose(AVX2_CPU, probe, tmp_path, requested_channels_last=False)
    assert (choice.bf16, choice.channels_last) == (False, False)
    assert choice.channels_last_reason == "channels-last forced off (--no-channels-last)"
    assert probe.calls == []


def test_native_but_probe_says_slower(tmp_path):
    probe = FakeProbe(fp32=1.0, fp32_channels_last=1.1, bf16=10.0, bf16_channels_last=12.0)
    choice = choose(BF16_CPU, probe, tmp_path)
    assert not choice.bf16 and not choice.channels_last
    assert probe.calls == [["fp32", "fp32+channels-last", "bf16", "bf16+channels-last"]]  # one probe, fp32 first


def test_native_and_faster(tmp_path):
    probe = FakeProbe(fp32=1.0, fp32_channels_last=1.0, bf16=0.58, bf16_channels_last=0.6)
    said: list[str] = []
    choice = choose(BF16_CPU, probe, tmp_path, on_probe=said.append)
    assert said == ["timing fp32, fp32+channels-last, bf16, bf16+channels-last on this CPU "
                    "(once for this machine, model and batch size)"]
    assert (choice.bf16, choice.channels_last) == (True, False)
    assert choice.bf16_reason == "bf16 on: measured 1.72x fp32 on this CPU"


def test_forced_both_skips_the_probe(tmp_path):
    probe = FakeProbe()
    on = choose(AVX2_CPU, probe, tmp_path, requested_bf16=True, requested_channels_last=True)
    assert (on.bf16, on.channels_last) == (True, True)
    assert on.bf16_reason == "bf16 forced on (--bf16; this CPU has no native bf16: expect it slower than fp32)"
    assert on.channels_last_reason == "channels-last forced on (--channels-last)"
    off = choose(BF16_CPU, probe, tmp_path, requested_bf16=False, requested_channels_last=False)
    assert off.bf16_reason == "bf16 forced off (--no-bf16)"
    assert probe.calls == []


def test_forced_bf16_still_probes_channels_last(tmp_path):
    probe = FakeProbe(bf16=1.0, bf16_channels_last=0.5)
    choice = choose(BF16_CPU, probe, tmp_path, requested_bf16=True)
    assert (choice.bf16, choice.channels_last) == (True, True)
    assert choice.bf16_reason == "bf16 forced on (--bf16)"
    assert choice.channels_last_reason == "channels-last on: measured 2.00x contiguous on this CPU"
    assert probe.calls == [["bf16", "bf16+channels-last"]]


def test_cuda_faked(tmp_path):
    probe = FakeProbe(fp32=1.0, fp32_channels_last=0.9, bf16=0.4, bf16_channels_last=0.5)
    choice = choose_precision("cuda", ModelConfig(), 128, capabilities=BF16_GPU, probe=probe,
                              cache=tmp_path / "probe.json")
    assert (choice.bf16, choice.channels_last) == (True, False)
    assert choice.bf16_reason == "bf16 on: measured 2.50x fp32 on this GPU"
    old = choose_precision("cuda", ModelConfig(), 128, capabilities=OLD_GPU,
                           probe=FakeProbe(fp32=1.0, fp32_channels_last=1.0), cache=tmp_path / "probe.json")
    assert old.bf16_reason == "bf16 off: this GPU has no native bf16"


def test_cache_hit_avoids_the_probe(tmp_path):
    first = FakeProbe(fp32=1.0, fp32_channels_last=1.0, bf16=0.5, bf16_channels_last=0.6)
    assert not choose(BF16_CPU, first, tmp_path).cached
    again, said = FakeProbe(), []
    choice = choose(BF16_CPU, again, tmp_path, on_probe=said.append)
    assert said == []  # nothing to wait for
    assert again.calls == [] and choice.cached and choice.bf16
    # another batch size, model or machine is another key: probed again
    other = FakeProbe(fp32=1.0, fp32_channels_last=1.0, bf16=2.0, bf16_channels_last=2.0)
    assert not choose_precision("cpu", ModelConfig(), 256, capabilities=BF16_CPU, probe=other,
                                cache=tmp_path / "probe.json").bf16
    assert len(other.probed) == 4
    assert len(json.loads((tmp_path / "probe.json").read_text())) == 2


def test_corrupt_cache_is_ignored_and_rewritten(tmp_path):
    path = tmp_path / "probe.json"
    path.write_text("{not json")
    probe = FakeProbe(fp32=1.0, fp32_channels_last=1.0, bf16=0.5, bf16_channels_last=0.6)
    assert choose(BF16_CPU, probe, tmp_path).bf16
    assert len(json.loads(path.read_text())) == 1
    # an entry of the wrong shape is ignored too
    key = next(iter(json.loads(path.read_text())))
    path.write_text(json.dumps({key: {"timings": {"fp32": "fast"}}}))
    probe.calls.clear()
    assert choose(BF16_CPU, probe, tmp_path).bf16 and len(probe.probed) == 4
    assert json.loads(path.read_text())[key]["timings"]["fp32"] == 1.0


def test_the_user_cache_is_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("DENOISER_TUI_HOME", str(tmp_path / "home"))
    probe = FakeProbe(fp32=1.0, fp32_channels_last=1.0)
    choose_precision("cpu", ModelConfig(), 128, capabilities=AVX2_CPU, probe=probe)
    assert (tmp_path / "home" / precision.CACHE_FILE).is_file()


def test_a_forced_option_names_what_forced_it(tmp_path):
    flags = choose(BF16_CPU, FakeProbe(), tmp_path, requested_bf16=False, requested_channels_last=True)
    assert flags.line == "bf16 forced off (--no-bf16); channels-last forced on (--channels-last)"
    form = choose(AVX2_CPU, FakeProbe(), tmp_path, requested_bf16=True, requested_channels_last=False,
                  forced_by="set on the form")
    assert form.line == ("bf16 forced on (set on the form; this CPU has no native bf16: expect it slower than fp32); "
                         "channels-last forced off (set on the form)")


def test_a_probe_that_fails_leaves_the_options_off_and_caches_nothing(tmp_path):
    def out_of_memory(*args):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    choice = choose(BF16_CPU, out_of_memory, tmp_path)
    assert (choice.bf16, choice.channels_last) == (False, False)
    assert choice.bf16_reason == ("bf16 off: not measured on this CPU "
                                  "(the probe failed: CUDA out of memory. Tried to allocate 2.00 GiB)")
    assert not (tmp_path / "probe.json").exists()


def test_choose_for_training_sets_the_config(tmp_path):
    probe = FakeProbe(fp32=1.0, fp32_channels_last=0.8, bf16=0.5, bf16_channels_last=0.4)
    train, choice = choose_for_training(ModelConfig(), TrainConfig(device="cpu", batch_size=64),
                                        capabilities=BF16_CPU, probe=probe, cache=tmp_path / "probe.json")
    assert (train.bf16, train.channels_last) == (True, True) == (choice.bf16, choice.channels_last)
    assert train.batch_size == 64


def test_capabilities_of_this_cpu():
    caps = precision.detect_capabilities(torch.device("cpu"))
    assert caps.device_type == "cpu" and caps.cores >= 1 and caps.machine
    assert caps.native_bf16 == precision.cpu_native_bf16()


class FakeRunner:
    """Stands in for a variant's model: its steps take the given seconds in turn, logged in order."""

    plan: dict[tuple[bool, bool], list[float]] = {}
    log: list[str] = []

    def __init__(self, device, model_config, batch_size, variant, lr):
        self.variant = variant
        self.times = iter(self.plan[variant])

    def timed_step(self) -> float:
        FakeRunner.log.append(precision.variant_name(self.variant))
        return next(self.times)


def test_probe_interleaves_takes_medians_and_gives_up_on_slow_variants(monkeypatch):
    monkeypatch.setattr(precision_probe, "_Runner", FakeRunner)
    FakeRunner.log = []
    FakeRunner.plan = {(False, False): [2.0, 1.0, 1.0, 9.0, 1.0, 1.2, 1.0],  # a load spike: the median ignores it
                       (False, True): [2.0, 0.9, 0.8, 0.8, 0.7, 0.8, 0.8],
                       (True, False): [20.0, 10.0]}  # emulated: stops after its second warm-up step
    variants = [(False, False), (False, True), (True, False)]
    timings = precision_probe.probe_timings(torch.device("cpu"), ModelConfig(), 128, variants, warmup=2, steps=5,
                                      max_seconds=None)
    assert timings == {"fp32": 1.0, "fp32+channels-last": 0.8, "bf16": 10.0}
    assert list(timings) == ["fp32", "fp32+channels-last", "bf16"]
    assert FakeRunner.log[:6] == ["fp32", "fp32+channels-last", "bf16"] * 2  # in turn
    assert FakeRunner.log[6:] == ["fp32", "fp32+channels-last"] * 5


def test_probe_is_short_on_slow_steps(monkeypatch):
    """5 s steps: one warm-up round (not 2) and 2 timed steps (not 5); an emulated bf16 at 10x the
    reference gives up at its first timed step."""
    monkeypatch.setattr(precision_probe, "_Runner", FakeRunner)
    FakeRunner.log = []
    FakeRunner.plan = {(False, False): [5.0] * 10, (True, False): [50.0] * 10}
    timings = precision_probe.probe_timings(torch.device("cpu"), ModelConfig(), 256, [(False, False), (True, False)],
                                      warmup=2, steps=5, max_seconds=2.0)
    assert FakeRunner.log == ["fp32", "bf16", "fp32", "bf16", "fp32"]
    assert timings == {"fp32": 5.0, "bf16": 50.0}


def test_the_real_probe_runs_a_tiny_model():
    """One real probe of a tiny model at batch 4 (a fraction of a second): positive step times."""
    tiny = ModelConfig(channels=(8, 8, 8), embed_dim=8)
    timings = precision_probe.probe_timings(torch.device("cpu"), tiny, 4, [(False, False), (False, True)],
                                      warmup=1, steps=1)
    assert set(timings) == {"fp32", "fp32+channels-last"} and all(t > 0 for t in timings.values())


def test_decide_an_option_that_does_not_pay_by_itself_stays_off():
    """bf16 pays; channels-last on top of it is only 3 % faster (within the margin): off."""
    choice = decide(BF16_CPU, {"fp32": 1.0, "fp32+channels-last": 0.75, "bf16": 0.56, "bf16+channels-last": 0.545})
    assert (choice.bf16, choice.channels_last) == (True, False)
    assert choice.channels_last_reason == ("channels-last off: measured 1.03x contiguous on this CPU"
                                           " (under the 5% margin)")
